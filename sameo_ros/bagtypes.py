"""rosbags typestores for sameo's messages, without a ROS installation.

Our own types come from the .msg files of this package; vision_msgs from the input bag's stored
message definitions (a Detection2DArray definition embeds every vision_msgs type we use) or from a
directory of vision_msgs .msg files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

OWN_TYPES = ("AmodalMask", "AmodalMaskArray", "FrameStats")
VISION_TYPES = ("Point2D", "Pose2D", "BoundingBox2D", "ObjectHypothesis")  # used by AmodalMask
VISION_INPUT_TYPES = (*VISION_TYPES, "ObjectHypothesisWithPose", "Detection2D", "Detection2DArray")


def installed_msg_dir(package: str) -> Path | None:
    """share/<package>/msg under the first AMENT_PREFIX_PATH prefix that has it, else None."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / package / "msg"
        if prefix and candidate.is_dir():
            return candidate
    return None


def msg_dir() -> Path:
    """The directory of sameo_ros' .msg files (source checkout or installed share/)."""
    source = Path(__file__).resolve().parents[1] / "msg"
    for candidate in (source, installed_msg_dir("sameo_ros")):
        if candidate is not None and (candidate / "AmodalMask.msg").is_file():
            return candidate
    raise FileNotFoundError(
        f"no sameo_ros .msg files in {source} nor in share/sameo_ros/msg on AMENT_PREFIX_PATH"
    )


def types_from_dir(directory: Path, package: str, names: tuple[str, ...]) -> dict[str, Any]:
    types: dict[str, Any] = {}
    for name in names:
        text = (directory / f"{name}.msg").read_text()
        types.update(get_types_from_msg(text, f"{package}/msg/{name}"))
    return types


def types_from_connection(connection: Any) -> dict[str, Any]:
    """All types in a rosbag2 connection's stored definition ({} when the bag has none)."""
    msgdef = getattr(connection, "msgdef", None)
    if msgdef is None or not msgdef.data:
        return {}
    return dict(get_types_from_msg(msgdef.data, connection.msgtype))


def output_typestore(vision_types: dict[str, Any]) -> Any:
    """Jazzy standard types + vision_msgs + sameo_ros messages."""
    missing = [n for n in VISION_TYPES if f"vision_msgs/msg/{n}" not in vision_types]
    if missing:
        raise ValueError(
            f"no definition of vision_msgs {missing}: the input bag stores none; "
            "pass --vision-msgs-dir with the vision_msgs .msg files"
        )
    typestore = get_typestore(Stores.ROS2_JAZZY)
    typestore.register(vision_types)
    typestore.register(types_from_dir(msg_dir(), "sameo_ros", OWN_TYPES))
    return typestore
