"""Building sameo's output messages from mask records, with either library's message classes.

The node builds rclpy's generated classes (`rclpy_types()`), the ROS-free replay tool rosbags'
(`replay.rosbags_types`); both go through the same functions here, so an AmodalMask is made in
one place: `amodal_mask(types, header, record)`. A new per-mask field is one line there plus the
record field it comes from (pipeline.MaskRecord).

float32 fields saturate: a value beyond float32's finite range (a detector score of 1e39, say)
is written as +/-3.4028235e38, and NaN stays NaN (msg/AmodalMask.msg).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sameo_core.tracking import TrackState

from .conversions import xyxy_to_center_size

FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class MessageTypes:
    """One library's message classes by ROS type name, and the form it takes uint8[] data in."""

    lookup: Callable[[str], Any]  # "sensor_msgs/msg/Image" -> class
    byte_data: Callable[[np.ndarray], Any]  # contiguous uint8 [n] -> a value for a uint8[] field

    def make(self, typename: str, **fields: Any) -> Any:
        return self.lookup(typename)(**fields)


@functools.cache
def _rclpy_class(typename: str) -> Any:
    package, kind, name = typename.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def rclpy_types() -> MessageTypes:
    """rclpy's generated classes (the packages must be importable: a sourced workspace)."""
    # bytes initialise an array.array('B') field with one copy (a list or an ndarray would be
    # walked element by element).
    return MessageTypes(_rclpy_class, lambda data: data.tobytes())


def float32(value: float) -> float:
    """`value` for a float32 field: saturated to the finite float32 range; NaN stays NaN."""
    return min(max(float(value), -FLOAT32_MAX), FLOAT32_MAX)


def header(types: MessageTypes, stamp: int, frame_id: str) -> Any:
    """std_msgs/Header with the stamp `stamp` (integer nanoseconds)."""
    sec, nanosec = divmod(int(stamp), 1_000_000_000)
    time = types.make("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)
    return types.make("std_msgs/msg/Header", stamp=time, frame_id=frame_id)


def copy_header(types: MessageTypes, source: Any) -> Any:
    """`source` (any std_msgs/Header) rebuilt with `types`: stamp and frame_id pass through."""
    time = types.make(
        "builtin_interfaces/msg/Time", sec=int(source.stamp.sec), nanosec=int(source.stamp.nanosec)
    )
    return types.make("std_msgs/msg/Header", stamp=time, frame_id=str(source.frame_id))


def bounding_box(types: MessageTypes, xyxy: np.ndarray) -> Any:
    """vision_msgs/BoundingBox2D (center + size, theta 0) of an xyxy pixel box."""
    cx, cy, size_x, size_y = xyxy_to_center_size(xyxy)
    position = types.make("vision_msgs/msg/Point2D", x=cx, y=cy)
    center = types.make("vision_msgs/msg/Pose2D", position=position, theta=0.0)
    return types.make("vision_msgs/msg/BoundingBox2D", center=center, size_x=size_x, size_y=size_y)


def image(types: MessageTypes, source_header: Any, pixels: np.ndarray, encoding: str) -> Any:
    """sensor_msgs/Image of [H, W] or [H, W, C] pixels of the encoding's type (uint8 for
    rgb8 / mono8, uint16 for 16UC1, float32 for 32FC1), little-endian, rows packed."""
    array = np.asarray(pixels)
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    height, width = data.shape[:2]
    return types.make(
        "sensor_msgs/msg/Image", header=source_header, height=height, width=width,
        encoding=encoding, is_bigendian=0, step=data[0].nbytes if height else 0,
        data=types.byte_data(data.view(np.uint8).reshape(-1)),
    )  # fmt: skip


def mono8_mask(types: MessageTypes, source_header: Any, mask: np.ndarray) -> Any:
    """A bool [h, w] mask as a mono8 Image: 255 inside, 0 outside."""
    pixels = np.ascontiguousarray(mask, dtype=bool).view(np.uint8) * np.uint8(255)
    return image(types, source_header, pixels, "mono8")


def rgb_image(types: MessageTypes, source_header: Any, rgb: np.ndarray) -> Any:
    return image(types, source_header, rgb, "rgb8")


def amodal_mask(types: MessageTypes, source_header: Any, record: Any) -> Any:
    """sameo_ros/AmodalMask of one pipeline.MaskRecord (the field meanings: msg/AmodalMask.msg)."""
    hypothesis = types.make(
        "vision_msgs/msg/ObjectHypothesis", class_id=record.class_id, score=record.detector_score
    )
    visible = record.visible
    no_visible = np.zeros((0, 0), bool)
    return types.make(
        "sameo_ros/msg/AmodalMask",
        id=record.id,
        hypothesis=hypothesis,
        score=float32(record.score),
        predicted_iou=float32(record.iou),
        prompt_box=bounding_box(types, record.prompt_box),
        amodal_box=bounding_box(types, record.amodal_box),
        x_offset=int(record.amodal.offset[0]),
        y_offset=int(record.amodal.offset[1]),
        mask=mono8_mask(types, source_header, record.amodal.mask),
        visible_x_offset=0 if visible is None else int(visible.offset[0]),
        visible_y_offset=0 if visible is None else int(visible.offset[1]),
        visible_mask=mono8_mask(types, source_header, no_visible if visible is None
                                else visible.mask),  # fmt: skip
        visible_fraction=float32(record.visible_fraction),
        occluded_by=list(record.occluded_by),
        occludes=list(record.occludes),
        rank=int(record.rank),
        track_id=int(record.track_id),
        track_state=int(record.track_state),
        seconds_hidden=float32(record.seconds_hidden),
        age=int(record.age),
    )


def amodal_mask_array(types: MessageTypes, source_header: Any, records: Sequence[Any]) -> Any:
    """AmodalMaskArray of one frame; `source_header` is the image's, built with `types`."""
    return types.make(
        "sameo_ros/msg/AmodalMaskArray",
        header=source_header,
        masks=[amodal_mask(types, source_header, r) for r in records],
    )


def _point(types: MessageTypes, xyz: np.ndarray) -> Any:
    x, y, z = (float(v) for v in xyz)
    return types.make("geometry_msgs/msg/Point", x=x, y=y, z=z)


def _pose(types: MessageTypes, xyz: np.ndarray) -> Any:
    identity = types.make("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0)
    return types.make("geometry_msgs/msg/Pose", position=_point(types, xyz), orientation=identity)


def detection_3d_id(record: Any) -> str:
    """A Detection3D's id: the detection's, or "track:<track_id>" for a track without a detection
    this frame (HIDDEN, RECOVERED: their AmodalMask id is empty)."""
    return record.id if record.id or not record.track_id else f"track:{record.track_id}"


def detection_3d(types: MessageTypes, source_header: Any, record: Any) -> Any:
    """vision_msgs/Detection3D of a MaskRecord with 3D (README, "3D from depth"): id
    (`detection_3d_id`); one hypothesis with the detector's class and score, whose pose is the
    centroid of the visible points; bbox the amodal extent (centre, size; axes of the camera's
    optical frame). A HIDDEN track's 3D is the last one it had when seen."""
    obj = record.object_3d
    box = obj.amodal_box
    covariance = np.zeros(36)
    result = types.make(
        "vision_msgs/msg/ObjectHypothesisWithPose",
        hypothesis=types.make("vision_msgs/msg/ObjectHypothesis", class_id=record.class_id,
                              score=float(record.detector_score)),  # fmt: skip
        pose=types.make("geometry_msgs/msg/PoseWithCovariance",
                        pose=_pose(types, obj.centroid), covariance=covariance),  # fmt: skip
    )
    x, y, z = (float(v) for v in box[3:] - box[:3])
    bbox = types.make(
        "vision_msgs/msg/BoundingBox3D", center=_pose(types, (box[:3] + box[3:]) / 2.0),
        size=types.make("geometry_msgs/msg/Vector3", x=x, y=y, z=z),
    )  # fmt: skip
    return types.make(
        "vision_msgs/msg/Detection3D", header=source_header, results=[result], bbox=bbox,
        id=detection_3d_id(record),
    )  # fmt: skip


def detection_3d_array(types: MessageTypes, source_header: Any, records: Sequence[Any]) -> Any:
    """vision_msgs/Detection3DArray: one Detection3D per record that has 3D, in record order."""
    return types.make(
        "vision_msgs/msg/Detection3DArray", header=source_header,
        detections=[detection_3d(types, source_header, r) for r in records if r.object_3d],
    )  # fmt: skip


POINT_FIELDS = (("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("instance", 12, 6))  # FLOAT32, UINT32
_POINT_DTYPE = np.dtype({"names": ["x", "y", "z", "instance"],
                         "formats": ["<f4", "<f4", "<f4", "<u4"], "offsets": [0, 4, 8, 12],
                         "itemsize": 16})  # fmt: skip


def point_cloud(types: MessageTypes, source_header: Any, records: Sequence[Any]) -> Any:
    """sensor_msgs/PointCloud2 (unordered, little-endian) of every object's visible 3D points:
    x, y, z (float32, metres, optical frame) and instance (uint32: the object's position in the
    frame's AmodalMaskArray.masks). A HIDDEN track has no visible points (its 3D is carried)."""
    parts = [(k, r.object_3d.points) for k, r in enumerate(records)
             if r.object_3d and r.track_state != TrackState.HIDDEN]  # fmt: skip
    count = sum(len(points) for _, points in parts)
    cloud = np.empty(count, _POINT_DTYPE)
    start = 0
    for k, points in parts:
        stop = start + len(points)
        for axis, name in enumerate("xyz"):
            cloud[name][start:stop] = points[:, axis]
        cloud["instance"][start:stop] = k
        start = stop
    fields = [types.make("sensor_msgs/msg/PointField", name=name, offset=offset,
                         datatype=datatype, count=1)
              for name, offset, datatype in POINT_FIELDS]  # fmt: skip
    return types.make(
        "sensor_msgs/msg/PointCloud2", header=source_header, height=1, width=count,
        fields=fields, is_bigendian=False, point_step=_POINT_DTYPE.itemsize,
        row_step=_POINT_DTYPE.itemsize * count,
        data=types.byte_data(cloud.view(np.uint8).reshape(-1)), is_dense=True,
    )  # fmt: skip
