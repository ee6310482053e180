"""The frame pipeline (no ROS): one place runs the predictor, the encoder only for a new image;
visible masks and occlusion order per frame; 3D from depth, and what bad depth costs (only 3D)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from sameo_core.camera import BAD_INTRINSICS, SIZE_MISMATCH, UNKNOWN_ENCODING, metres_to_depth
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.depth_lifting import (
    DEPTH_ALL_INVALID,
    NO_VALID_DEPTH,
    NO_VISIBLE_PIXELS,
    TOO_FEW_POINTS,
)
from sameo_core.inference.occlusion_order import occlusion_order
from sameo_core.model import build_sameo
from sameo_ros.harness.synthetic_frames import scene_frame
from sameo_ros.params import NodeConfig
from sameo_ros.pipeline import (
    DEPTH_TOO_LARGE,
    NO_CAMERA_INFO,
    NO_DEPTH_IMAGE,
    NO_MODAL_HEAD,
    FrameInputs,
    FramePipeline,
    ImageKey,
    Selection,
)


def _image(rgb: np.ndarray, stamp: int = 1, frame_id: str = "cam") -> NS:
    h, w, _ = rgb.shape
    return NS(header=NS(stamp=NS(sec=stamp, nanosec=0), frame_id=frame_id), height=h, width=w,
              encoding="rgb8", step=w * 3, data=rgb.tobytes())  # fmt: skip


def _detections(boxes: np.ndarray) -> NS:
    return NS(detections=[
        NS(id=f"d{k}", results=[NS(hypothesis=NS(class_id="c", score=0.9))],
           bbox=NS(center=NS(position=NS(x=(b[0] + b[2]) / 2, y=(b[1] + b[3]) / 2)),
                   size_x=b[2] - b[0], size_y=b[3] - b[1]))
        for k, b in enumerate(boxes)
    ])  # fmt: skip


@pytest.fixture(scope="module")
def pipeline() -> FramePipeline:
    return FramePipeline.from_config(NodeConfig(variant="test"))


def test_image_keys_compare_stamp_frame_size_and_bytes() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    other = rgb.copy()
    other[0, 0, 0] = 1
    assert ImageKey(_image(rgb)) == ImageKey(_image(rgb.copy()))
    assert ImageKey(_image(rgb)) != ImageKey(_image(other))
    assert ImageKey(_image(rgb)) != ImageKey(_image(rgb, stamp=2))
    assert ImageKey(_image(rgb)) != ImageKey(_image(rgb, frame_id="other"))
    compressed = NS(header=NS(stamp=NS(sec=1, nanosec=0), frame_id="cam"), format="png",
                    data=b"abc")  # fmt: skip
    assert ImageKey(compressed) == ImageKey(NS(**vars(compressed)))
    assert ImageKey(compressed) != ImageKey(_image(rgb))


def test_the_encoder_runs_once_per_image(pipeline: FramePipeline) -> None:
    frame = scene_frame(seed=0, size=64)
    first = pipeline.process(FrameInputs(_image(frame.rgb), _detections(frame.boxes)))
    again = pipeline.process(FrameInputs(_image(frame.rgb), _detections(frame.boxes + 1)))
    same = pipeline.process(FrameInputs(_image(frame.rgb), _detections(frame.boxes)))
    assert first.encoded and not again.encoded and not same.encoded
    for a, b in zip(first.records, same.records):  # decoder alone: the very same masks
        assert a.amodal.offset == b.amodal.offset and np.array_equal(a.amodal.mask, b.amodal.mask)
    new = pipeline.process(FrameInputs(_image(frame.rgb, stamp=2), _detections(frame.boxes)))
    assert new.encoded


def _iou(a, b) -> float:
    size = (96, 96)
    a, b = a.paste(*size), b.paste(*size)
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_frames_of_several_cameras_share_one_encoder_batch() -> None:
    """The batched encoder (the node's path on CUDA, forced here on the CPU) gives each camera's
    frame the masks it gets alone; a bad frame in the batch costs only itself; each frame's
    stage times make up its model time, with an equal share of the batch's encoder."""
    config = NodeConfig(variant="test")
    alone = FramePipeline.from_config(config)
    batched = FramePipeline(alone.predictor, Selection(), batch_encoder=True)
    assert batched.batched_encoder and not alone.batched_encoder  # by device: CUDA only
    frames = [scene_frame(seed=30 + k, size=96) for k in range(3)]
    inputs = [FrameInputs(_image(f.rgb, stamp=10 + k), _detections(f.boxes))
              for k, f in enumerate(frames)]  # fmt: skip
    broken = FrameInputs(NS(**{**vars(_image(frames[0].rgb, stamp=20)), "encoding": "hsv8"}),
                         _detections(frames[0].boxes))  # fmt: skip
    expected_results = [alone.process(single) for single in inputs]  # (the same predictor)
    results = batched.process_batch([inputs[0], broken, inputs[1], inputs[2]])
    assert isinstance(results[1], ValueError) and "hsv8" in str(results[1])
    for result, expected in zip([results[0], *results[2:]], expected_results):
        assert result.encoded and len(result.records) == len(expected.records)
        for got, want in zip(result.records, expected.records):
            assert got.id == want.id
            assert _iou(got.amodal, want.amodal) >= 0.999
        ms = result.timings_ms
        assert abs(ms["encoder"] + ms["decoder"] + ms["postprocess"] - ms["model"]) < 1.0, ms
    encoders = [r.timings_ms["encoder"] for r in (results[0], *results[2:])]
    assert max(encoders) == min(encoders) > 0  # one batch, shared out equally
    again = batched.process_batch(inputs[:2])  # encoded already: the decoders only
    assert not any(r.encoded for r in again)
    assert all(r.timings_ms["encoder"] == 0 for r in again)


def test_an_image_decoded_into_torch_gives_the_same_frame(pipeline, monkeypatch) -> None:
    """On a CUDA device `to_rgb` gives a tensor (nvjpeg); the frame path takes it as it is and
    the overlay copies it back only to draw. Here the same conversion's CPU tensor stands in."""
    import torch

    from sameo_ros import pipeline as pipeline_module

    frame = scene_frame(seed=3, size=64)
    inputs = FrameInputs(_image(frame.rgb, stamp=7), _detections(frame.boxes))
    expected = pipeline.process(inputs)
    convert = pipeline_module.to_rgb
    monkeypatch.setattr(pipeline_module, "to_rgb", lambda *args: torch.from_numpy(
        np.array(convert(*args))).permute(2, 0, 1).contiguous().permute(1, 2, 0))
    pipeline._encoded = []  # encode again, from the tensor
    got = pipeline.process(inputs)
    assert got.encoded and isinstance(got.image, torch.Tensor)
    assert np.array_equal(got.host_image(), frame.rgb)
    assert isinstance(expected.host_image(), np.ndarray)
    assert [r.id for r in got.records] == [r.id for r in expected.records]
    for a, b in zip(expected.records, got.records):
        assert a.amodal.offset == b.amodal.offset and np.array_equal(a.amodal.mask, b.amodal.mask)
        assert a.iou == b.iou


def test_selection_and_mask_threshold_updates_apply(pipeline: FramePipeline) -> None:
    frame = scene_frame(seed=1, size=64, detections=3)
    inputs = FrameInputs(_image(frame.rgb, stamp=5), _detections(frame.boxes))
    assert len(pipeline.process(inputs).records) == 3
    pipeline.update(Selection(score_threshold=0.0, max_detections=1), mask_threshold=0.0)
    try:
        assert [r.id for r in pipeline.process(inputs).records] == ["d0"]
    finally:
        pipeline.update(Selection(), mask_threshold=0.0)


def test_released_pipeline_refuses_frames() -> None:
    pipeline = FramePipeline.from_config(NodeConfig(variant="test"))
    assert pipeline.model_bytes() > 0
    pipeline.release()
    assert pipeline.model_bytes() == 0
    frame = scene_frame(seed=2, size=64)
    with pytest.raises(RuntimeError, match="released"):
        pipeline.process(FrameInputs(_image(frame.rgb), _detections(frame.boxes)))


def _camera_info(width: int, height: int, f: float = 80.0, k: list | None = None) -> NS:
    k = k or [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0]
    return NS(k=k, p=[0.0] * 12, width=width, height=height, binning_x=0, binning_y=0,
              roi=NS(x_offset=0, y_offset=0, width=0, height=0))  # fmt: skip


def _depth_image(depth_m: np.ndarray, encoding: str = "16UC1") -> NS:
    array = metres_to_depth(depth_m, encoding) if encoding in ("16UC1", "32FC1") else (
        np.zeros(depth_m.shape, np.uint8))  # fmt: skip
    h, w = array.shape
    return NS(height=h, width=w, encoding=encoding, is_bigendian=0, step=w * array.itemsize,
              data=array.tobytes())  # fmt: skip


def test_masks_come_with_visible_parts_and_their_occlusion_order(pipeline) -> None:
    frame = scene_frame(seed=3, size=64)
    result = pipeline.process(FrameInputs(_image(frame.rgb, stamp=7), _detections(frame.boxes)))
    records = result.records
    assert records and all(r.visible is not None for r in records)
    for r in records:  # visible ⊆ amodal, in its own crop; the share is |visible| / |amodal|
        inside = r.amodal.aligned(r.visible)
        assert inside.sum() == r.visible.area
        assert not (inside & ~r.amodal.mask).any()
        assert r.visible_fraction == pytest.approx(r.visible.area / max(r.amodal.area, 1))
    order = occlusion_order([r.amodal for r in records], [r.visible for r in records])
    ids = [r.id for r in records]
    for k, r in enumerate(records):
        assert r.occluded_by == tuple(ids[i] for i in order.occluded_by[k])
        assert r.occludes == tuple(ids[i] for i in order.occludes[k])
        assert r.rank == order.rank[k]
    assert result.depth_error is None and all(r.object_3d is None for r in records)


def test_without_a_modal_head_there_is_no_visible_mask_order_or_3d() -> None:
    predictor = AmodalPredictor(build_sameo(variant="test"))
    amodal_only = FramePipeline(predictor, Selection(), lift=True)
    assert not amodal_only.has_visible
    frame = scene_frame(seed=4, size=64)
    result = amodal_only.process(FrameInputs(
        _image(frame.rgb), _detections(frame.boxes), depth=_depth_image(np.ones((64, 64))),
        camera_info=_camera_info(64, 64)))  # fmt: skip
    assert result.records and all(r.visible is None and r.rank == -1 for r in result.records)
    assert all(np.isnan(r.visible_fraction) and not r.occluded_by for r in result.records)
    assert result.depth_error.reason == NO_MODAL_HEAD


def test_depth_lifts_every_object_or_says_why_not(pipeline) -> None:
    frame = scene_frame(seed=5, size=64)
    depth = np.full((64, 64), 1.5)
    depth[:, :8] = 0.7  # a nearer strip
    inputs = FrameInputs(_image(frame.rgb, stamp=8), _detections(frame.boxes),
                         depth=_depth_image(depth), camera_info=_camera_info(64, 64))
    result = pipeline.process(inputs, lift=True)
    assert result.depth_error is None
    for r in result.records:
        assert (r.object_3d is None) != (r.no_3d_reason == "")  # 3D, or the reason why not
        if r.object_3d is not None:
            assert r.object_3d.depth in (pytest.approx(1.5), pytest.approx(0.7))
    assert any(r.object_3d is not None for r in result.records)
    assert result.timings_ms["lifting"] > 0


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(depth=None), NO_DEPTH_IMAGE),
        (dict(camera_info=None), NO_CAMERA_INFO),
        (dict(camera_info=_camera_info(64, 64, k=[0.0] * 9)), BAD_INTRINSICS),
        (dict(depth=_depth_image(np.ones((64, 64)), encoding="mono8")), UNKNOWN_ENCODING),
        (dict(depth=_depth_image(np.ones((40, 64)))), SIZE_MISMATCH),
        (dict(depth=_depth_image(np.zeros((64, 64)))), DEPTH_ALL_INVALID),
    ],
)
def test_bad_depth_costs_the_3d_only(pipeline, change: dict, reason: str) -> None:
    frame = scene_frame(seed=6, size=64)
    inputs = dict(image=_image(frame.rgb, stamp=9), detections=_detections(frame.boxes),
                  depth=_depth_image(np.ones((64, 64))), camera_info=_camera_info(64, 64))
    result = pipeline.process(FrameInputs(**{**inputs, **change}), lift=True)
    assert result.depth_error is not None and result.depth_error.reason == reason
    assert len(result.records) == len(frame.boxes)  # the 2D result is whole
    assert all(r.object_3d is None and r.no_3d_reason == "" for r in result.records)


def test_a_depth_image_above_max_image_pixels_is_refused_from_its_header() -> None:
    """A depth Image claiming more pixels than max_image_pixels (with few bytes of data) costs
    the frame its 3D, before its data is read."""
    config = NodeConfig(variant="test", depth=True, max_image_pixels=64 * 64)
    pipeline = FramePipeline.from_config(config)
    frame = scene_frame(seed=6, size=64)
    huge = NS(**{**vars(_depth_image(np.ones((64, 64)))), "height": 30000, "width": 30000})
    result = pipeline.process(FrameInputs(_image(frame.rgb), _detections(frame.boxes),
                                          depth=huge, camera_info=_camera_info(64, 64)))
    assert result.depth_error.reason == DEPTH_TOO_LARGE and "30000x30000" in str(
        result.depth_error)  # fmt: skip
    assert len(result.records) == len(frame.boxes)


def test_too_few_depth_points_fail_per_object(pipeline) -> None:
    frame = scene_frame(seed=6, size=64)
    depth = np.zeros((64, 64))
    depth[:2, :2] = 1.0  # 4 valid readings in a corner
    result = pipeline.process(FrameInputs(
        _image(frame.rgb, stamp=10), _detections(frame.boxes), depth=_depth_image(depth),
        camera_info=_camera_info(64, 64)), lift=True)  # fmt: skip
    assert result.depth_error is None
    reasons = {r.no_3d_reason for r in result.records}
    assert reasons <= {TOO_FEW_POINTS, NO_VALID_DEPTH, NO_VISIBLE_PIXELS} and "" not in reasons
