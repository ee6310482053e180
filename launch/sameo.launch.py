"""Launch sameo_node with its parameter file, a namespace and remappable topics.

  ros2 launch sameo_ros sameo.launch.py checkpoint:=/path/sameo.pt image:=/camera/image_raw \
      detections:=/detector/detections

Outputs: /sameo/amodal_masks (AmodalMaskArray); debug_image, stats and the segment service inside
`namespace`; /diagnostics. depth:=true adds the RGB-D inputs depth (16UC1 / 32FC1, registered
to the colour image) and camera_info, and the output detections_3d (vision_msgs/Detection3DArray).
image_transport:=compressed subscribes to <image>/compressed
(sensor_msgs/CompressedImage). managed:=true starts the lifecycle node unconfigured, for a
lifecycle manager (or `ros2 lifecycle set`) to configure and activate; otherwise it activates
itself. tracking:=false makes every frame stand alone (no track ids, no hidden objects; the
parameter file's default is true). `ros2 launch sameo_ros sameo.launch.py --show-args` lists the
arguments.

One node for several cameras (one model serves them all):

  ros2 launch sameo_ros sameo.launch.py checkpoint:=/path/sameo.pt cameras:="[head, wrist]"

Camera `head` then subscribes to <namespace>/head/image and head/detections and publishes
head/amodal_masks, head/stats and head/debug_image (with depth also head/depth, head/camera_info,
head/detections_3d). The remap arguments (image:=, ...) name the unnamed camera's topics; remap a
named camera's topics from an including launch file (SetRemap, README "ROS 2 node").
"""

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription

TOPICS = ("image", "detections", "amodal_masks", "debug_image", "depth", "camera_info",
          "detections_3d")  # the node's relative names
OVERRIDES = ("checkpoint", "device", "image_transport", "depth", "cameras", "chunk_size",
             "tracking")
# ^ set when not empty; the values of these are YAML (a list, a number or a word):
YAML_OVERRIDES = ("depth", "cameras", "chunk_size", "tracking")

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
    ("cameras", "", "camera names as a YAML list, e.g. \"[head, wrist]\": one node serves them "
     "all, camera c on c/image, c/detections, c/amodal_masks, ...; overrides the parameter file "
     "when not empty (its default: one unnamed camera)"),
    ("chunk_size", "", "prompts per mask-decoder call: auto (4 on a CPU, all boxes in one call on "
     "CUDA) or a number; overrides the parameter file (auto) when not empty"),
    ("tracking", "", "true: amodal tracks with ids, hidden objects kept (README, Object "
     "permanence); false: every frame stands alone; overrides the parameter file (true) when "
     "not empty"),
    ("image", "image", "image topic to subscribe to (its /compressed with compressed transport)"),
    ("detections", "detections", "Detection2DArray topic with the prompt boxes"),
    ("amodal_masks", "/sameo/amodal_masks", "where the AmodalMaskArray output goes"),
    ("debug_image", "debug_image", "where the overlay image goes"),
    ("depth_image", "depth", "depth image topic registered to image (with depth:=true)"),
    ("camera_info", "camera_info", "CameraInfo topic of the colour camera (with depth:=true)"),
    ("detections_3d", "detections_3d", "where the Detection3DArray output goes (depth:=true)"),
)


def _yaml_value(name: str, text: str) -> object:
    """A launch argument as the parameter value it stands for: `cameras:="[head, wrist]"` (or a
    single name) a list of names, `depth:=true` a bool, `chunk_size:=4` a number."""
    value = yaml.safe_load(text)
    if name in ("depth", "tracking") and not isinstance(value, bool):
        raise ValueError(f"{name}:={text!r}: expected true or false")
    if name == "cameras":
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise ValueError(f"cameras:={text!r}: expected a list of names like \"[head, wrist]\"")
    return value


def _node(context: LaunchContext) -> list[Node]:
    values = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDES}
    managed = LaunchConfiguration("managed").perform(context).lower() in ("true", "1", "yes")
    overrides: dict[str, object] = {name: value for name, value in values.items() if value}
    for name in YAML_OVERRIDES:
        if name in overrides:
            overrides[name] = _yaml_value(name, str(overrides[name]))
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
