"""Training batches: prompted instances gathered from images, at the model's input size.

A batch holds ``N`` prompted instances taken from ``B <= N`` images. Each image is stretched to
the encoder's square input (what ``Sameo.preprocess`` would do anyway), so images of any size
stack; boxes follow the stretch and the amodal and visible targets (for the amodal and the modal
head) are area-resized to the decoder's low-res mask size, where the loss is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Sample:
    """One training image with its instances (masks at image resolution)."""

    image: np.ndarray  # [H, W, 3] uint8 RGB
    amodal: np.ndarray  # [K, H, W] bool
    visible: np.ndarray  # [K, H, W] bool
    key: str = ""  # stable id of a stored image (embedding-cache key); "" = procedural


@dataclass
class InstanceBatch:
    images: torch.Tensor  # [B, 3, S, S] float in [0, 1]
    image_index: torch.Tensor  # [N] long: image of each instance
    boxes: torch.Tensor  # [N, 4] xyxy prompt boxes, pixels of the S x S input
    targets: torch.Tensor  # [N, L, L] float {0, 1} amodal masks at the low-res size L
    keys: tuple[str, ...]  # per image, see Sample.key
    visible_targets: torch.Tensor | None = None  # [N, L, L] visible masks (modal head)
    # [N, L, L] union of the amodal masks of the *other* objects of each instance's image (all
    # of its instances, picked or not): where the overlap-weighted loss weighs more
    others: torch.Tensor | None = None

    def to(self, device: torch.device) -> InstanceBatch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return InstanceBatch(
            self.images.to(device, non_blocking=True),
            self.image_index.to(device),
            self.boxes.to(device),
            self.targets.to(device, non_blocking=True),
            self.keys,
            move(self.visible_targets),
            move(self.others),
        )


def image_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """[H, W, 3] uint8 → [3, S, S] float in [0, 1] (bilinear stretch, as the model's own)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
    if tensor.shape[-2:] != (size, size):
        tensor = F.interpolate(tensor[None], (size, size), mode="bilinear", align_corners=False)[0]
    return tensor


def target_tensor(masks: np.ndarray, size: int) -> torch.Tensor:
    """[K, H, W] bool → [K, L, L] float, area-resized and re-binarised at 0.5."""
    tensor = torch.from_numpy(np.ascontiguousarray(masks)).float()
    if tensor.shape[-2:] != (size, size):
        tensor = (F.interpolate(tensor[:, None], (size, size), mode="area")[:, 0] >= 0.5).float()
    return tensor


def collate(
    samples: list[Sample],
    picks: list[np.ndarray],
    prompt_boxes: list[np.ndarray],
    img_size: int,
    mask_size: int,
) -> InstanceBatch:
    """Stack images and the picked instances of each.

    Args:
        samples: the images.
        picks: per image, indices of the instances used.
        prompt_boxes: per image, ``[len(pick), 4]`` xyxy prompt boxes in image pixels.
        img_size: the encoder's square input side S.
        mask_size: the decoder's low-res mask side L.
    """
    images, index, boxes, targets, visible, others = [], [], [], [], [], []
    for sample, pick, box in zip(samples, picks, prompt_boxes):
        if len(pick) == 0:
            continue
        height, width = sample.image.shape[:2]
        scale = np.array([img_size / width, img_size / height] * 2, dtype=np.float32)
        images.append(image_tensor(sample.image, img_size))
        index.extend([len(images) - 1] * len(pick))
        boxes.append(torch.from_numpy(box * scale))
        targets.append(target_tensor(sample.amodal[pick], mask_size))
        visible.append(target_tensor(sample.visible[pick], mask_size))
        others.append(target_tensor(other_objects(sample.amodal, pick), mask_size))
    if not images:
        raise ValueError("a batch needs at least one instance")
    keys = tuple(s.key for s, p in zip(samples, picks) if len(p))
    return InstanceBatch(
        torch.stack(images), torch.tensor(index), torch.cat(boxes), torch.cat(targets), keys,
        torch.cat(visible), torch.cat(others),
    )


def other_objects(amodal: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """[len(pick), H, W] bool: for each picked instance, the union of the amodal masks of every
    other instance of the image (``amodal`` is [K, H, W] bool)."""
    counts = amodal.sum(0, dtype=np.int32)  # objects covering each pixel
    return (counts[None] - amodal[pick]) > 0
