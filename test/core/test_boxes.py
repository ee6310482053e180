import numpy as np
import pytest

from sameo_core.boxes import (
    BAD_SCORE,
    DEGENERATE,
    NON_FINITE,
    OUTSIDE,
    as_box_array,
    sanitize_boxes,
)


def test_sanitize_clips_and_reports_every_reason():
    boxes = np.array([
        [10, 10, 50, 50],        # fine
        [-20, 5, 30, 500],       # reaches out of the image: clipped
        [np.nan, 0, 10, 10],     # NaN
        [0, 0, np.inf, 10],      # inf
        [30, 30, 30, 40],        # zero width
        [50, 50, 40, 60],        # negative width
        [200, 10, 300, 40],      # beyond the right edge
        [-50, -50, -10, -10],    # above-left of the image
        [5, 5, 20, 20],          # NaN score
    ], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, np.nan])
    clipped, rejected = sanitize_boxes(boxes, (100, 150), scores)
    assert rejected == {2: NON_FINITE, 3: NON_FINITE, 4: DEGENERATE, 5: DEGENERATE,
                        6: OUTSIDE, 7: OUTSIDE, 8: BAD_SCORE}
    np.testing.assert_array_equal(clipped[0], [10, 10, 50, 50])
    np.testing.assert_array_equal(clipped[1], [0, 5, 30, 100])


def test_as_box_array_shapes():
    assert as_box_array([]).shape == (0, 4)
    assert as_box_array([[1, 2, 3, 4]]).dtype == np.float64
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        as_box_array([1, 2, 3, 4])
    with pytest.raises(TypeError, match="numeric"):
        as_box_array(np.array([["a", "b", "c", "d"]]))
