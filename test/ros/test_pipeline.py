"""The frame pipeline (no ROS): one place runs the predictor, the encoder only for a new image."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from sameo_ros.harness.synthetic_frames import scene_frame
from sameo_ros.params import NodeConfig
from sameo_ros.pipeline import FrameInputs, FramePipeline, ImageKey, Selection


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
        assert a.offset == b.offset and np.array_equal(a.mask, b.mask)
    new = pipeline.process(FrameInputs(_image(frame.rgb, stamp=2), _detections(frame.boxes)))
    assert new.encoded


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
