"""The optional pairwise order head: antisymmetric scores at any grid and image size, its place in
our checkpoint format (strict loading, errors that name the problem) and files without it."""

import pytest
import torch
from helpers.seeded_weights import key_list, seeded_state_dict

from sameo_core.model import build_sameo
from sameo_core.model.checkpoint import (
    CheckpointError,
    atomic_save,
    read_checkpoint,
    save_checkpoint,
)
from sameo_core.model.order_head import ORDER_PREFIX, OrderHead


def _inputs(n: int, grid: int, image_size: tuple[int, int], seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    amodal = torch.randn(n, grid, grid, generator=generator) * 4
    visible = torch.randn(n, grid, grid, generator=generator) * 4
    h, w = image_size
    corner = torch.rand(n, 2, generator=generator) * torch.tensor([w, h]) * 0.6
    size = torch.rand(n, 2, generator=generator) * torch.tensor([w, h]) * 0.4 + 1
    return amodal, visible, torch.cat([corner, corner + size], dim=1)


@pytest.mark.parametrize("grid, image_size", [(16, (64, 64)), (64, (480, 640)), (37, (50, 90))])
def test_scores_are_antisymmetric_and_bounded_at_any_size(grid, image_size):
    torch.manual_seed(0)
    head = OrderHead().eval()
    amodal, visible, boxes = _inputs(5, grid, image_size)
    pairs = torch.tensor([[0, 1], [1, 2], [0, 4], [3, 2]])
    with torch.no_grad():
        forward = head(amodal, visible, boxes, image_size, pairs)
        backward = head(amodal, visible, boxes, image_size, pairs.flip(1))
    assert forward.shape == (4,) and forward.dtype == torch.float32
    torch.testing.assert_close(forward, -backward, rtol=0, atol=1e-6)
    assert (forward.abs() < 1).all() and forward.abs().sum() > 0
    assert head(amodal, visible, boxes, image_size, torch.zeros(0, 2, dtype=torch.int64)
                ).shape == (0,)  # fmt: skip


def test_head_is_small_and_reads_only_the_pair():
    head = OrderHead().eval()
    assert 5_000 <= sum(p.numel() for p in head.parameters()) <= 100_000
    amodal, visible, boxes = _inputs(4, 32, (128, 128))
    pairs = torch.tensor([[0, 1]])
    with torch.no_grad():
        before = head(amodal, visible, boxes, (128, 128), pairs)
        amodal[2:], visible[2:], boxes[2:] = 0, 0, 5  # other objects do not matter
        after = head(amodal, visible, boxes, (128, 128), pairs)
    torch.testing.assert_close(before, after, rtol=0, atol=0)


def test_checkpoint_round_trip_lists_the_order_head(tmp_path):
    torch.manual_seed(1)
    model = build_sameo("test", order_head=True)
    assert model.has_modal_head and model.has_order_head
    path = tmp_path / "with_order.pt"
    save_checkpoint(path, model, step=3)
    state, meta = read_checkpoint(path)
    assert meta["heads"] == ["amodal", "modal", "order"]
    assert any(k.startswith(ORDER_PREFIX) for k in state)
    loaded = build_sameo(checkpoint=path)
    assert loaded.has_order_head
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0, msg=key)
    without = build_sameo(checkpoint=path, order_head=False)
    assert without.has_modal_head and not without.has_order_head
    assert not any(k.startswith(ORDER_PREFIX) for k in without.state_dict())


def test_files_without_an_order_head_load_as_before(tmp_path):
    official = seeded_state_dict(key_list("vitt"), 7)
    torch.save({"model": official}, tmp_path / "official.pt")
    model = build_sameo(checkpoint=tmp_path / "official.pt")
    assert not model.has_order_head and set(model.state_dict()) == set(official)
    with pytest.raises(CheckpointError, match="no order head"):
        build_sameo(checkpoint=tmp_path / "official.pt", order_head=True)
    with pytest.raises(ValueError, match="needs the modal head"):
        build_sameo("test", modal_head=False, order_head=True)


def test_order_head_errors_name_the_problem(tmp_path):
    model = build_sameo("test", order_head=True)
    state = model.state_dict()
    meta = {"config": model.config.to_dict(), "heads": ["amodal", "modal"]}
    atomic_save({"model": state, "sameo": meta}, tmp_path / "unlisted.pt")
    with pytest.raises(CheckpointError, match="has order_head"):
        read_checkpoint(tmp_path / "unlisted.pt")
    no_modal = {k: v for k, v in state.items() if not k.startswith("modal_decoder.")}
    atomic_save({"model": no_modal}, tmp_path / "no_modal.pt")
    with pytest.raises(CheckpointError, match="no modal head"):
        read_checkpoint(tmp_path / "no_modal.pt")
    bad = dict(state)
    bad[ORDER_PREFIX + "net.0.weight"] = torch.zeros(3, 3, 3, 3)
    atomic_save({"model": bad, "sameo": {"config": model.config.to_dict()}},
                tmp_path / "misshaped.pt")
    with pytest.raises(CheckpointError, match="net.0.weight"):
        build_sameo(checkpoint=tmp_path / "misshaped.pt")
    last = [k for k in state if k.startswith(ORDER_PREFIX)][-1]
    partial = {k: v for k, v in state.items() if k != last}
    atomic_save({"model": partial, "sameo": {"config": model.config.to_dict()}},
                tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="missing keys.*order head"):
        build_sameo(checkpoint=tmp_path / "partial.pt")
