"""Visibility estimate, message building (rosbags classes, no ROS) and the debug overlay.

The node builds the same messages with rclpy's classes through the same functions; those are
checked over DDS in test_node.py.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sameo_ros.conversions import Prompts, image_to_rgb, mono8_to_mask
from sameo_ros.messages import FLOAT32_MAX, amodal_mask_array, copy_header, float32, rgb_image
from sameo_ros.overlay import draw_overlay
from sameo_ros.pipeline import MaskRecord, Selection, select_prompts
from sameo_ros.replay import VISION_TYPES, output_typestore, rosbags_types, types_from_dir
from sameo_ros.visibility import visible_fraction, visible_masks

from .bag_helpers import VISION_MSGS


def _rect(h: int, w: int) -> np.ndarray:
    return np.ones((h, w), bool)


def test_occluded_instance_loses_the_part_behind_the_front_one() -> None:
    # back: 10x10 at (0,0), its visible box only the left half; front: 10x5 at (5,0), fully boxed.
    back, front = _rect(10, 10), _rect(10, 5)
    offsets = [(0, 0), (5, 0)]
    boxes = [np.array([0, 0, 5, 10.0]), np.array([5, 0, 10, 10.0])]
    vis = visible_masks([back, front], offsets, boxes, image_hw=(20, 20))
    assert vis[1].all()  # nothing in front of the front object
    assert vis[0][:, :5].all() and not vis[0][:, 5:].any()
    assert visible_fraction(back, vis[0]) == 0.5


def test_no_masks_no_visibility() -> None:
    assert visible_masks([], [], [], image_hw=(10, 10)) == []


def test_parts_outside_the_image_are_not_visible() -> None:
    mask = _rect(4, 4)
    vis = visible_masks([mask], [(-2, 0)], [np.array([0, 0, 2, 4.0])], image_hw=(10, 10))
    assert visible_fraction(mask, vis[0]) == 0.5
    assert math.isnan(visible_fraction(np.zeros((0, 0), bool), np.zeros((0, 0), bool)))


def test_visible_masks_match_the_definition_on_random_overlaps() -> None:
    rng = np.random.default_rng(3)
    hw = (30, 40)
    masks = [
        rng.random((int(rng.integers(5, 20)), int(rng.integers(5, 20)))) > 0.3 for _ in range(6)
    ]
    offsets = [(int(rng.integers(-5, 35)), int(rng.integers(-5, 25))) for _ in masks]
    boxes = [
        np.array([x, y, x + m.shape[1] * rng.uniform(0.3, 1), y + m.shape[0]])
        for m, (x, y) in zip(masks, offsets)
    ]
    full = [np.pad(np.zeros(hw, bool), 20) for _ in masks]
    for f, m, (x, y) in zip(full, masks, offsets):
        f[20 + y : 20 + y + m.shape[0], 20 + x : 20 + x + m.shape[1]] = m
    spill = [1 - (f & _box_mask(b, f.shape)).sum() / max(f.sum(), 1) for f, b in zip(full, boxes)]
    inside = np.pad(np.ones(hw, bool), 20)
    for i, visible in enumerate(visible_masks(masks, offsets, boxes, hw)):
        front = [j for j in range(len(masks)) if (spill[j], -j) < (spill[i], -i)]
        expected = (
            full[i]
            & inside
            & ~np.logical_or.reduce([np.zeros_like(inside)] + [full[j] for j in front])
        )
        x, y = offsets[i]
        crop = expected[20 + y : 20 + y + masks[i].shape[0], 20 + x : 20 + x + masks[i].shape[1]]
        np.testing.assert_array_equal(visible, crop)


def _box_mask(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    x0, y0, x1, y1 = (int(round(float(v))) + 20 for v in box)
    out[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    return out


def test_select_prompts_keeps_input_order_of_the_best() -> None:
    prompts = Prompts(np.zeros((4, 4)), np.array([0.2, 0.9, 0.5, 0.7]), tuple("abcd"), ("",) * 4)
    assert select_prompts(prompts, Selection(score_threshold=0.3, max_detections=2)) == [1, 3]
    assert select_prompts(prompts, Selection(0.0, 10)) == [0, 1, 2, 3]
    nan = Prompts(np.zeros((2, 4)), np.array([np.nan, 0.5]), ("a", "b"), ("", ""))
    assert select_prompts(nan, Selection(0.3, 10)) == [0, 1]  # NaN is rejected by the model


def _record(mask: np.ndarray, visible: np.ndarray, offset: tuple[int, int]) -> MaskRecord:
    return MaskRecord(
        id="cup", class_id="mug", detector_score=0.8, score=0.6, iou=0.75,
        prompt_box=np.array([0.0, 0, 2, 2]), amodal_box=np.array([-2.0, 5, 2, 8]), offset=offset,
        mask=mask, visible=visible, visible_fraction=visible.sum() / mask.sum(),
    )  # fmt: skip


def _store():
    return output_typestore(types_from_dir(VISION_MSGS, "vision_msgs", VISION_TYPES))


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
    np.testing.assert_array_equal(mono8_to_mask(m.mask), records[0].mask)
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
