"""Pinhole intrinsics, image-size scaling and the ROS depth encodings (sameo_core/camera.py)."""

import numpy as np
import pytest

from sameo_core.camera import (
    BAD_INTRINSICS,
    MALFORMED_DEPTH,
    SIZE_MISMATCH,
    UNKNOWN_ENCODING,
    DepthInputError,
    PinholeIntrinsics,
    depth_to_metres,
    matching_scale,
    metres_to_depth,
    resample_depth,
)

K = [525.0, 0.0, 321.7, 0.0, 527.1, 236.2, 0.0, 0.0, 1.0]


def _refused(reason, call, *args, match=None):
    with pytest.raises(DepthInputError, match=match) as info:
        call(*args)
    assert info.value.reason == reason
    assert str(info.value).startswith(reason)
    return info.value


def test_intrinsics_from_camera_info_k():
    camera = PinholeIntrinsics.from_matrix(K, 640, 480)
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (525.0, 527.1, 321.7, 236.2)
    assert camera.size == (480, 640)
    assert PinholeIntrinsics.from_matrix(np.reshape(K, (3, 3)), 640, 480) == camera
    np.testing.assert_array_equal(camera.matrix().ravel(), K)
    numpy_values = PinholeIntrinsics(np.float32(525), np.float64(527.1), 321, 236.2,
                                     np.int64(640), 480)  # fmt: skip
    assert isinstance(numpy_values.fx, float) and isinstance(numpy_values.width, int)


@pytest.mark.parametrize(("k", "match"), [
    ([0.0] * 9, "all zeros"),
    ([0.0, 0, 320, 0, 525, 240, 0, 0, 1], "focal lengths must be > 0"),
    ([-525.0, 0, 320, 0, 525, 240, 0, 0, 1], "focal lengths must be > 0"),
    ([np.nan, 0, 320, 0, 525, 240, 0, 0, 1], "non-finite"),
    ([525.0, 0, 320, 0, np.inf, 240, 0, 0, 1], "non-finite"),
    ([525.0, 2.0, 320, 0, 525, 240, 0, 0, 1], "skew"),
    ([525.0, 0, 320, 0, 525, 240, 0, 0, 2], "not a pinhole"),
    ([525.0, 0, 320, 0, 525, 240], "9 values"),
    (["a"] * 9, "not numeric"),
])  # fmt: skip
def test_bad_camera_matrices_are_refused_with_the_reason(k, match):
    _refused(BAD_INTRINSICS, PinholeIntrinsics.from_matrix, k, 640, 480, match=match)


def test_zero_or_fractional_image_size_is_refused():
    _refused(BAD_INTRINSICS, PinholeIntrinsics.from_matrix, K, 0, 0, match="image size")
    _refused(BAD_INTRINSICS, PinholeIntrinsics, 525.0, 525.0, 320.0, 240.0, 640.5, 480,
             match="image size")  # fmt: skip


def test_back_projection_by_hand_and_round_trip():
    camera = PinholeIntrinsics(500.0, 400.0, 320.0, 240.0, 640, 480)
    # Pixel (420, 140) at 2 m: x = 100 * 2 / 500, y = -100 * 2 / 400.
    np.testing.assert_allclose(camera.back_project(420, 140, 2.0), [0.4, -0.5, 2.0])
    rng = np.random.default_rng(0)
    points = rng.uniform([-1, -1, 0.3], [1, 1, 5], (100, 3))
    uv = camera.project(points)
    np.testing.assert_allclose(camera.back_project(uv[:, 0], uv[:, 1], points[:, 2]), points)
    np.testing.assert_allclose(camera.column_rays(418, 421), [(418 - 320) / 500, 0.198, 0.2])
    np.testing.assert_allclose(camera.row_rays(240, 241), [0.0])


@pytest.mark.parametrize("size", [(320, 240), (1280, 960), (160, 120), (641, 481)])
def test_scaled_intrinsics_follow_the_resized_pixel_grid(size):
    camera = PinholeIntrinsics.from_matrix(K, 640, 480)
    scaled = camera.scaled_to(*size)
    sx, sy = size[0] / 640, size[1] / 480
    assert (scaled.width, scaled.height) == size
    # The documented rule: grids aligned at their outer edges, u' + 1/2 = s (u + 1/2).
    points = np.random.default_rng(1).uniform([-0.5, -0.4, 0.5], [0.5, 0.4, 3.0], (50, 3))
    uv, uv_scaled = camera.project(points), scaled.project(points)
    np.testing.assert_allclose(uv_scaled + 0.5, (uv + 0.5) * [sx, sy], rtol=1e-12)
    # The image's outer edges map onto each other.
    np.testing.assert_allclose(scaled.scaled_to(640, 480).matrix(), camera.matrix())
    assert camera.scaled_to(640, 480) is camera


@pytest.mark.parametrize("size", [(848, 480), (424, 240), (640, 360), (480, 640)])
def test_scaling_to_another_aspect_ratio_is_refused(size):
    camera = PinholeIntrinsics.from_matrix(K, 640, 480)
    _refused(SIZE_MISMATCH, camera.scaled_to, *size, match="aspect ratios")


def test_matching_scale_accepts_rounded_sizes_only():
    assert matching_scale((720, 1280), (360, 640)) == (0.5, 0.5)
    assert matching_scale((481, 641), (240, 320)) == pytest.approx((320 / 641, 240 / 481))
    error = _refused(SIZE_MISMATCH, matching_scale, (720, 1280), (240, 424))
    assert "depth is 424x240, the image is 1280x720" in str(error)
    _refused(SIZE_MISMATCH, matching_scale, (720, 1280), (0, 0), match="empty")


def test_resample_depth_takes_the_pixel_containing_each_centre():
    depth = np.arange(16, dtype=np.float32).reshape(4, 4)
    half = resample_depth(depth, (2, 2))  # centres 0.5, 1.5 of the 2-grid → 1, 3 of the 4-grid
    np.testing.assert_array_equal(half, depth[[1, 3]][:, [1, 3]])
    double = resample_depth(half, (4, 4))
    np.testing.assert_array_equal(double, np.kron(half, np.ones((2, 2), np.float32)))
    assert resample_depth(depth, (4, 4)) is depth
    mixed = resample_depth(np.array([[1.0, 5.0, 9.0]], np.float32), (2, 6))
    assert set(np.unique(mixed)) <= {1.0, 5.0, 9.0}  # never an average across an edge
    _refused(SIZE_MISMATCH, resample_depth, depth, (4, 6))


def test_16uc1_millimetres_with_zero_as_no_reading():
    raw = np.array([[0, 1, 1500], [65535, 0, 800]], np.uint16)
    metres = depth_to_metres(raw, "16UC1")
    assert metres.dtype == np.float32
    np.testing.assert_allclose(metres, [[np.nan, 0.001, 1.5], [65.535, np.nan, 0.8]], rtol=1e-6)
    big_endian = raw.astype(">u2")
    np.testing.assert_array_equal(depth_to_metres(big_endian, "16UC1"), metres)
    np.testing.assert_array_equal(depth_to_metres(raw[..., None], "16UC1"), metres)
    assert raw[0, 0] == 0 and raw.flags.writeable  # the input is not modified


def test_32fc1_metres_with_zero_negative_nan_inf_as_no_reading():
    raw = np.array([[0.0, -1.0, np.nan], [np.inf, 0.7, 2.25]], np.float32)
    raw.flags.writeable = False  # a view of message bytes is read-only
    metres = depth_to_metres(raw, "32FC1")
    np.testing.assert_array_equal(np.isnan(metres), [[True, True, True], [True, False, False]])
    np.testing.assert_array_equal(metres[1, 1:], raw[1, 1:])
    assert np.isinf(raw[1, 0])


@pytest.mark.parametrize("encoding", ["mono16", "16SC1", "32FC3", "rgb8", ""])
def test_unknown_depth_encoding_is_refused(encoding):
    _refused(UNKNOWN_ENCODING, depth_to_metres, np.zeros((4, 4), np.uint16), encoding,
             match="16UC1, 32FC1")  # fmt: skip
    _refused(UNKNOWN_ENCODING, metres_to_depth, np.zeros((4, 4)), encoding)


@pytest.mark.parametrize(("array", "encoding"), [
    (np.zeros((4, 4), np.float32), "16UC1"),
    (np.zeros((4, 4), np.uint16), "32FC1"),
    (np.zeros((4, 4, 3), np.uint16), "16UC1"),
    (np.zeros((0, 4), np.uint16), "16UC1"),
    (np.zeros(4, np.float32), "32FC1"),
])  # fmt: skip
def test_depth_array_that_does_not_fit_its_encoding_is_malformed(array, encoding):
    _refused(MALFORMED_DEPTH, depth_to_metres, array, encoding)


def test_metres_to_depth_inverts_depth_to_metres():
    metres = np.array([[0.0, np.nan, 0.0004, 0.8126], [1.5, np.inf, 70.0, -2.0]])
    mm = metres_to_depth(metres, "16UC1")
    np.testing.assert_array_equal(mm, [[0, 0, 0, 813], [1500, 0, 0, 0]])
    np.testing.assert_allclose(depth_to_metres(mm, "16UC1"),
                               [[np.nan, np.nan, np.nan, 0.813], [1.5, np.nan, np.nan, np.nan]],
                               rtol=1e-6)  # fmt: skip
    floats = metres_to_depth(metres, "32FC1")
    assert floats.dtype == np.float32
    np.testing.assert_array_equal(depth_to_metres(floats, "32FC1"), floats)
    np.testing.assert_array_equal(np.isnan(floats), ~((metres > 0) & np.isfinite(metres)))
