"""Synthetic camera frames with detections, and the messages a camera and a detector publish.

Frames come from sameo_core.data's procedural amodal scenes (textured shapes occluding each other).
The detector is simulated: one box per instance around its *visible* part, as a modal detector sees
it, so the amodal masks should reach beyond the boxes where objects are occluded. The messages are
built with either library's classes (messages.MessageTypes): rclpy for the client, rosbags for
test bags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.geometry import RoiMask, mask_boxes
from sameo_ros.messages import MessageTypes, bounding_box, image
from sameo_ros.pipeline import MaskRecord


@dataclass(frozen=True)
class Frame:
    """One synthetic camera frame and what a detector reports for it."""

    rgb: np.ndarray  # uint8 [H, W, 3]
    boxes: np.ndarray  # float64 [N, 4] xyxy pixels (visible extent of each instance)
    ids: tuple[str, ...]
    class_ids: tuple[str, ...]
    scores: np.ndarray  # float64 [N]
    amodal: tuple[np.ndarray, ...]  # ground-truth bool [H, W] amodal mask per box
    visible: tuple[np.ndarray, ...]  # ground-truth bool [H, W] visible mask per box


def scene_frame(
    seed: int,
    size: int = 256,
    canvas: tuple[int, int] | None = None,
    detections: int | None = None,
) -> Frame:
    """A procedural scene of `size` px placed top-left on a `canvas` (width, height) if given.

    detections: repeat the instances' boxes (shifted by up to 3 px) until there are this many.
    """
    rng = np.random.default_rng(seed)
    rgb, instances = generate_scene(rng, SceneConfig(image_size=size))
    instances = [inst for inst in instances if inst.visible_mask.any()]
    width, height = canvas or (size, size)
    full = np.zeros((height, width, 3), np.uint8)
    full[:size, :size] = rgb[:height, :width]
    amodal, visible = [], []
    for inst in instances:
        a, v = np.zeros((height, width), bool), np.zeros((height, width), bool)
        a[:size, :size], v[:size, :size] = inst.amodal_mask, inst.visible_mask
        amodal.append(a)
        visible.append(v)
    count = detections or len(instances)
    source = [k % len(instances) for k in range(count)]
    jitter = rng.integers(-3, 4, size=(count, 4)) * (np.arange(count) >= len(instances))[:, None]
    boxes = mask_boxes(np.stack([visible[k] for k in source])) + jitter
    return Frame(
        rgb=full,
        boxes=boxes.astype(np.float64),
        ids=tuple(f"obj{k}" for k in range(count)),
        class_ids=tuple(instances[k].category_name for k in source),
        scores=rng.uniform(0.6, 1.0, count),
        amodal=tuple(amodal[k] for k in source),
        visible=tuple(visible[k] for k in source),
    )


def image_message(types: MessageTypes, rgb: np.ndarray, header: Any, **override: Any) -> Any:
    """rgb8 sensor_msgs/Image; `override` replaces fields (e.g. to make a malformed image)."""
    msg = image(types, header, rgb, "rgb8")
    for name, value in override.items():
        setattr(msg, name, types.byte_data(value) if name == "data" else value)
    return msg


def compressed_message(types: MessageTypes, rgb: np.ndarray, header: Any, fmt: str) -> Any:
    """sensor_msgs/CompressedImage of `rgb` as jpeg or png (bytes from OpenCV)."""
    ok, encoded = cv2.imencode(f".{'jpg' if fmt == 'jpeg' else fmt}", rgb[:, :, ::-1])
    assert ok, fmt
    return types.make(
        "sensor_msgs/msg/CompressedImage", header=header, format=fmt,
        data=types.byte_data(encoded.reshape(-1)),
    )  # fmt: skip


def _hypothesis(types: MessageTypes, class_id: str, score: float) -> Any:
    make = types.make
    identity = make(
        "geometry_msgs/msg/Pose",
        position=make("geometry_msgs/msg/Point", x=0.0, y=0.0, z=0.0),
        orientation=make("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
    )
    return make(
        "vision_msgs/msg/ObjectHypothesisWithPose",
        hypothesis=make("vision_msgs/msg/ObjectHypothesis", class_id=class_id, score=score),
        pose=make("geometry_msgs/msg/PoseWithCovariance", pose=identity, covariance=np.zeros(36)),
    )


def detections_message(types: MessageTypes, frame: Frame, header: Any) -> Any:
    """vision_msgs/Detection2DArray with one detection (box, id, one hypothesis) per instance."""
    detections = [
        types.make(
            "vision_msgs/msg/Detection2D",
            header=header,
            results=[_hypothesis(types, class_id, float(score))],
            bbox=bounding_box(types, box),
            id=det_id,
        )
        for box, det_id, class_id, score in zip(
            frame.boxes, frame.ids, frame.class_ids, frame.scores
        )
    ]
    return types.make("vision_msgs/msg/Detection2DArray", header=header, detections=detections)


def ground_truth_records(frame: Frame) -> list[MaskRecord]:
    """MaskRecords whose masks are the frame's true amodal masks, cropped like the node's."""
    records = []
    for k, (amodal, visible) in enumerate(zip(frame.amodal, frame.visible)):
        roi = RoiMask.from_full(amodal)
        records.append(MaskRecord(
            id=frame.ids[k], class_id=frame.class_ids[k], detector_score=float(frame.scores[k]),
            score=0.9, iou=0.9, prompt_box=frame.boxes[k], amodal_box=roi.box(),
            offset=roi.offset, mask=roi.mask, visible=roi.crop(visible),
            visible_fraction=float(visible.sum() / amodal.sum()),
        ))  # fmt: skip
    return records
