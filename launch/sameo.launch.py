"""Launch sameo_node with its parameter file, a namespace and remappable topics.

  ros2 launch sameo_ros sameo.launch.py checkpoint:=/path/sameo.pt image:=/camera/image_raw \
      detections:=/detector/detections

Outputs: /sameo/amodal_masks (AmodalMaskArray); debug_image and stats inside `namespace`.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription

TOPICS = ("image", "detections", "amodal_masks", "debug_image")
OVERRIDES = ("checkpoint", "device")  # parameters a non-empty launch argument overrides

ARGUMENTS = (
    (
        "params_file",
        PathJoinSubstitution([FindPackageShare("sameo_ros"), "config", "sameo.yaml"]),
        "YAML file with the node's parameters",
    ),
    ("namespace", "sameo", "namespace of the node and of its relative topics"),
    ("checkpoint", "", "SAMEO checkpoint; overrides the parameter file when not empty"),
    (
        "device",
        "",
        "torch device (cpu, cuda, cuda:N); overrides the parameter file when not empty",
    ),
    ("image", "image", "image topic to subscribe to"),
    ("detections", "detections", "Detection2DArray topic with the prompt boxes"),
    ("amodal_masks", "/sameo/amodal_masks", "where the AmodalMaskArray output goes"),
    ("debug_image", "debug_image", "where the overlay image goes"),
)


def _node(context: LaunchContext) -> list[Node]:
    overrides = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDES}
    return [
        Node(
            package="sameo_ros",
            executable="sameo_node",
            name="sameo",
            namespace=LaunchConfiguration("namespace"),
            parameters=[
                LaunchConfiguration("params_file"),
                {name: value for name, value in overrides.items() if value},
            ],
            remappings=[(topic, LaunchConfiguration(topic)) for topic in TOPICS],
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_node)])
