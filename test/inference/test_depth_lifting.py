"""3D from depth on synthetic RGB-D scenes with exact geometry, and every bad-input outcome
(sameo_core/inference/depth_lifting.py; README, "3D from depth")."""

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
)
from sameo_core.data import rgbd_scenes
from sameo_core.data.rgbd_scenes import (
    DepthNoise,
    RgbdSceneConfig,
    noisy_depth,
    place_plane,
    random_rgbd_scene,
    render_planes,
)
from sameo_core.data.shapes import ObjectPatch, texture
from sameo_core.geometry import RoiMask
from sameo_core.inference.depth_lifting import (
    DEPTH_ALL_INVALID,
    NO_SURFACE,
    NO_VALID_DEPTH,
    NO_VISIBLE_PIXELS,
    TOO_FEW_POINTS,
    LiftingConfig,
    depth_order_evidence,
    lift_objects,
)

CAMERA = PinholeIntrinsics(525.0, 527.0, 322.0, 236.0, 640, 480)
SIZE = (480, 640)


def scenes(n, seed=0, config=None):
    return [random_rgbd_scene(np.random.default_rng([seed, i]), config) for i in range(n)]


def lift(scene, depth=None, encoding="16UC1", **kwargs):
    """The library as the node will call it: a decoded ROS depth image and its encoding."""
    raw = scene.depth_image(encoding, depth)
    return lift_objects(scene.visible, scene.amodal, depth_to_metres(raw, encoding),
                        scene.intrinsics, scene.depth_m.shape, **kwargs)  # fmt: skip


def centroid_errors(scene, result):
    """|centroid - true visible centroid| / true depth, per lifted object."""
    return {o.index: np.linalg.norm(o.centroid - scene.visible_centroid_m[o.index])
            / scene.planes[o.index].depth_m for o in result.objects}  # fmt: skip


def half_occluded_scene():
    """A 0.30 x 0.20 m rectangle at 1.2 m whose right half is hidden by a plane at 0.8 m."""
    return rgbd_scenes.half_occluded_scene(CAMERA)


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_visible_centroid_within_1_percent_of_the_depth(encoding):
    lifted = hidden = 0
    for scene in scenes(8):
        result = lift(scene, encoding=encoding)
        errors = centroid_errors(scene, result)
        assert max(errors.values()) < 0.01
        for index, reason in result.failed.items():  # only objects hidden entirely fail
            assert reason == NO_VISIBLE_PIXELS and scene.visible[index].area == 0
        lifted += len(errors)
        hidden += len(result.failed)
        for o in result.objects:
            true_depth = scene.planes[o.index].depth_m
            assert abs(o.depth - true_depth) <= 0.0005  # 16UC1 rounds to the millimetre
            assert o.valid_points == len(o.points) == scene.visible[o.index].area
    assert lifted >= 20


def test_amodal_extent_of_a_half_occluded_plane_within_5_percent():
    scene = half_occluded_scene()
    assert scene.occlusion_rates()[0] == pytest.approx(0.5, abs=0.02)
    for depth in (None, noisy_depth(scene.depth_m, np.random.default_rng(0), DepthNoise())):
        result = lift(scene, depth)
        back = next(o for o in result.objects if o.index == 0)
        width, height, _ = back.amodal_size
        assert width == pytest.approx(0.30, rel=0.05) and height == pytest.approx(0.20, rel=0.05)
        visible_width = back.visible_box[3] - back.visible_box[0]
        assert visible_width == pytest.approx(0.15, rel=0.05)  # what the visible part alone says
        assert back.depth == pytest.approx(1.2, rel=0.005)


def test_amodal_extent_of_random_occluded_planes_within_5_percent():
    checked = 0
    for scene in scenes(10, seed=1):
        result = lift(scene)
        rates = scene.occlusion_rates()
        for o in result.objects:
            error = np.abs(o.amodal_size[:2] / scene.extent_m[o.index] - 1)
            assert error.max() < 0.05, (o.index, o.amodal_size, scene.extent_m[o.index])
            checked += int(rates[o.index] > 0.2)
    assert checked >= 5


def test_amodal_extent_reaches_beyond_the_image():
    rng = np.random.default_rng(12)
    patch = ObjectPatch(texture(rng, 60, 90), np.ones((60, 90), bool), 2)
    plane = place_plane(patch, 0.30, 1.0, (5.0, 240.0), CAMERA)  # about half outside
    scene = render_planes([plane], CAMERA, texture(rng, 480, 640), 2.5)
    (o,) = lift(scene).objects
    np.testing.assert_allclose(o.amodal_size[:2], (0.30, 0.20), rtol=0.05)
    assert o.visible_box[3] - o.visible_box[0] < 0.2


def test_order_from_depth_is_exact_on_planes():
    pairs = hidden_backs = 0
    for scene in scenes(12, seed=2):
        result = lift(scene)
        truth = scene.occlusions()
        assert set(result.order_evidence) == {tuple(sorted(p)) for p in truth}
        height, width = SIZE
        for front, back in truth:
            i, j = sorted((front, back))
            score = result.order_evidence[(i, j)]
            overlap = scene.amodal[front].paste(height, width) & scene.amodal[back].paste(
                height, width)
            if (overlap & scene.visible[front].paste(height, width)).any() and (
                front not in result.failed
            ):
                assert np.sign(score) == (1 if front == i else -1), (front, back, score)
                pairs += 1
                hidden_backs += back in result.failed
            else:  # a third plane hides the whole overlap: no depth evidence either way
                assert score == 0.0
    assert pairs >= 10 and hidden_backs >= 1  # a plane hidden entirely is behind


def test_order_score_is_one_where_the_front_plane_covers_the_overlap():
    scene = half_occluded_scene()
    assert lift(scene).order_evidence == {(0, 1): -1.0}  # object 1 (0.8 m) is in front of 0
    swapped = lift_objects(scene.visible[::-1], scene.amodal[::-1], scene.depth_m, CAMERA, SIZE)
    assert swapped.order_evidence == {(0, 1): 1.0}


def test_noise_outliers_and_flying_pixels_are_rejected():
    errors, naive, rejected = [], [], 0
    for scene in scenes(10, seed=3):
        depth = noisy_depth(scene.depth_m, np.random.default_rng(0), DepthNoise())
        result = lift(scene, depth)
        robust = centroid_errors(scene, result)
        for o in result.objects:
            if scene.visible[o.index].area < 500:
                continue  # slivers along a depth edge: see README, "3D from depth"
            errors.append(robust[o.index])
            assert abs(o.depth / scene.planes[o.index].depth_m - 1) < 0.01
            rejected += o.valid_points - len(o.points)
            # The mean of every valid reading under the mask, without the rule:
            full = scene.visible[o.index].paste(*SIZE)
            z = depth[full]
            z = z[z > 0]
            naive.append(abs(z.mean() / scene.planes[o.index].depth_m - 1))
    assert len(errors) >= 20 and max(errors) < 0.01
    assert rejected > 0 and max(naive) > 0.02  # the rule matters on these readings


def test_a_plane_mostly_covered_by_wrong_readings_keeps_its_depth():
    scene = half_occluded_scene()
    depth = scene.depth_m.copy()
    full = scene.visible[0].paste(*SIZE)
    rows, cols = np.nonzero(full)
    wrong = np.random.default_rng(0).random(len(rows)) < 0.4  # 40 % of the readings
    depth[rows[wrong], cols[wrong]] = 2.5  # the background, as a bleeding mask would see it
    back = next(o for o in lift(scene, depth, "32FC1").objects if o.index == 0)
    assert back.depth == pytest.approx(1.2, abs=1e-6)
    assert back.valid_points - len(back.points) == wrong.sum()


def test_readings_without_a_majority_surface_give_no_3d_rather_than_a_mixture():
    scene = half_occluded_scene()
    depth = scene.depth_m.copy()
    full = scene.visible[0].paste(*SIZE)
    rows, cols = np.nonzero(full)
    thirds = np.arange(len(rows)) % 3  # three surfaces, none with half of the readings
    depth[rows, cols] = np.choose(thirds, [0.9, 1.2, 1.6]).astype(np.float32)
    result = lift_objects(scene.visible, scene.amodal, depth, CAMERA, SIZE)
    assert result.failed == {0: NO_SURFACE}
    assert result.order_evidence == {(0, 1): 0.0}
    depth[rows, cols] = np.choose(thirds % 2, [1.2, 1.6]).astype(np.float32)  # 2/3 at 1.2 m
    (back, _) = lift_objects(scene.visible, scene.amodal, depth, CAMERA, SIZE).objects
    assert back.depth == pytest.approx(1.2)
    loose = LiftingConfig(max_spread=1.0)
    depth[rows, cols] = np.choose(thirds, [0.9, 1.2, 1.6]).astype(np.float32)
    assert lift_objects(scene.visible, scene.amodal, depth, CAMERA, SIZE, loose).failed == {}


def test_too_few_valid_points_and_no_valid_depth_are_per_object_outcomes():
    scene = half_occluded_scene()
    depth = scene.depth_m.copy()
    full = scene.visible[0].paste(*SIZE)
    rows, cols = np.nonzero(full)
    depth[full] = np.nan
    depth[rows[:19], cols[:19]] = 1.2  # 19 valid readings left, one fewer than the minimum
    result = lift_objects(scene.visible, scene.amodal, depth, CAMERA, SIZE)
    assert result.failed == {0: TOO_FEW_POINTS}
    assert [o.index for o in result.objects] == [1]  # the other object is unaffected
    assert result.order_evidence == {(0, 1): 0.0}  # no depth evidence without 3D of object 0
    depth[rows[19], cols[19]] = 1.2
    (back, _) = lift_objects(scene.visible, scene.amodal, depth, CAMERA, SIZE).objects
    assert back.valid_points == 20
    few = lift_objects(scene.visible, scene.amodal, depth, CAMERA, SIZE,
                       LiftingConfig(min_valid_points=21))  # fmt: skip
    assert few.failed == {0: TOO_FEW_POINTS}
    depth[full] = 0.0  # all invalid under the visible mask (zeros, as 16UC1 has them)
    assert lift_objects(scene.visible, scene.amodal, depth, CAMERA, SIZE).failed == {
        0: NO_VALID_DEPTH}


def test_empty_or_outside_visible_masks_have_no_3d():
    scene = half_occluded_scene()
    outside = RoiMask(np.ones((5, 5), bool), (700, 100))
    result = lift_objects([RoiMask.empty(), outside], [RoiMask.empty(), outside], scene.depth_m,
                          CAMERA, SIZE)  # fmt: skip
    assert result.failed == {0: NO_VISIBLE_PIXELS, 1: NO_VISIBLE_PIXELS}
    assert result.objects == [] and result.order_evidence == {}
    points, labels = result.labelled_points()
    assert points.shape == (0, 3) and labels.shape == (0,)


def _refused(reason, *args, **kwargs):
    with pytest.raises(DepthInputError) as info:
        lift_objects(*args, **kwargs)
    assert info.value.reason == reason
    return str(info.value)


@pytest.mark.parametrize("invalid", [0.0, np.nan, np.inf, -1.0, 1e9])
def test_depth_all_invalid_is_a_frame_outcome(invalid):
    scene = half_occluded_scene()
    depth = np.full(SIZE, invalid, np.float32)
    message = _refused(DEPTH_ALL_INVALID, scene.visible, scene.amodal, depth, CAMERA, SIZE)
    assert "640x480 depth image" in message
    raw = np.zeros(SIZE, np.uint16)  # a 16UC1 image without a single reading
    _refused(DEPTH_ALL_INVALID, [], [], depth_to_metres(raw, "16UC1"), CAMERA, SIZE)


def test_missing_or_zero_intrinsics_are_frame_outcomes():
    scene = half_occluded_scene()
    message = _refused(BAD_INTRINSICS, scene.visible, scene.amodal, scene.depth_m, None, SIZE)
    assert "no CameraInfo" in message
    with pytest.raises(DepthInputError) as info:
        PinholeIntrinsics.from_matrix(np.zeros(9), 640, 480)
    assert info.value.reason == BAD_INTRINSICS
    with pytest.raises(TypeError, match="PinholeIntrinsics"):
        lift_objects(scene.visible, scene.amodal, scene.depth_m, CAMERA.matrix(), SIZE)


def test_unknown_encoding_is_a_frame_outcome():
    scene = half_occluded_scene()
    with pytest.raises(DepthInputError) as info:
        depth_to_metres(scene.depth_image("16UC1"), "16UC2")
    assert info.value.reason == UNKNOWN_ENCODING
    message = _refused(MALFORMED_DEPTH, scene.visible, scene.amodal, scene.depth_image("16UC1"),
                       CAMERA, SIZE)  # fmt: skip
    assert "depth_to_metres" in message  # raw millimetres passed as metres


def test_depth_and_intrinsics_of_a_same_aspect_resize_are_scaled():
    cfg = RgbdSceneConfig()
    for scene in scenes(4, seed=4, config=cfg):
        full = lift(scene, encoding="32FC1")
        half_depth = scene.depth_m[1::2, 1::2]  # the pixel containing each half-size centre
        half_camera = scene.intrinsics.scaled_to(320, 240)
        for depth, camera in ((half_depth, scene.intrinsics), (scene.depth_m, half_camera),
                              (half_depth, half_camera)):
            result = lift_objects(scene.visible, scene.amodal, depth, camera, SIZE)
            assert result.intrinsics.size == SIZE
            np.testing.assert_allclose(result.intrinsics.matrix(), scene.intrinsics.matrix())
            errors = centroid_errors(scene, result)
            assert set(errors) == set(centroid_errors(scene, full))
            assert max(errors.values()) < 0.01
            assert set(result.order_evidence) == set(full.order_evidence)


@pytest.mark.parametrize("shape", [(480, 848), (240, 424), (360, 640)])
def test_depth_or_intrinsics_of_another_aspect_ratio_are_refused(shape):
    scene = half_occluded_scene()
    depth = np.ones(shape, np.float32)
    message = _refused(SIZE_MISMATCH, scene.visible, scene.amodal, depth, CAMERA, SIZE)
    assert f"depth is {shape[1]}x{shape[0]}, the image is 640x480" in message
    other = PinholeIntrinsics(525.0, 525.0, shape[1] / 2, shape[0] / 2, shape[1], shape[0])
    message = _refused(SIZE_MISMATCH, scene.visible, scene.amodal, scene.depth_m, other, SIZE)
    assert "camera intrinsics is" in message


@pytest.mark.parametrize("depth", [np.ones((480, 640, 3), np.float32), np.ones(5, np.float32),
                                   np.ones((0, 0), np.float32), [[1.0]]])  # fmt: skip
def test_malformed_depth_arrays_are_refused(depth):
    _refused(MALFORMED_DEPTH, [], [], depth, CAMERA, SIZE)


def test_mask_lists_must_pair_up():
    with pytest.raises(ValueError, match="1 visible masks for 0 amodal"):
        lift_objects([RoiMask.empty()], [], np.ones(SIZE, np.float32), CAMERA, SIZE)


def test_labelled_points_and_boxes_are_consistent():
    scene = scenes(1, seed=5)[0]
    result = lift(scene)
    points, labels = result.labelled_points()
    assert points.dtype == np.float32 and labels.dtype == np.int32
    assert len(points) == sum(len(o.points) for o in result.objects) == len(labels)
    for o in result.objects:
        mine = points[labels == o.index]
        np.testing.assert_array_equal(mine, o.points)
        assert np.all(mine >= o.visible_box[:3] - 1e-6)
        assert np.all(mine <= o.visible_box[3:] + 1e-6)
        # The amodal extent contains the visible part, and its z range is the visible one.
        assert np.all(o.amodal_box[:2] <= o.visible_box[:2] + 1e-9)
        assert np.all(o.amodal_box[3:5] >= o.visible_box[3:5] - 1e-9)
        np.testing.assert_allclose(o.amodal_box[[2, 5]], o.visible_box[[2, 5]], rtol=1e-6)


def test_order_evidence_alone_matches_the_frame_result():
    scene = scenes(1, seed=6)[0]
    result = lift(scene, encoding="32FC1")
    hidden = [i for i, reason in result.failed.items() if reason == NO_VISIBLE_PIXELS]
    assert hidden  # this scene has a plane hidden entirely
    assert depth_order_evidence(scene.amodal, scene.depth_m, result.objects, hidden) == (
        result.order_evidence)
    assert depth_order_evidence(scene.amodal, scene.depth_m, []) == {
        pair: 0.0 for pair in result.order_evidence}


@pytest.mark.parametrize("kwargs", [
    {"min_valid_points": 0}, {"mad_k": 0.5}, {"min_tolerance_m": -1.0}, {"max_depth_m": np.inf},
    {"max_spread": 0.0},
])  # fmt: skip
def test_config_refuses_bad_values(kwargs):
    with pytest.raises(ValueError):
        LiftingConfig(**kwargs)
