"""Synthetic RGB-D scenes: the ray casting, the ground truth and the sensor noise
(sameo_core/data/rgbd_scenes.py)."""

import numpy as np
import pytest

from sameo_core.camera import PinholeIntrinsics, depth_to_metres
from sameo_core.data.rgbd_scenes import (
    DepthNoise,
    RgbdSceneConfig,
    noisy_depth,
    place_plane,
    random_rgbd_scene,
    render_planes,
)
from sameo_core.data.shapes import ObjectPatch, texture

CAMERA = PinholeIntrinsics(525.0, 527.0, 322.0, 236.0, 640, 480)


def rectangle(rng, rows=60, cols=90):
    return ObjectPatch(texture(rng, rows, cols), np.ones((rows, cols), bool), 2)


def test_a_plane_renders_at_its_projected_size_and_depth():
    rng = np.random.default_rng(0)
    plane = place_plane(rectangle(rng), 0.30, 1.2, (300.0, 250.0), CAMERA)
    assert plane.size_m == pytest.approx((0.30, 0.20))
    scene = render_planes([plane], CAMERA, np.zeros((480, 640, 3), np.uint8), 2.5)
    x0, y0, x1, y1 = scene.amodal[0].box()
    # 0.30 m at 1.2 m is 0.30 * 525 / 1.2 = 131.25 px wide, 0.20 m is 87.8 px high.
    assert abs((x1 - x0) - 131.25) <= 1 and abs((y1 - y0) - 0.20 * 527 / 1.2) <= 1
    assert abs((x0 + x1) / 2 - 0.5 - 300) <= 0.5 and abs((y0 + y1) / 2 - 0.5 - 250) <= 0.5
    full = scene.amodal[0].paste(480, 640)
    assert np.all(scene.depth_m[full] == np.float32(1.2))
    assert np.all(scene.depth_m[~full] == np.float32(2.5))
    assert np.array_equal(scene.visible[0].paste(480, 640), full)
    # The visible centroid of a whole rectangle is its metric centre (to a pixel footprint).
    centre = np.array([*plane.corner_m, 0]) + [0.15, 0.10, 1.2]
    np.testing.assert_allclose(scene.visible_centroid_m[0], centre, atol=1.2 / 525)
    assert scene.occlusion_rates().tolist() == [0.0]
    assert scene.rgb[full].std() > 0  # textured


def test_a_nearer_plane_hides_a_farther_one():
    rng = np.random.default_rng(1)
    back = place_plane(rectangle(rng), 0.30, 1.2, (320.0, 240.0), CAMERA)
    front = place_plane(rectangle(rng, 90, 90), 0.30, 0.8, (320.0 + 0.15 * 525 / 0.8, 240.0),
                        CAMERA)  # fmt: skip
    scene = render_planes([back, front], CAMERA, np.zeros((480, 640, 3), np.uint8), 2.5)
    assert scene.front_to_back == (1, 0)
    assert scene.occlusions() == {(1, 0)}
    assert scene.occlusion_rates()[0] == pytest.approx(0.5, abs=0.02)
    assert scene.occlusion_rates()[1] == 0.0
    back_full, front_full = (m.paste(480, 640) for m in scene.amodal)
    np.testing.assert_array_equal(scene.visible[0].paste(480, 640), back_full & ~front_full)
    assert np.all(scene.depth_m[front_full] == np.float32(0.8))


def test_planes_must_be_in_front_of_the_background_at_distinct_depths():
    rng = np.random.default_rng(2)
    backdrop = np.zeros((480, 640, 3), np.uint8)
    a = place_plane(rectangle(rng), 0.2, 1.0, (100.0, 100.0), CAMERA)
    with pytest.raises(ValueError, match="distinct"):
        render_planes([a, a], CAMERA, backdrop, 2.0)
    with pytest.raises(ValueError, match="must lie in"):
        render_planes([a], CAMERA, backdrop, 0.9)
    with pytest.raises(ValueError, match="backdrop"):
        render_planes([a], CAMERA, backdrop[:10], 2.0)


def test_a_plane_beyond_the_image_border_keeps_its_whole_amodal_mask():
    rng = np.random.default_rng(3)
    plane = place_plane(rectangle(rng), 0.30, 1.0, (10.0, 240.0), CAMERA)  # half outside
    scene = render_planes([plane], CAMERA, np.zeros((480, 640, 3), np.uint8), 2.5)
    amodal = scene.amodal[0]
    assert amodal.offset[0] < 0
    assert abs(amodal.mask.shape[1] - 0.30 * 525 / 1.0) <= 1
    assert scene.visible[0].area == amodal.inside(480, 640).area < amodal.area


def test_random_scenes_are_consistent_and_seeded():
    cfg = RgbdSceneConfig()
    first = random_rgbd_scene(np.random.default_rng(4), cfg)
    again = random_rgbd_scene(np.random.default_rng(4), cfg)
    assert np.array_equal(first.rgb, again.rgb) and np.array_equal(first.depth_m, again.depth_m)
    occluded = 0
    for seed in range(12):
        scene = random_rgbd_scene(np.random.default_rng([5, seed]), cfg)
        n = len(scene.planes)
        assert cfg.num_objects[0] <= n <= cfg.num_objects[1]
        assert scene.rgb.shape == (480, 640, 3) and scene.depth_m.dtype == np.float32
        depths = sorted(p.depth_m for p in scene.planes)
        assert np.all(np.diff(depths) >= cfg.min_depth_gap_m - 1e-12)
        assert cfg.depth_range_m[0] <= depths[0] and depths[-1] <= cfg.depth_range_m[1]
        owner = np.zeros((480, 640), int)
        for i, (amodal, visible) in enumerate(zip(scene.amodal, scene.visible)):
            x0, y0, x1, y1 = amodal.box()
            assert x0 >= 0 and y0 >= 0 and x1 <= 640 and y1 <= 480  # inside the image
            full_visible = visible.paste(480, 640)
            assert not (full_visible & ~amodal.paste(480, 640)).any()
            assert not (owner[full_visible]).any()  # visible masks are disjoint
            owner[full_visible] = i + 1
            assert np.all(scene.depth_m[full_visible] == np.float32(scene.planes[i].depth_m))
        assert np.all(scene.depth_m[owner == 0] == np.float32(scene.background_depth_m))
        for front, back in scene.occlusions():
            assert scene.planes[front].depth_m < scene.planes[back].depth_m
        occluded += int((scene.occlusion_rates() > 0).sum())
    assert occluded >= 12  # overlap_probability makes occlusion common


def test_config_refuses_impossible_scenes():
    with pytest.raises(ValueError, match="do not fit"):
        RgbdSceneConfig(num_objects=(2, 30), depth_range_m=(0.5, 1.5), min_depth_gap_m=0.05)
    with pytest.raises(ValueError, match="background"):
        RgbdSceneConfig(depth_range_m=(0.5, 3.0))
    with pytest.raises(ValueError, match="num_objects"):
        RgbdSceneConfig(num_objects=(3, 2))


def test_depth_images_in_both_encodings_decode_to_the_scene_depth():
    scene = random_rgbd_scene(np.random.default_rng(6))
    mm = scene.depth_image("16UC1")
    assert mm.dtype == np.uint16
    np.testing.assert_allclose(depth_to_metres(mm, "16UC1"), scene.depth_m, atol=0.0005)
    np.testing.assert_array_equal(depth_to_metres(scene.depth_image("32FC1"), "32FC1"),
                                  scene.depth_m)  # fmt: skip


def test_noisy_depth_has_the_requested_noise_dropouts_outliers_and_flying_pixels():
    scene = random_rgbd_scene(np.random.default_rng(7))
    noise = DepthNoise(relative_std=0.01, dropout=0.1, outliers=0.05)
    noisy = noisy_depth(scene.depth_m, np.random.default_rng(8), noise)
    assert noisy.dtype == np.float32 and noisy.shape == scene.depth_m.shape
    assert np.isnan(noisy).mean() == pytest.approx(0.1, abs=0.01)
    relative = (noisy / scene.depth_m - 1)[~np.isnan(noisy)]
    assert np.abs(relative).mean() > 0.005
    assert (np.abs(relative) > 0.1).mean() == pytest.approx(0.05 * 0.8, abs=0.02)
    clean = noisy_depth(scene.depth_m, np.random.default_rng(8),
                        DepthNoise(0.0, 0.0, 0.0, flying_pixels=True))  # fmt: skip
    mixed = clean != scene.depth_m
    assert mixed.any() and mixed.mean() < 0.1  # only along depth edges
    assert np.array_equal(noisy_depth(scene.depth_m, np.random.default_rng(8), noise), noisy,
                          equal_nan=True)  # fmt: skip
