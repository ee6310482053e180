"""Synthetic camera frames with detections, and the messages a camera and a detector publish.

Frames come from sameo_core.data's procedural amodal scenes (textured shapes occluding each other),
RGB-D frames from its synthetic RGB-D scenes (textured planes at known depths, exact depth image).
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

from sameo_core.camera import PinholeIntrinsics, metres_to_depth
from sameo_core.data.procedural_scenes import CLUTTERED, SceneConfig, generate_scene
from sameo_core.data.rgbd_scenes import RgbdScene
from sameo_core.geometry import RoiMask, mask_boxes
from sameo_core.inference.occlusion_order import occlusion_order
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
    # True layer order: per box, the ids of the boxes in front of it where the amodal masks
    # overlap (boxes repeated with `detections` have none).
    occluded_by: tuple[tuple[str, ...], ...] = ()


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
    width, height = canvas or (size, size)
    full = np.zeros((height, width, 3), np.uint8)
    full[:size, :size] = rgb[:height, :width]

    def place(mask: np.ndarray) -> np.ndarray:
        out = np.zeros((height, width), bool)
        out[:size, :size] = mask[:height, :width]
        return out

    return _frame(full, instances, rng, detections, place)


def cluttered_frame(seed: int) -> Frame:
    """A cluttered 640x480 demo scene (`sameo_core.data.procedural_scenes.CLUTTERED`: 6-8
    objects, most of them 30-70 % hidden), one detection per object with a visible part."""
    rng = np.random.default_rng(seed)
    rgb, instances = generate_scene(rng, CLUTTERED)
    return _frame(rgb, instances, rng, None, lambda mask: mask)


def crowded_frame(seed: int, objects: int = 20, canvas: tuple[int, int] = (640, 480)) -> Frame:
    """A still camera on a crowded table: a `canvas` (width, height) scene of `objects` small
    objects (8-15 % of the shorter side, a few overlapping), one detection per object with a
    visible part; node_benchmark --static-scene sends it every frame, so that the node keeps
    that many tracks."""
    config = SceneConfig(image_size=min(canvas), canvas=canvas, num_objects=(objects, objects),
                         object_size=(0.08, 0.15), occlude_probability=0.3, attempts=200,
                         texture_scale=min(canvas) / 128)  # fmt: skip
    rng = np.random.default_rng(seed)
    rgb, instances = generate_scene(rng, config)
    return _frame(rgb, instances, rng, None, lambda mask: mask)


def _frame(rgb: np.ndarray, instances: list, rng: np.random.Generator, detections: int | None,
           place) -> Frame:  # fmt: skip
    """The Frame of a scene's instances (`place` puts a scene mask on the frame): objects hidden
    entirely are not detected; boxes around the visible parts."""
    kept = [k for k, inst in enumerate(instances) if inst.visible_mask.any()]
    new_index = {old: new for new, old in enumerate(kept)}
    occluders = [tuple(f"obj{new_index[j]}" for j in instances[k].occluded_by if j in new_index)
                 for k in kept]  # fmt: skip
    instances = [instances[k] for k in kept]
    amodal = [place(inst.amodal_mask) for inst in instances]
    visible = [place(inst.visible_mask) for inst in instances]
    count = detections or len(instances)
    source = [k % len(instances) for k in range(count)]
    jitter = rng.integers(-3, 4, size=(count, 4)) * (np.arange(count) >= len(instances))[:, None]
    boxes = mask_boxes(np.stack([visible[k] for k in source])) + jitter
    return Frame(
        rgb=rgb,
        boxes=boxes.astype(np.float64),
        ids=tuple(f"obj{k}" for k in range(count)),
        class_ids=tuple(instances[k].category_name for k in source),
        scores=rng.uniform(0.6, 1.0, count),
        amodal=tuple(amodal[k] for k in source),
        visible=tuple(visible[k] for k in source),
        occluded_by=tuple(occluders[k] if k == n else () for n, k in enumerate(source)),
    )


def rgbd_frame(scene: RgbdScene, seed: int = 0) -> tuple[Frame, tuple[int, ...]]:
    """The Frame of an RGB-D scene (boxes around the visible parts; objects hidden entirely are
    not detected) and the scene's index of each detection; ids are "plane<index>"."""
    height, width = scene.depth_m.shape
    seen = tuple(i for i, v in enumerate(scene.visible) if v.area)
    visible = tuple(scene.visible[i].paste(height, width) for i in seen)
    return Frame(
        rgb=scene.rgb,
        boxes=mask_boxes(np.stack(visible)).astype(np.float64),
        ids=tuple(f"plane{i}" for i in seen),
        class_ids=("plane",) * len(seen),
        scores=np.random.default_rng(seed).uniform(0.6, 1.0, len(seen)),
        amodal=tuple(scene.amodal[i].paste(height, width) for i in seen),
        visible=visible,
        occluded_by=tuple(tuple(sorted(f"plane{f}" for f, b in scene.occlusions()
                                       if b == i and f in seen)) for i in seen),  # fmt: skip
    ), seen


def depth_message(types: MessageTypes, depth_m: np.ndarray, header: Any,
                  encoding: str = "16UC1") -> Any:  # fmt: skip
    """A depth sensor_msgs/Image (16UC1 millimetres or 32FC1 metres) of float metres."""
    return image(types, header, metres_to_depth(depth_m, encoding), encoding)


def camera_info_message(types: MessageTypes, camera: PinholeIntrinsics, header: Any) -> Any:
    """sensor_msgs/CameraInfo of a rectified pinhole camera (K = P's left block, no distortion)."""
    k = camera.matrix()
    p = np.concatenate([k, np.zeros((3, 1))], axis=1)
    roi = types.make("sensor_msgs/msg/RegionOfInterest", x_offset=0, y_offset=0, height=0,
                     width=0, do_rectify=False)  # fmt: skip
    return types.make(
        "sensor_msgs/msg/CameraInfo", header=header, height=camera.height, width=camera.width,
        distortion_model="plumb_bob", d=np.zeros(5), k=k.reshape(-1), r=np.eye(3).reshape(-1),
        p=p.reshape(-1), binning_x=0, binning_y=0, roi=roi,
    )  # fmt: skip


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
    """MaskRecords whose masks are the frame's true amodal and visible masks, cropped like the
    node's, with the occlusion order of those masks."""
    amodal = [RoiMask.from_full(a) for a in frame.amodal]
    visible = [RoiMask.from_full(v) for v in frame.visible]
    order = occlusion_order(amodal, visible)
    records = []
    for k, (a, v) in enumerate(zip(amodal, visible)):
        records.append(MaskRecord(
            id=frame.ids[k], class_id=frame.class_ids[k], detector_score=float(frame.scores[k]),
            score=0.9, iou=0.9, prompt_box=frame.boxes[k], amodal_box=a.box(), amodal=a,
            visible=v, visible_fraction=v.area / a.area,
            occluded_by=tuple(frame.ids[i] for i in order.occluded_by[k]),
            occludes=tuple(frame.ids[i] for i in order.occludes[k]), rank=order.rank[k],
        ))  # fmt: skip
    return records
