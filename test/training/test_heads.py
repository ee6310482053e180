"""Training the modal head: beside a frozen amodal model, or both heads together."""

from pathlib import Path

import pytest
import torch
from helpers.tiny_training import tiny_overrides

from sameo_core.model import SAMEO_CONFIGS, build_sameo
from sameo_core.model.checkpoint import read_checkpoint, save_checkpoint
from sameo_core.training.engine import evaluate, train_one_epoch
from sameo_core.training.heads import head_weights
from sameo_core.training.losses import PAPER_WEIGHTS, SameoCriterion
from sameo_core.training.recipe import DataSpec, ModelSpec
from sameo_core.training.runtime import build_model
from sameo_core.training.sources import ProceduralScenes
from sameo_core.training.stream import StepBatches
from sameo_core.training.wrapper import SameoTrainer, set_trainable
from training.train import get_args_parser, main

REPO = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)[0]


def _part(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def test_batches_carry_visible_targets():
    stream = StepBatches([ProceduralScenes(64)], DataSpec(), 8, 64, 32, seed=0)
    batch = stream[0]
    assert batch.visible_targets.shape == batch.targets.shape
    assert (batch.visible_targets <= batch.targets).all()  # visible ⊆ amodal
    assert (batch.visible_targets < batch.targets).any()  # some instances are occluded


def test_both_heads_train_on_their_own_targets():
    torch.manual_seed(0)
    model = build_sameo(config=SAMEO_CONFIGS["test"], modal_head=True)
    params = set_trainable(model, False, False, ("amodal", "modal"))
    decoders = {id(p) for d in (model.mask_decoder, model.modal_decoder) for p in d.parameters()}
    assert {id(p) for p in params} == decoders
    trainer = SameoTrainer(model, heads=("amodal", "modal"))
    stream = StepBatches([ProceduralScenes(64)], DataSpec(), 8, 64, 32, seed=1)
    weights = head_weights(PAPER_WEIGHTS, ("amodal", "modal"))
    assert set(weights) == {"loss_dice", "loss_focal", "loss_iou", "modal_loss_dice",
                            "modal_loss_focal", "modal_loss_iou"}
    metrics = train_one_epoch(trainer, SameoCriterion(), weights, torch.optim.Adam(params),
                              [(0, stream[0])], CPU)  # fmt: skip
    assert metrics["loss"] == pytest.approx(sum(metrics[k] * w for k, w in weights.items()))
    # the modal terms are those of the modal decoder on the visible masks
    batch = stream[0]
    with torch.no_grad():
        outputs = trainer(batch.images, batch.image_index, batch.boxes)
        direct = SameoCriterion()(*outputs["modal"], batch.visible_targets)
        terms = evaluate(trainer, SameoCriterion(), [batch], CPU)
    assert terms["modal_loss_dice"] == pytest.approx(direct["loss_dice"].item(), rel=1e-5)
    assert {"miou_selected", "modal_miou_selected"} <= set(terms)


def test_modal_head_starts_as_a_copy_and_encoder_training_needs_every_head(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "amodal.pt", build_sameo("test"))
    spec = ModelSpec(variant="", checkpoint=str(tmp_path / "amodal.pt"), heads=("modal",))
    model = build_model(spec)
    assert model.has_modal_head
    for a, m in zip(model.mask_decoder.state_dict().values(),
                    model.modal_decoder.state_dict().values()):  # fmt: skip
        assert torch.equal(a, m)
    with pytest.raises(ValueError, match="leaves the amodal head untrained"):
        build_model(ModelSpec(variant="test", heads=("modal",), train_image_encoder=True))
    save_checkpoint(tmp_path / "both.pt", model)
    with pytest.raises(ValueError, match="leaves the modal head untrained"):
        build_model(ModelSpec(variant="", checkpoint=str(tmp_path / "both.pt"),
                              train_image_encoder=True))  # fmt: skip


def test_train_command_trains_only_the_modal_head_beside_a_frozen_model(tmp_path):
    """Stage 2 of the demo recipe (config/train_cpu_shapes_modal.yaml) on a tiny model."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start = tmp_path / "amodal.pt"
    save_checkpoint(start, build_sameo("test"))
    out = tmp_path / "modal"

    def train(steps: int, *extra: str) -> int:
        overrides = tiny_overrides(out, steps, **{
            "model.variant": "", "model.checkpoint": str(start),
            "model.train_image_encoder": "false", "model.train_prompt_encoder": "false"})
        config = str(REPO / "config/train_cpu_shapes_modal.yaml")
        return main(get_args_parser().parse_args(["--config", config, *overrides, *extra]))

    assert train(3) == 0
    before, after = _weights(start), _weights(out / "model_final.pt")
    assert all(torch.equal(before[k], after[k]) for k in before)  # amodal model untouched
    modal = _part(after, "modal_decoder.")
    initial = _part(_weights(out / "model_step0.pt"), "modal_decoder.")
    assert modal and any(not torch.equal(modal[k], initial[k]) for k in modal)
    assert read_checkpoint(out / "checkpoint.pt")[1]["heads"] == ["amodal", "modal"]
    log = (out / "log.jsonl").read_text()
    assert '"modal_loss_dice"' in log and '"loss_dice"' not in log
    # resuming rebuilds the model with its modal head before the saved state is loaded
    assert train(4, "--resume", str(out / "checkpoint.pt")) == 0
    assert read_checkpoint(out / "checkpoint.pt")[1]["step"] == 4
