"""The training loop: the loss goes down, a non-finite loss stops, validation metrics."""

import numpy as np
import pytest
import torch

from sameo_core.model import SAMEO_CONFIGS, build_sameo
from sameo_core.training.engine import NonFiniteLossError, evaluate, train_one_epoch
from sameo_core.training.losses import PAPER_WEIGHTS, SameoCriterion
from sameo_core.training.recipe import DataSpec
from sameo_core.training.sources import ProceduralScenes
from sameo_core.training.stream import StepBatches, usable_instances
from sameo_core.training.wrapper import SameoTrainer, set_trainable

WEIGHTS = dict(PAPER_WEIGHTS, loss_focal=20.0)


def _setup(train_encoder: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    model = build_sameo(config=SAMEO_CONFIGS["test"])
    params = set_trainable(model, image_encoder=train_encoder, prompt_encoder=train_encoder)
    trainer = SameoTrainer(model)
    stream = StepBatches([ProceduralScenes(64)], DataSpec(), 8, 64, 32, seed=seed)
    return model, params, trainer, stream


def test_short_run_lowers_the_loss():
    torch.set_num_threads(1)
    model, params, trainer, stream = _setup()
    optimizer = torch.optim.Adam(params, lr=2e-3)
    criterion = SameoCriterion()
    fixed = [stream[10_000 + i] for i in range(2)]
    before = evaluate(trainer, criterion, fixed, torch.device("cpu"))
    steps = [(s, stream[s % 8]) for s in range(40)]
    seen = []
    train_one_epoch(trainer, criterion, WEIGHTS, optimizer, steps, torch.device("cpu"),
                    after_step=lambda step, m: seen.append(step))
    after = evaluate(trainer, criterion, fixed, torch.device("cpu"))
    assert seen == list(range(1, 41))
    loss = lambda m: sum(m[k] * w for k, w in WEIGHTS.items())  # noqa: E731
    assert loss(after) < 0.8 * loss(before)


def test_only_the_decoder_trains_by_default():
    model, params, trainer, stream = _setup(train_encoder=False)
    assert {id(p) for p in params} == {id(p) for p in model.mask_decoder.parameters()}
    encoder_before = [p.clone() for p in model.image_encoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    train_one_epoch(trainer, SameoCriterion(), PAPER_WEIGHTS, optimizer, [(0, stream[0])],
                    torch.device("cpu"))  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(encoder_before, model.image_encoder.parameters()))


def test_non_finite_loss_stops_before_the_update():
    model, params, trainer, stream = _setup()
    with torch.no_grad():
        model.mask_decoder.iou_token.weight.fill_(float("nan"))
    snapshot = [p.clone() for p in params]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    with pytest.raises(NonFiniteLossError, match="step 3"):
        train_one_epoch(trainer, SameoCriterion(), PAPER_WEIGHTS, optimizer, [(3, stream[0])],
                        torch.device("cpu"))  # fmt: skip
    assert all(torch.equal(a.nan_to_num(), b.nan_to_num()) for a, b in zip(snapshot, params))


def test_step_batches_are_a_function_of_seed_rank_step():
    stream = StepBatches([ProceduralScenes(64)], DataSpec(), 8, 64, 32, seed=1)
    other_rank = StepBatches([ProceduralScenes(64)], DataSpec(), 8, 64, 32, seed=1, rank=1)
    a, b = stream[5], stream[5]
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes)
    assert not torch.equal(a.images[:1], other_rank[5].images[:1])
    assert a.boxes.shape == (8, 4) and a.targets.shape == (8, 32, 32)
    assert int(a.image_index.max()) == len(a.images) - 1
    # every prompt box lies inside the 64 px input and has a positive size
    assert (a.boxes[:, 2:] > a.boxes[:, :2]).all() and a.boxes.min() >= 0 and a.boxes.max() <= 64


def test_fully_hidden_instances_are_not_prompted():
    stream = StepBatches([ProceduralScenes(64)], DataSpec(), 8, 64, 32, seed=1)
    sample = stream.sources[0].sample(np.random.default_rng(0))
    hidden = sample.visible.copy()
    hidden[0] = False
    from sameo_core.training.batches import Sample

    keep = usable_instances(Sample(sample.image, sample.amodal, hidden), 0.0)
    assert 0 not in keep and len(keep) == len(sample.amodal) - 1


def test_image_batches_take_every_usable_instance_of_each_image():
    from pathlib import Path

    from sameo_core.data import rle
    from sameo_core.training.sources import open_source

    demo = open_source(f"cocoa:{Path(__file__).resolve().parents[1] / 'data' / 'cocoa_demo'}")
    usable = {f"{g.source}/{g.image_id}": sum(rle.area(r.visible_rle) > 0 for r in g.instances)
              for g in demo.groups}  # fmt: skip
    assert sorted(usable.values())[-1] > 3  # some image has more instances than the cap below
    for cap in (20, 3):
        spec = DataSpec(max_instances_per_image=cap)
        batches = StepBatches([demo], spec, 2, 64, 16, seed=2, batch_unit="images")
        for step in range(3):
            batch = batches[step]
            assert len(batch.images) == 2
            counts = np.bincount(batch.image_index.numpy(), minlength=2).tolist()
            assert counts == [min(cap, usable[k]) for k in batch.keys]
    with pytest.raises(ValueError, match="batch_unit"):
        StepBatches([demo], DataSpec(), 2, 64, 16, seed=2, batch_unit="pixels")
