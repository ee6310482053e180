"""Launch sameo_node with its parameter file, a namespace and remappable topics.

  ros2 launch sameo_ros sameo.launch.py checkpoint:=/path/sameo.pt image:=/camera/image_raw \
      detections:=/detector/detections

Outputs: /sameo/amodal_masks (AmodalMaskArray); debug_image, stats and the segment service inside
`namespace`; /diagnostics. depth:=true adds the RGB-D inputs depth (16UC1 / 32FC1, registered
to the colour image) and camera_info, and the output detections_3d (vision_msgs/Detection3DArray).
image_transport:=compressed subscribes to <image>/compressed
(sensor_msgs/CompressedImage). managed:=true starts the lifecycle node unconfigured, for a
lifecycle manager (or `ros2 lifecycle set`) to configure and activate; otherwise it activates
itself. `ros2 launch sameo_ros sameo.launch.py --show-args` lists the arguments.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription

TOPICS = ("image", "detections", "amodal_masks", "debug_image", "depth", "camera_info",
          "detections_3d")  # the node's relative names
OVERRIDES = ("checkpoint", "device", "image_transport", "depth")  # set when not empty

# The launch argument `depth` is the parameter; the depth topic's argument is `depth_image`.
REMAP_ARGUMENTS = {"depth": "depth_image"}

ARGUMENTS = (
    (
        "params_file",
        PathJoinSubstitution([FindPackageShare("sameo_ros"), "config", "sameo.yaml"]),
        "YAML file with the node's parameters",
    ),
    ("namespace", "sameo", "namespace of the node and of its relative topics"),
    ("checkpoint", "", "SAMEO checkpoint; overrides the parameter file when not empty"),
    ("device", "", "torch device (cpu, cuda, cuda:N); overrides the parameter file if not empty"),
    ("image_transport", "", "raw or compressed; overrides the parameter file when not empty"),
    ("depth", "", "true: RGB-D (depth + camera_info in, detections_3d out); overrides the "
     "parameter file when not empty"),
    ("managed", "false", "true: a lifecycle node waiting to be configured and activated"),
    ("image", "image", "image topic to subscribe to (its /compressed with compressed transport)"),
    ("detections", "detections", "Detection2DArray topic with the prompt boxes"),
    ("amodal_masks", "/sameo/amodal_masks", "where the AmodalMaskArray output goes"),
    ("debug_image", "debug_image", "where the overlay image goes"),
    ("depth_image", "depth", "depth image topic registered to image (with depth:=true)"),
    ("camera_info", "camera_info", "CameraInfo topic of the colour camera (with depth:=true)"),
    ("detections_3d", "detections_3d", "where the Detection3DArray output goes (depth:=true)"),
)


def _node(context: LaunchContext) -> list[Node]:
    values = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDES}
    managed = LaunchConfiguration("managed").perform(context).lower() in ("true", "1", "yes")
    overrides: dict[str, object] = {name: value for name, value in values.items() if value}
    if "depth" in overrides:
        overrides["depth"] = str(overrides["depth"]).lower() in ("true", "1", "yes")
    overrides["managed"] = managed
    action = LifecycleNode if managed else Node
    return [
        action(
            package="sameo_ros",
            executable="sameo_node",
            name="sameo",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("params_file"), overrides],
            remappings=[(topic, LaunchConfiguration(REMAP_ARGUMENTS.get(topic, topic)))
                        for topic in TOPICS],
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
