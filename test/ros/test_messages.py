"""Message building (rosbags classes, no ROS): masks with their visible part and occlusion
order, the 3D outputs, and the debug overlay.

The node builds the same messages with rclpy's classes through the same functions; those are
checked over DDS in test_node.py.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_core.inference.depth_lifting import Object3D
from sameo_ros.conversions import Prompts, image_to_rgb, mono8_to_mask
from sameo_ros.messages import (
    FLOAT32_MAX,
    amodal_mask_array,
    copy_header,
    detection_3d_array,
    float32,
    point_cloud,
    rgb_image,
)
from sameo_ros.overlay import draw_overlay, label
from sameo_ros.pipeline import MaskRecord, Selection, select_prompts
from sameo_ros.replay import (
    VISION_3D_TYPES,
    VISION_TYPES,
    output_typestore,
    rosbags_types,
    types_from_dir,
)

from .bag_helpers import VISION_MSGS


def _rect(h: int, w: int) -> np.ndarray:
    return np.ones((h, w), bool)


def test_select_prompts_keeps_input_order_of_the_best() -> None:
    prompts = Prompts(np.zeros((4, 4)), np.array([0.2, 0.9, 0.5, 0.7]), tuple("abcd"), ("",) * 4)
    assert select_prompts(prompts, Selection(score_threshold=0.3, max_detections=2)) == [1, 3]
    assert select_prompts(prompts, Selection(0.0, 10)) == [0, 1, 2, 3]
    nan = Prompts(np.zeros((2, 4)), np.array([np.nan, 0.5]), ("a", "b"), ("", ""))
    assert select_prompts(nan, Selection(0.3, 10)) == [0, 1]  # NaN is rejected by the model


def _record(mask: np.ndarray, visible: np.ndarray, offset: tuple[int, int]) -> MaskRecord:
    """A record whose visible mask (given in the amodal ROI) gets its own tight crop."""
    amodal = RoiMask(mask, offset)
    seen = RoiMask(visible & mask, offset).tight()
    return MaskRecord(
        id="cup", class_id="mug", detector_score=0.8, score=0.6, iou=0.75,
        prompt_box=np.array([0.0, 0, 2, 2]), amodal_box=np.array([-2.0, 5, 2, 8]), amodal=amodal,
        visible=seen, visible_fraction=seen.area / amodal.area, occluded_by=("plate", "box"),
        occludes=("spoon",), rank=2,
    )  # fmt: skip


def _store():
    return output_typestore(
        types_from_dir(VISION_MSGS, "vision_msgs", (*VISION_TYPES, *VISION_3D_TYPES)),
        (*VISION_TYPES, *VISION_3D_TYPES),
    )


def test_amodal_mask_array_serializes_and_keeps_geometry() -> None:
    store = _store()
    types = rosbags_types(store)
    t = store.types
    source = t["std_msgs/msg/Header"](
        stamp=t["builtin_interfaces/msg/Time"](sec=7, nanosec=9), frame_id="cam"
    )
    header = copy_header(types, source)
    mask = np.zeros((3, 4), bool)
    mask[1:, 1:] = True
    records = [_record(mask, mask.copy(), (-2, 5))]
    raw = store.serialize_cdr(
        amodal_mask_array(types, header, records), "sameo_ros/msg/AmodalMaskArray"
    )
    back = store.deserialize_cdr(raw, "sameo_ros/msg/AmodalMaskArray")
    assert (back.header.stamp.sec, back.header.stamp.nanosec, back.header.frame_id) == (
        7,
        9,
        "cam",
    )
    m = back.masks[0]
    assert (m.id, m.hypothesis.class_id, m.x_offset, m.y_offset) == ("cup", "mug", -2, 5)
    assert math.isclose(m.score, 0.6, rel_tol=1e-6) and math.isclose(m.predicted_iou, 0.75)
    assert (m.amodal_box.center.position.x, m.amodal_box.size_x) == (0.0, 4.0)
    assert m.mask.encoding == "mono8" and m.mask.header.frame_id == "cam"
    assert m.mask.step == 4 and set(np.unique(m.mask.data)) == {0, 255}
    np.testing.assert_array_equal(mono8_to_mask(m.mask), records[0].amodal.mask)
    # the visible part in its own tight crop, and the order by detection id
    assert (m.visible_x_offset, m.visible_y_offset) == (-1, 6)
    visible = RoiMask(mono8_to_mask(m.visible_mask), (m.visible_x_offset, m.visible_y_offset))
    np.testing.assert_array_equal(records[0].amodal.aligned(visible), mask)
    assert (list(m.occluded_by), list(m.occludes), m.rank) == (["plate", "box"], ["spoon"], 2)
    assert math.isclose(m.visible_fraction, 1.0)
    rgb = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    image = rgb_image(types, header, rgb)
    assert (image.height, image.width, image.step, image.encoding) == (2, 3, 9, "rgb8")
    np.testing.assert_array_equal(image_to_rgb(image), rgb)


@pytest.mark.parametrize(
    "value, expected",
    [(0.5, 0.5), (1e39, FLOAT32_MAX), (-1e300, -FLOAT32_MAX), (math.inf, FLOAT32_MAX)],
)
def test_float32_fields_saturate(value: float, expected: float) -> None:
    assert float32(value) == expected
    assert math.isnan(float32(math.nan))


def test_out_of_range_scores_serialize_saturated() -> None:
    store = _store()
    types = rosbags_types(store)
    header = copy_header(types, store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="cam"))
    record = dataclasses.replace(_record(_rect(2, 2), _rect(2, 2), (0, 0)), detector_score=1e300,
                                 score=1e300, iou=-1e39, visible_fraction=math.nan)
    raw = store.serialize_cdr(amodal_mask_array(types, header, [record]),
                              "sameo_ros/msg/AmodalMaskArray")
    m = store.deserialize_cdr(raw, "sameo_ros/msg/AmodalMaskArray").masks[0]
    assert m.hypothesis.score == 1e300  # float64 keeps it
    assert (m.score, m.predicted_iou) == (np.float32(FLOAT32_MAX), np.float32(-FLOAT32_MAX))
    assert math.isnan(m.visible_fraction)  # fmt: skip


def test_overlay_tints_visible_and_hatches_occluded_pixels() -> None:
    rgb = np.zeros((20, 20, 3), np.uint8)
    mask = _rect(10, 10)
    visible = mask.copy()
    visible[:, 5:] = False
    record = _record(mask, visible, offset=(5, 5))
    out = draw_overlay(rgb, [record])
    assert out.shape == rgb.shape and out.dtype == np.uint8
    inner_visible = out[7:13, 7:9].reshape(-1, 3)
    inner_occluded = out[7:13, 11:14].reshape(-1, 3)
    assert (inner_visible.sum(axis=1) > 0).all()  # solid tint
    lit = (inner_occluded.sum(axis=1) > 0).mean()
    assert 0.1 < lit < 0.9  # hatched: some pixels tinted, some not
    assert out[16:20, 0:4].sum() == 0  # away from the mask, box and label: untouched


def test_without_a_modal_head_the_visible_mask_is_empty_and_the_rank_unknown() -> None:
    store = _store()
    types = rosbags_types(store)
    header = copy_header(types, store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="cam"))
    record = dataclasses.replace(_record(_rect(2, 2), _rect(2, 2), (0, 0)), visible=None,
                                 visible_fraction=math.nan, occluded_by=(), occludes=(), rank=-1)
    raw = store.serialize_cdr(amodal_mask_array(types, header, [record]),
                              "sameo_ros/msg/AmodalMaskArray")
    m = store.deserialize_cdr(raw, "sameo_ros/msg/AmodalMaskArray").masks[0]
    assert (m.visible_mask.width, m.visible_mask.height, len(m.visible_mask.data)) == (0, 0, 0)
    assert math.isnan(m.visible_fraction) and m.rank == -1 and not list(m.occluded_by)
    assert label(record) == "cup 0.60"  # fmt: skip


def _object_3d(index: int, points: np.ndarray) -> Object3D:
    return Object3D(
        index=index, points=points.astype(np.float32), depth=float(np.median(points[:, 2])),
        tolerance=0.005, centroid=points.mean(0), visible_box=np.r_[points.min(0), points.max(0)],
        amodal_box=np.array([-0.1, -0.2, 0.9, 0.3, 0.2, 1.1]), valid_points=len(points),
    )  # fmt: skip


def test_3d_messages_carry_ids_classes_centroids_extents_and_labelled_points() -> None:
    store = _store()
    types = rosbags_types(store)
    header = copy_header(types, store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=3, nanosec=5), frame_id="cam"))
    rng = np.random.default_rng(0)
    first = _object_3d(0, rng.uniform(0.5, 1.0, (5, 3)))
    third = _object_3d(2, rng.uniform(1.0, 2.0, (3, 3)))
    base = _record(_rect(2, 2), _rect(2, 2), (0, 0))
    records = [
        dataclasses.replace(base, id="a", object_3d=first),
        dataclasses.replace(base, id="b", no_3d_reason="too few valid depth points"),
        dataclasses.replace(base, id="c", class_id="bowl", object_3d=third),
    ]
    raw = store.serialize_cdr(detection_3d_array(types, header, records),
                              "vision_msgs/msg/Detection3DArray")
    back = store.deserialize_cdr(raw, "vision_msgs/msg/Detection3DArray")
    assert back.header.frame_id == "cam" and [d.id for d in back.detections] == ["a", "c"]
    c = back.detections[1]
    assert c.results[0].hypothesis.class_id == "bowl"
    assert math.isclose(c.results[0].hypothesis.score, 0.8)
    position = c.results[0].pose.pose.position
    np.testing.assert_allclose([position.x, position.y, position.z], third.centroid)
    center, size = c.bbox.center, c.bbox.size
    np.testing.assert_allclose([center.position.x, center.position.y, center.position.z],
                               [0.1, 0.0, 1.0])
    np.testing.assert_allclose([size.x, size.y, size.z], [0.4, 0.4, 0.2])
    assert center.orientation.w == 1.0
    cloud = point_cloud(types, header, records)
    raw = store.serialize_cdr(cloud, "sensor_msgs/msg/PointCloud2")
    cloud = store.deserialize_cdr(raw, "sensor_msgs/msg/PointCloud2")
    assert (cloud.height, cloud.width, cloud.point_step) == (1, 8, 16)
    assert [(f.name, f.offset, f.datatype) for f in cloud.fields] == [
        ("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("instance", 12, 6)]
    data = np.frombuffer(bytes(cloud.data), np.uint8).reshape(8, 16)
    xyz = data[:, :12].copy().view("<f4")
    instance = data[:, 12:].copy().view("<u4").reshape(-1)
    np.testing.assert_array_equal(instance, [0] * 5 + [2] * 3)  # positions in AmodalMaskArray
    np.testing.assert_allclose(xyz, np.concatenate([first.points, third.points]))
    empty = point_cloud(types, header, [records[1]])
    assert (empty.width, len(empty.data)) == (0, 0)


def test_overlay_label_has_rank_visible_share_and_distance() -> None:
    record = dataclasses.replace(_record(_rect(4, 4), _rect(4, 4), (0, 0)),
                                 object_3d=_object_3d(0, np.full((4, 3), 0.84)))
    assert label(record) == "cup 0.60 vis 100% r2 0.84 m"
