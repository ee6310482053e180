"""Training the optional pairwise order head (`sameo_core/model/order_head.py`) on top of a frozen
SAMEO network with a modal head.

1. Cache (`cache_scenes`): procedural scenes (`sameo_core.data.procedural_scenes`), each instance
   with a visible part prompted as the SAMEO recipe prompts it (the visible or the amodal GT box,
   p = `prompt_amodal_prob`, each edge jittered by N(0, `box_jitter` x box size),
   `sameo_core.data.sampling.sample_prompt_box`); the frozen model runs once through
   `AmodalPredictor` (amodal boxes of the masks, as inference sees them) and once more for the
   chosen low-resolution logits of both heads. Labelled pairs: two prompted instances whose GT
   amodal masks overlap (one lists the other in the generator's `occluded_by`), whose predicted
   amodal boxes overlap (the pairs the predictor scores, `sameo_core.inference.predictor`);
   label 1 when the lower index is in front.
2. Pooling: the head's input patches of every pair are computed once (`OrderHead.patches`;
   the frozen model's outputs do not change), then
3. Training: AdamW on the logistic loss of 2 d(i, j) (`OrderHead`: s = tanh d = 2 p - 1), each
   batch turned by one of the 8 flips and transposes of the square (which one is in front does
   not change with them), with a share of the scenes held out for the pair accuracy of the head
   alone.

The command is `python -m training.train_order_head --config config/order_head.yaml`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.data.sampling import PromptConfig, sample_prompt_box
from sameo_core.geometry import overlapping_box_pairs, xywh_to_xyxy
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.batched_postprocess import choose_outputs
from sameo_core.model import Sameo
from sameo_core.model.order_head import OrderHead
from sameo_core.training.recipe import build_dataclass

MAX_SCENES = 100_000  # bounds the cache (each scene: 2 x n x h x w float16 logits)


@dataclass(frozen=True)
class OrderDataConfig:
    """Scenes and prompts of the cache (defaults: the cluttered scenes of
    config/train_cpu_shapes_order.yaml, the SAMEO recipe's prompts)."""

    scenes: int = 1500
    seed: int = 3  # scenes are drawn from np.random.default_rng([seed, k])
    image_size: int = 128
    num_objects: tuple[int, int] = (3, 5)
    occlude_probability: float = 0.9
    prompt_amodal_prob: float = 0.5
    box_jitter: float = 0.03
    holdout: float = 0.15  # share of the scenes kept out of training (head-alone accuracy)

    def __post_init__(self) -> None:
        if not 1 <= self.scenes <= MAX_SCENES:
            raise ValueError(f"data.scenes must be 1..{MAX_SCENES}, got {self.scenes}")
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"data.holdout must be in [0, 1), got {self.holdout}")

    def scene_config(self) -> SceneConfig:
        return SceneConfig(image_size=self.image_size, num_objects=tuple(self.num_objects),
                           occlude_probability=self.occlude_probability)  # fmt: skip


@dataclass(frozen=True)
class OrderOptimConfig:
    steps: int = 3000
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("optim.steps and optim.batch_size must be >= 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"optim.lr must be finite and > 0, got {self.lr}")


@dataclass(frozen=True)
class OrderTrainConfig:
    checkpoint: str = "checkpoints/demo/sameo_shapes_demo.pt"  # the frozen SAMEO network
    out_dir: str = "runs/order_head"
    threads: int = 1
    seed: int = 0  # head initialisation and batch order
    data: OrderDataConfig = field(default_factory=OrderDataConfig)
    optim: OrderOptimConfig = field(default_factory=OrderOptimConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> OrderTrainConfig:
        """From a nested mapping (YAML), unknown keys and wrong types refused (as training
        configs are read, `sameo_core.training.recipe.build_dataclass`)."""
        return build_dataclass(cls, values, "order-head config")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@torch.inference_mode()
def lowres_logits(
    model: Sameo, image: np.ndarray, boxes: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """The chosen (best predicted IoU) low-resolution logits [n, h, w] of the amodal and of the
    modal head for xyxy prompts [n, 4], as `AmodalPredictor` chooses them."""
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float().div_(255.0)
    embedding = model.image_embeddings(pixels)
    prompts = torch.from_numpy(boxes.astype(np.float32))[None]
    chosen = []
    for head in ("amodal", "modal"):
        logits, iou = model.predict_masks(embedding, prompts, image.shape[:2], head=head)
        chosen.append(choose_outputs(logits[0], iou[0], True)[0])
    return chosen[0], chosen[1]


def cache_scenes(
    model: Sameo, data: OrderDataConfig, progress: Callable = iter
) -> list[dict[str, Any]]:
    """One entry per scene: `amodal`/`visible` low-resolution logits [n, h, w] float16, the
    predicted amodal boxes [n, 4] (image px), `image_size`, and `pairs` [P, 2] / `labels` [P]
    of the labelled pairs (module docstring)."""
    if not model.has_modal_head:
        raise ValueError("the order head reads both heads' outputs: the network needs a modal "
                         "head")  # fmt: skip
    predictor = AmodalPredictor(model)
    prompts = PromptConfig(data.prompt_amodal_prob, data.box_jitter)
    scene_config = data.scene_config()
    entries = []
    for k in progress(range(data.scenes)):
        rng = np.random.default_rng([data.seed, k])
        image, instances = generate_scene(rng, scene_config)
        keep = [n for n, inst in enumerate(instances) if inst.visible_mask.any()]
        if len(keep) < 2:
            continue
        size = image.shape[:2]
        boxes = np.array([sample_prompt_box(
            rng, tuple(xywh_to_xyxy(np.asarray(instances[n].visible_box, float))),
            tuple(xywh_to_xyxy(np.asarray(instances[n].amodal_box, float))), size, prompts).xyxy
            for n in keep])  # fmt: skip
        predictor.set_image(image)
        predicted = np.stack([m.box for m in predictor.predict(boxes).masks])
        amodal, visible = lowres_logits(model, image, boxes)
        local = {n: row for row, n in enumerate(keep)}
        # the pairs the predictor scores (README, "Occlusion order"), labelled where the GT
        # says one hides the other
        scored = {tuple(p) for p in overlapping_box_pairs(predicted)[0].tolist()}
        pairs, labels = [], []
        for back in keep:
            for front in instances[back].occluded_by:
                if front not in local:
                    continue
                i, j = sorted((local[front], local[back]))
                if (i, j) in scored:
                    pairs.append((i, j))
                    labels.append(float(local[front] == i))
        entries.append({"amodal": amodal.half(), "visible": visible.half(),
                        "boxes": torch.from_numpy(predicted.astype(np.float32)),
                        "image_size": list(size), "pairs": torch.tensor(pairs, dtype=torch.int64
                                                                        ).reshape(-1, 2),
                        "labels": torch.tensor(labels)})  # fmt: skip
    return entries


def pooled_pairs(
    head: OrderHead, entries: Sequence[dict[str, Any]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's input patches [P, 4, S, S] and labels [P] of every labelled pair of `entries`."""
    patches, labels = [], []
    with torch.no_grad():
        for entry in entries:
            if len(entry["pairs"]) == 0:
                continue
            patches.append(head.patches(entry["amodal"].float(), entry["visible"].float(),
                                        entry["boxes"], tuple(entry["image_size"]),
                                        entry["pairs"]))  # fmt: skip
            labels.append(entry["labels"])
    if not patches:
        return torch.zeros(0, 4, head.pool, head.pool), torch.zeros(0)
    return torch.cat(patches), torch.cat(labels)


def dihedral(patches: torch.Tensor, k: int) -> torch.Tensor:
    """Patches [P, C, S, S] under the k-th (0..7) symmetry of the square: bit 0 flips x,
    bit 1 flips y, bit 2 transposes."""
    if k & 1:
        patches = patches.flip(-1)
    if k & 2:
        patches = patches.flip(-2)
    if k & 4:
        patches = patches.transpose(-1, -2)
    return patches


def pair_accuracy(head: OrderHead, patches: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of pairs whose sign of d(i, j) matches the label (NaN without pairs)."""
    if len(labels) == 0:
        return float("nan")
    with torch.no_grad():
        d = head.difference(patches)
    return float(((d > 0).float() == labels).float().mean())


def train_head(
    patches: torch.Tensor, labels: torch.Tensor, optim: OrderOptimConfig, seed: int,
    held_patches: torch.Tensor | None = None, held_labels: torch.Tensor | None = None,
    log: Callable[[dict[str, float]], None] | None = None, log_every: int = 500,
) -> OrderHead:
    """An `OrderHead` fitted to pooled pairs (logistic loss on 2 d, Adam, cosine decay)."""
    if len(labels) == 0:
        raise ValueError("no labelled pair to train on (no overlapping pairs in the cache)")
    torch.manual_seed(seed)
    head = OrderHead()
    opt = torch.optim.AdamW(head.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, optim.steps)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for step in range(1, optim.steps + 1):
        batch = torch.randint(len(labels), (min(optim.batch_size, len(labels)),),
                              generator=generator)  # fmt: skip
        d = head.difference(dihedral(patches[batch], int(torch.randint(8, (1,),
                                                                      generator=generator))))
        loss = F.binary_cross_entropy_with_logits(2 * d, labels[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % log_every == 0 or step == optim.steps):
            record = {"step": step, "loss": loss.item(), "seconds": time.perf_counter() - start,
                      "train_accuracy": pair_accuracy(head, patches, labels)}
            if held_patches is not None and held_labels is not None:
                record["holdout_accuracy"] = pair_accuracy(head, held_patches, held_labels)
            log(record)
    return head.eval()


__all__ = ["OrderDataConfig", "OrderOptimConfig", "OrderTrainConfig",
           "cache_scenes", "dihedral", "lowres_logits", "pair_accuracy", "pooled_pairs",
           "train_head"]
