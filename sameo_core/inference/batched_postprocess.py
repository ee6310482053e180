"""Every mask of a `predict` in one batched pass on the model's device (the "batched" path).

Input: the chosen low-resolution logits of each head, [K, N, h, w] float32 (head 0 amodal, head 1
modal), and their predicted IoU [K, N]. On the device, as batched tensor ops over all N boxes:

1. upsampling to the image with `F.interpolate(mode="bicubic", align_corners=False)`: the official
   op, applied to the chosen output only, so each mask is the official full-image mask; then the
   threshold;
2. visible := modal ∩ amodal, hidden := amodal minus visible (the predictor's rule, see
   `predictor.py`), and the modal pixels outside the amodal mask;
3. areas and tight boxes of the amodal, visible and hidden masks, by reductions (`tight_boxes`):
   no loop over masks, no output whose shape depends on the data;
4. one table of every number `InstancePrediction` needs, [N, 18] float64 (`COLUMNS`), copied to
   the host: host sync 1, which also sizes the crops;
5. one uint8 code per pixel (bit 0: amodal, bit 1: modal) inside each amodal box, gathered
   into a window of the largest box's size [N, hmax, wmax] and copied to the host: host sync 2.

On the host each `RoiMask` is then one numpy op on a slice of that window: amodal = code & 1,
visible = code == 3 in the visible box, hidden = code == 1 in the hidden box (both boxes lie
inside the amodal box; 2 marks a modal pixel outside the amodal mask). Copies to the host go
through `host_syncs.copy_to_host` (pinned, non-blocking on CUDA).

Memory: the boxes are taken in groups so that a group's working set — the float upsampled logits
of every head and four byte planes per box, (4·K + 4)·H·W bytes per box — stays within
`budget_bytes` (at least one box per group). At 1280×720 with both heads and the default 1 GiB
budget a group holds 97 boxes. Each group costs its 2 host syncs; the transfer per group is at
most N·H·W bytes (every mask as large as the image), N·hmax·wmax in general.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sameo_core.geometry import RoiMask

from .host_syncs import copy_to_host
from .stage_times import StageClock

# The per-mask table: boxes are xyxy with exclusive ends in image pixels (zeros when empty).
COLUMNS = (
    "amodal_x0", "amodal_y0", "amodal_x1", "amodal_y1",
    "visible_x0", "visible_y0", "visible_x1", "visible_y1",
    "hidden_x0", "hidden_y0", "hidden_x1", "hidden_y1",
    "amodal_area", "visible_area", "hidden_area", "modal_area", "iou", "visible_iou",
)  # fmt: skip
COLUMN = {name: i for i, name in enumerate(COLUMNS)}
_AMODAL, _VISIBLE, _HIDDEN = slice(0, 4), slice(4, 8), slice(8, 12)


def choose_outputs(
    logits: torch.Tensor, iou: torch.Tensor, best_iou: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """One output per box: logits [n, M, h, w] and iou [n, M] → chosen logits [n, h, w] and
    their iou [n], float32. best_iou: the output with the highest predicted IoU (the authors'
    evaluation code), else output 0."""
    if best_iou and iou.shape[1] > 1:
        choice = iou.argmax(dim=1)
        rows = torch.arange(len(iou), device=iou.device)
        return logits[rows, choice].float(), iou[rows, choice].float()
    return logits[:, 0].float(), iou[:, 0].float()


def tight_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight xyxy boxes (exclusive ends) of bool masks [..., H, W] → int64 [..., 4]; an empty
    mask has the box (0, 0, 0, 0). The same boxes as `sameo_core.geometry.mask_boxes`, from
    row and column projections instead of its per-mask `nonzero`."""
    height, width = masks.shape[-2:]
    rows, cols = masks.any(dim=-1), masks.any(dim=-2)
    ys = torch.arange(height, device=masks.device)
    xs = torch.arange(width, device=masks.device)
    y0 = torch.where(rows, ys, height).amin(dim=-1)
    y1 = torch.where(rows, ys + 1, 0).amax(dim=-1)
    x0 = torch.where(cols, xs, width).amin(dim=-1)
    x1 = torch.where(cols, xs + 1, 0).amax(dim=-1)
    return torch.stack([x0, y0, x1, y1], dim=-1) * (y1 > 0)[..., None]


def group_size(image_size: tuple[int, int], heads: int, budget_bytes: int) -> int:
    """Boxes per post-processing group: (4·heads + 4)·H·W bytes each within the budget."""
    per_box = (4 * heads + 4) * image_size[0] * image_size[1]
    return max(1, budget_bytes // per_box)


@dataclass(frozen=True)
class MaskCrops:
    """The host side of one batched pass: `table` [N, len(COLUMNS)] float64 and the RoiMasks of
    each box, `visible` and `hidden` None without a modal head."""

    table: np.ndarray
    amodal: list[RoiMask]
    visible: list[RoiMask] | None
    hidden: list[RoiMask] | None


def _device_pass(
    logits: torch.Tensor, ious: torch.Tensor, image_size: tuple[int, int], threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [K, n, h, w] and iou [K, n] → (table [n, 18] float64, codes uint8 [n, H, W])."""
    heads, n = logits.shape[:2]
    upsampled = F.interpolate(logits.reshape(heads * n, 1, *logits.shape[2:]), image_size,
                              mode="bicubic", align_corners=False)  # fmt: skip
    masks = (upsampled >= threshold).reshape(heads, n, *image_size)
    del upsampled  # the float maps are the largest part of the working set (`group_size`)
    amodal = masks[0]
    codes = amodal.to(torch.uint8)
    zeros = torch.zeros(n, 1, dtype=torch.float64, device=logits.device)
    if heads > 1:
        modal = masks[1]
        visible = modal & amodal
        codes = codes | (modal.to(torch.uint8) << 1)
        parts = torch.stack([amodal, visible, amodal ^ visible])  # amodal, visible, hidden
        boxes = tight_boxes(parts).permute(1, 0, 2).reshape(n, 12)
        counted = parts[:2].sum(dim=(-2, -1))  # amodal, visible
        areas = [counted.T, (counted[0] - counted[1])[:, None], modal.sum(dim=(1, 2))[:, None]]
        visible_iou = ious[1, :, None]
    else:
        boxes = torch.cat([tight_boxes(amodal), zeros.expand(n, 8)], dim=1)
        areas = [amodal.sum(dim=(1, 2))[:, None], zeros.expand(n, 3)]
        visible_iou = torch.full_like(ious[0, :, None], float("nan"))
    table = torch.cat([t.double() for t in (boxes, *areas, ious[0, :, None], visible_iou)],
                      dim=1)  # fmt: skip
    return table, codes


def _windows(codes: torch.Tensor, table: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The codes inside each amodal box, in a [n, height, width] window from its top-left corner
    (positions past the image edge repeat the edge; the host reads only the box)."""
    n, image_h, image_w = codes.shape
    x0 = table[:, COLUMN["amodal_x0"]].to(torch.int64)
    y0 = table[:, COLUMN["amodal_y0"]].to(torch.int64)
    rows = (y0[:, None] + torch.arange(height, device=codes.device)).clamp_(max=image_h - 1)
    cols = (x0[:, None] + torch.arange(width, device=codes.device)).clamp_(max=image_w - 1)
    masks = torch.arange(n, device=codes.device)[:, None, None]
    return codes[masks, rows[:, :, None], cols[:, None, :]]


def _part(code: np.ndarray, box: np.ndarray, origin: tuple[int, int], select) -> RoiMask:
    """A RoiMask of the pixels `select(code)` picks inside `box` (image xyxy), the code crop
    starting at image position `origin`."""
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 == 0:
        return RoiMask.empty()
    ox, oy = origin
    return RoiMask(select(code[y0 - oy : y1 - oy, x0 - ox : x1 - ox]), (x0, y0))


def _amodal_bit(code: np.ndarray) -> np.ndarray:
    return (code & 1).view(bool)


def _visible_code(code: np.ndarray) -> np.ndarray:
    return code == 3


def _hidden_code(code: np.ndarray) -> np.ndarray:
    return code == 1


def batched_masks(
    logits: torch.Tensor, ious: torch.Tensor, image_size: tuple[int, int], threshold: float,
    budget_bytes: int, clock: StageClock,
) -> MaskCrops:
    """Masks, visible/hidden parts, areas, boxes and IoUs of every box (module docstring).

    logits [K, N, h, w] float32 and ious [K, N] of K = 1 (amodal) or 2 (amodal, modal) heads.
    The clock gets "postprocess" and "copy" marks; it is resumed after the last copy.
    """
    heads, n = logits.shape[:2]
    group = group_size(image_size, heads, budget_bytes)
    tables, amodal, visible, hidden = [], [], [], []
    for start in range(0, n, group):
        if start:  # the device chain of the clock ended with the previous group's last copy
            clock.mark("postprocess")
        stop = min(start + group, n)
        table_device, codes = _device_pass(logits[:, start:stop], ious[:, start:stop],
                                           image_size, threshold)  # fmt: skip
        clock.mark("postprocess")
        table = copy_to_host(table_device, clock)
        tables.append(table)
        boxes = table[:, _AMODAL].astype(np.int64)
        height = int((boxes[:, 3] - boxes[:, 1]).max())
        width = int((boxes[:, 2] - boxes[:, 0]).max())
        if height:
            windows = copy_to_host(_windows(codes, table_device, height, width), clock)
        del codes, table_device
        clock.resume()
        for row, box in enumerate(boxes):
            if not box[2]:  # an empty amodal mask: so are its parts
                amodal.append(RoiMask.empty())
                if heads > 1:
                    visible.append(RoiMask.empty())
                    hidden.append(RoiMask.empty())
                continue
            origin = (int(box[0]), int(box[1]))
            code = windows[row]
            amodal.append(_part(code, box, origin, _amodal_bit))
            if heads > 1:
                visible.append(_part(code, table[row, _VISIBLE], origin, _visible_code))
                hidden.append(_part(code, table[row, _HIDDEN], origin, _hidden_code))
        clock.mark("postprocess", host=True)
    table = np.concatenate(tables) if tables else np.zeros((0, len(COLUMNS)))
    if heads > 1:
        return MaskCrops(table, amodal, visible, hidden)
    return MaskCrops(table, amodal, None, None)


__all__ = ["COLUMNS", "MaskCrops", "batched_masks", "choose_outputs", "group_size",
           "tight_boxes"]  # fmt: skip
