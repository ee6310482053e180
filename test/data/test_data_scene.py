"""Procedural shapes and `generate_scene`, the in-process training data source, and the cluttered
640x480 scenes of the demos."""

import numpy as np
import pytest

from sameo_core.data import rle
from sameo_core.data.procedural_scenes import CLUTTERED, SceneConfig, generate_scene
from sameo_core.data.shapes import SHAPE_KINDS, background, shape_mask, texture


@pytest.mark.parametrize("kind", SHAPE_KINDS)
def test_every_shape_kind_gives_a_tight_nonempty_mask(kind):
    mask = shape_mask(np.random.default_rng(1), kind, 30, 18)
    assert mask.dtype == bool and mask.any()
    assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
    assert max(mask.shape) <= 2 * 30


def test_scenes_have_2_to_4_objects_with_valid_occlusion():
    cfg = SceneConfig(image_size=128)
    counts, occluded, unoccluded = set(), 0, 0
    for i in range(40):
        image, instances = generate_scene(np.random.default_rng([3, i]), cfg)
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        counts.add(len(instances))
        front = np.zeros((128, 128), bool)
        for inst in reversed(instances):  # back to front order: recompute visibility
            assert np.array_equal(inst.visible_mask, inst.amodal_mask & ~front)
            front |= inst.amodal_mask
            # boxes agree with pycocotools' toBbox
            assert inst.amodal_box == rle.bbox(rle.encode(inst.amodal_mask))
            assert inst.visible_box == rle.bbox(rle.encode(inst.visible_mask))
            if inst.occlusion_rate > 0:
                occluded += 1
                assert 0.1 <= inst.occlusion_rate <= 0.7
            else:
                unoccluded += 1
    assert counts <= {2, 3, 4} and len(counts) >= 2
    assert occluded >= 10 and unoccluded >= 10


def test_scene_is_deterministic_for_a_seed():
    a_img, a = generate_scene(np.random.default_rng(5), SceneConfig(image_size=64))
    b_img, b = generate_scene(np.random.default_rng(5), SceneConfig(image_size=64))
    assert np.array_equal(a_img, b_img) and len(a) == len(b)
    assert all(np.array_equal(x.amodal_mask, y.amodal_mask) for x, y in zip(a, b))


def test_scene_config_is_validated():
    with pytest.raises(ValueError, match="occlusion_range"):
        SceneConfig(occlusion_range=(0.5, 0.2))
    with pytest.raises(ValueError, match="image_size"):
        SceneConfig(image_size=8)
    with pytest.raises(ValueError, match="occlude_probability"):
        SceneConfig(occlude_probability=1.5)
    with pytest.raises(ValueError, match="canvas"):
        SceneConfig(image_size=128, canvas=(160, 100))
    with pytest.raises(ValueError, match="texture_scale"):
        SceneConfig(texture_scale=0.0)


def test_scenes_know_their_true_layer_order():
    from sameo_core.data.procedural_scenes import layer_occluders

    cfg = SceneConfig(image_size=96)
    chains = 0
    for i in range(30):
        _, instances = generate_scene(np.random.default_rng([4, i]), cfg)
        assert [inst.occluded_by for inst in instances] == layer_occluders(
            [inst.amodal_mask for inst in instances])
        for k, inst in enumerate(instances):
            # in front = painted later; listed = the amodal masks overlap
            for other in range(len(instances)):
                overlap = (inst.amodal_mask & instances[other].amodal_mask).any()
                assert (other in inst.occluded_by) == (other > k and overlap)
            hidden = inst.amodal_mask & ~inst.visible_mask
            covering = np.logical_or.reduce(
                [instances[o].amodal_mask for o in inst.occluded_by] or [np.zeros_like(hidden)])
            assert not (hidden & ~covering).any()  # what is hidden is hidden by an occluder
            chains += any(instances[o].occluded_by for o in inst.occluded_by)
    assert chains > 0  # some scenes stack three layers


def test_cluttered_demo_scenes_are_640x480_and_mostly_30_to_70_percent_hidden():
    rates, counts = [], []
    for seed in range(6):
        image, instances = generate_scene(np.random.default_rng(seed), CLUTTERED)
        assert image.shape == (480, 640, 3)
        counts.append(len(instances))
        front = np.zeros((480, 640), bool)
        for inst in reversed(instances):
            assert np.array_equal(inst.visible_mask, inst.amodal_mask & ~front)
            front |= inst.amodal_mask
        rates += [inst.occlusion_rate for inst in instances]
    rates = np.array(rates)
    assert min(counts) >= 5 and max(counts) <= 8
    hidden = rates[rates > 0]
    assert ((hidden >= 0.3) & (hidden <= 0.7)).all()
    assert len(hidden) >= 0.5 * len(rates)  # most objects are partly hidden


def test_texture_scale_coarsens_the_grain_and_leaves_scale_1_unchanged():
    def roughness(img: np.ndarray) -> float:  # mean step between neighbouring pixels
        return float(np.abs(np.diff(img.astype(float), axis=1)).mean())

    fine = background(np.random.default_rng(0), 120, 160)
    coarse = background(np.random.default_rng(0), 480, 640, scale=4.0)
    assert roughness(coarse) < 0.5 * roughness(fine)
    for f in (texture, background):  # the training scenes' draws are those of scale 1
        np.testing.assert_array_equal(f(np.random.default_rng(1), 30, 40),
                                      f(np.random.default_rng(1), 30, 40, scale=1.0))


def test_a_non_square_canvas_keeps_object_sizes_relative_to_image_size():
    cfg = SceneConfig(image_size=64, canvas=(96, 64), num_objects=(3, 3))
    image, instances = generate_scene(np.random.default_rng(2), cfg)
    assert image.shape == (64, 96, 3)
    for inst in instances:
        assert inst.amodal_mask.shape == (64, 96)
        x, y, w, h = inst.amodal_box
        assert max(w, h) <= 0.45 * 64 + 1
