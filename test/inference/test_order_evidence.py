"""The order head at inference: the predictor's pair scores (both post-processing paths, the pair
bound, host syncs) and the learned evidence term of `occlusion_order`."""

import numpy as np
import pytest
import torch

from sameo_core.geometry import RoiMask
from sameo_core.inference import AmodalPredictor, PredictorConfig
from sameo_core.inference import predictor as predictor_module
from sameo_core.inference.host_syncs import count_syncs
from sameo_core.inference.occlusion_order import OrderConfig, occlusion_order
from sameo_core.inference.predictor import pair_evidence
from sameo_core.model import build_sameo

BOXES = np.array([[5, 5, 40, 40], [20, 10, 60, 45], [30, 30, 69, 49], [0, 0, 4, 4.0]])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    net = build_sameo("test", order_head=True)
    # scaled so that the random head's scores are far from 0
    with torch.no_grad():
        net.order_head.net[-1].weight.mul_(50)
    return net


@pytest.fixture(scope="module")
def image():
    return (np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8)


def _predict(model, image, boxes, **config):
    predictor = AmodalPredictor(model, config=PredictorConfig(**config))
    predictor.set_image(image)
    return predictor.predict(boxes)


def _box_pairs(masks):
    pairs = set()
    for i, a in enumerate(masks):
        for j in range(i + 1, len(masks)):
            b = masks[j].box
            if min(a.box[2], b[2]) > max(a.box[0], b[0]) and \
                    min(a.box[3], b[3]) > max(a.box[1], b[1]):
                pairs.add((i, j))
    return pairs


def test_both_paths_score_the_pairs_of_overlapping_boxes_antisymmetrically(model, image):
    roi = _predict(model, image, BOXES, postprocess="roi", chunk_size=2)
    batched = _predict(model, image, BOXES, postprocess="batched")
    assert roi.pair_order and set(roi.pair_order) == _box_pairs(roi.masks)
    assert set(batched.pair_order) == set(roi.pair_order)
    for key, value in roi.pair_order.items():
        assert abs(batched.pair_order[key] - value) < 1e-5
        assert -1 < value < 1
    for mask in roi.masks:  # each mask holds s(this, other), the other -s
        for other, score in mask.pair_order.items():
            assert roi.masks[other].pair_order[mask.index] == -score
    # the evidence of a subset of the masks, in that subset's positions
    subset = [roi.masks[2], roi.masks[0]]
    assert pair_evidence(subset) == {(0, 1): roi.masks[2].pair_order[0]}


def test_no_scores_without_the_head_or_when_switched_off(model, image):
    assert _predict(model, image, BOXES, order_head=False).pair_order == {}
    assert _predict(model, image, BOXES, modal=False).pair_order == {}
    plain = build_sameo("test", modal_head=True)
    prediction = _predict(plain, image, BOXES)
    assert prediction.pair_order == {} and all(m.pair_order == {} for m in prediction.masks)


def test_pairs_per_predict_are_bounded_largest_intersections_first(model, image, monkeypatch):
    whole = _predict(model, image, BOXES, postprocess="roi")
    monkeypatch.setattr(predictor_module, "MAX_ORDER_PAIRS", 1)
    bounded = _predict(model, image, BOXES, postprocess="roi")
    assert len(whole.pair_order) > 1 and len(bounded.pair_order) == 1

    def intersection(pair):
        a, b = (whole.masks[k].box for k in pair)
        return (max(0, min(a[2], b[2]) - max(a[0], b[0]))
                * max(0, min(a[3], b[3]) - max(a[1], b[1])))  # fmt: skip

    (kept,) = bounded.pair_order
    assert intersection(kept) == max(intersection(p) for p in whole.pair_order)


def test_batched_path_with_the_head_keeps_host_syncs_bounded(model, image):
    predictor = AmodalPredictor(model, config=PredictorConfig(postprocess="batched",
                                                              chunk_size=64))  # fmt: skip
    predictor.set_image(image)
    (prediction, counts) = count_syncs(predictor.predict, BOXES)
    assert prediction.pair_order
    assert counts.sync_total <= 4, counts.as_dict()


def _square(x0, y0, x1, y1, size=20):
    mask = np.zeros((size, size), bool)
    mask[y0:y1, x0:x1] = True
    return RoiMask.from_full(mask)


def test_learned_evidence_is_a_third_linear_term_of_related_pairs():
    amodal = [_square(0, 0, 10, 10), _square(5, 5, 15, 15), _square(16, 16, 20, 20)]
    # masks say 0 in front of 1 (0 sees the overlap, 1 does not)
    visible = [_square(0, 0, 10, 10), _square(10, 10, 15, 15), _square(16, 16, 20, 20)]
    plain = occlusion_order(amodal, visible)
    assert plain.front_of(0, 1) == 0
    learned = {(1, 0): 0.8, (0, 2): 0.9}  # 1 in front of 0; (0, 2) do not overlap
    weak = occlusion_order(amodal, visible, learned_evidence=learned,
                           config=OrderConfig(learned_weight=1.0))  # fmt: skip
    assert weak.front_of(0, 1) == 0  # 1 - 0.8 > 0: the masks still win
    (pair,) = weak.pairs
    assert pair.learned_score == pytest.approx(-0.8) and pair.score == pytest.approx(0.2)
    strong = occlusion_order(amodal, visible, learned_evidence=learned,
                             config=OrderConfig(learned_weight=2.0))  # fmt: skip
    assert strong.front_of(0, 1) == 1 and strong.occluded_by[0] == (1,)
    assert strong.front_of(0, 2) is None  # no amodal overlap, no occlusion
    alone = occlusion_order(amodal, visible, learned_evidence=learned,
                            config=OrderConfig(mask_weight=0.0, learned_weight=1.0))  # fmt: skip
    assert alone.pairs[0].score == pytest.approx(-0.8)
    # a depth reading takes the head's place: the measurement decides with the masks
    measured = occlusion_order(amodal, visible, {(0, 1): 0.3}, learned_evidence=learned,
                               config=OrderConfig(learned_weight=8.0))  # fmt: skip
    (pair,) = measured.pairs
    assert pair.learned_score == pytest.approx(-0.8) and pair.depth_score == 0.3
    assert pair.score == pytest.approx(1.0 + 2 * 0.3) and measured.front_of(0, 1) == 0


@pytest.mark.parametrize("evidence, match", [
    ({(0, 0): 0.5}, "two distinct"), ({(0, 1): float("nan")}, "finite"),
    ({(0, 1): 1.5}, r"\[-1, 1\]"), ({(0, 1): 0.5, (1, 0): 0.5}, "twice"),
    ({0: 0.5}, "index pairs"),
])  # fmt: skip
def test_bad_learned_evidence_is_named(evidence, match):
    amodal = [_square(0, 0, 10, 10), _square(5, 5, 15, 15)]
    with pytest.raises(ValueError, match=f"learned evidence.*{match}|{match}.*learned"):
        occlusion_order(amodal, amodal, learned_evidence=evidence)
    with pytest.raises(ValueError, match="learned_weight"):
        OrderConfig(learned_weight=-1.0)
