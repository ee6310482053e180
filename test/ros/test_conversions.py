"""Image and Detection2DArray conversions (duck-typed messages, no ROS needed)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from sameo_ros.conversions import (
    ConversionError,
    detections_to_prompts,
    image_to_rgb,
    mono8_fields,
    mono8_to_mask,
    stamp_ns,
    xyxy_to_center_size,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _image(pixels: np.ndarray, encoding: str, pad: int = 0, data_type: type = bytes) -> NS:
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, pad), 7, np.uint8)], axis=1)
    data = padded.tobytes() if data_type is bytes else padded.reshape(-1)
    return NS(height=height, width=width, encoding=encoding, step=padded.shape[1], data=data)


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize(
    "encoding, make",
    [
        ("rgb8", lambda p: p),
        ("bgr8", lambda p: p[:, :, ::-1]),
        ("rgba8", lambda p: np.dstack([p, np.full(p.shape[:2], 9, np.uint8)])),
        ("bgra8", lambda p: np.dstack([p[:, :, ::-1], np.full(p.shape[:2], 9, np.uint8)])),
    ],
)
def test_color_encodings_give_rgb_and_honour_step(encoding, make, pad: int) -> None:
    out = image_to_rgb(_image(np.ascontiguousarray(make(RGB)), encoding, pad))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, RGB)


def test_mono8_is_replicated_and_numpy_data_accepted() -> None:
    gray = RGB[:, :, 0].copy()
    out = image_to_rgb(_image(gray, "mono8", pad=1, data_type=np.ndarray))
    np.testing.assert_array_equal(out, np.dstack([gray] * 3))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(encoding="yuv422"), "unsupported image encoding"),
        (dict(step=20), "step 20 is smaller than width"),
        (dict(data=b"\0" * 10), r"expected step\*height"),
        (dict(height=0, data=b""), "empty image"),
    ],
)
def test_bad_images_raise_a_clear_error(change: dict, message: str) -> None:
    msg = _image(RGB, "rgb8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ConversionError, match=message):
        image_to_rgb(msg)


def _det(cx, cy, w, h, det_id="", hyps=()) -> NS:
    results = [NS(hypothesis=NS(class_id=c, score=s)) for c, s in hyps]
    bbox = NS(center=NS(position=NS(x=cx, y=cy), theta=0.0), size_x=w, size_y=h)
    return NS(bbox=bbox, id=det_id, results=results)


def test_detections_become_xyxy_boxes_with_best_hypothesis() -> None:
    msg = NS(
        detections=[
            _det(10, 20, 4, 6, "cup", [("cup", 0.4), ("mug", 0.9)]),
            _det(float("nan"), 5, 2, 2),
        ]
    )
    prompts = detections_to_prompts(msg)
    np.testing.assert_allclose(prompts.boxes[0], [8, 17, 12, 23])
    assert np.isnan(prompts.boxes[1, 0])  # passed on; the predictor rejects it
    assert prompts.ids == ("cup", "1") and prompts.class_ids == ("mug", "")
    np.testing.assert_allclose(prompts.scores, [0.9, 1.0])
    assert xyxy_to_center_size(prompts.boxes[0]) == (10.0, 20.0, 4.0, 6.0)


def test_mono8_mask_round_trip_and_stamp() -> None:
    mask = RNG.random((4, 6)) > 0.5
    fields = mono8_fields(mask)
    assert fields["step"] == 6 and set(np.unique(fields["data"])) <= {0, 255}
    np.testing.assert_array_equal(mono8_to_mask(NS(**fields)), mask)
    assert stamp_ns(NS(sec=3, nanosec=5)) == 3_000_000_005
