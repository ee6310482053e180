"""An optional learned pairwise occlusion-order head over the two mask decoders' outputs.

For a pair (i, j) of objects of one image it reads what the decoders already produce: the
chosen low-resolution logits of both heads for both objects, as probabilities (amodal_i,
visible_i, amodal_j, visible_j), pooled with `torchvision.ops.roi_align` to a fixed S x S grid
over the union of the two objects' amodal boxes, so it works at any image size and any
low-resolution grid. A small convolutional net g maps the 4-channel patch x_ij to one number,
and the score is antisymmetric by construction:

    d(i, j) = g(x_ij) - g(x_ji)        (x_ji: the same patch with the two objects swapped)
    s(i, j) = tanh(d(i, j))   in (-1, 1), positive when i is in front of j;

s = 2 p - 1 with p = sigmoid(2 d), the probability that i is in front (what training fits, a
logistic loss on 2 d; `sameo_core/training/order_head_training.py`). The score is a third
evidence term of `sameo_core.inference.occlusion_order` (README, "Occlusion order").

State-dict keys live under `order_head.*` of the network (`Sameo.order_head`); a network or a
file without them has no order head and runs exactly as before.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import roi_align

ORDER_PREFIX = "order_head."
POOL = 16  # S: side of the pooled patch over the union box
WIDTH = 32  # channels of the last convolution


class OrderHead(nn.Module):
    """g: [P, 4, S, S] patches → [P] scores; `forward` gives s(i, j) of pairs.

    About 15 k parameters: three 3x3 convolutions (4 → 16 → 32 → 32 channels, the last two
    with stride 2), global average pooling and one linear layer.
    """

    def __init__(self, pool: int = POOL, width: int = WIDTH) -> None:
        super().__init__()
        self.pool = pool
        self.net = nn.Sequential(
            nn.Conv2d(4, width // 2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 1),
        )  # fmt: skip

    def patches(
        self, amodal: torch.Tensor, visible: torch.Tensor, boxes: torch.Tensor,
        image_size: tuple[int, int], pairs: torch.Tensor,
    ) -> torch.Tensor:
        """The pooled inputs x_ij [P, 4, S, S] (amodal_i, visible_i, amodal_j, visible_j).

        amodal, visible: chosen low-resolution logits [n, h, w] of the two heads (any h, w:
          the decoder's grid over the image stretched to the model's square input).
        boxes: amodal boxes [n, 4] xyxy in image pixels (of image_size=(H, W)).
        pairs: [P, 2] int64 object indices (i, j).
        """
        n, h, w = amodal.shape
        probs = torch.stack([amodal, visible], dim=1).float().sigmoid()  # [n, 2, h, w]
        i, j = pairs[:, 0], pairs[:, 1]
        union = torch.cat([torch.minimum(boxes[i, :2], boxes[j, :2]),
                           torch.maximum(boxes[i, 2:], boxes[j, 2:])], dim=1).float()
        scale = union.new_tensor([w / image_size[1], h / image_size[0]]).repeat(2)
        union = union * scale  # into the low-resolution grid
        size = (self.pool, self.pool)
        one = roi_align(probs, torch.cat([i[:, None].to(union), union], 1), size, 1.0, 2, True)
        other = roi_align(probs, torch.cat([j[:, None].to(union), union], 1), size, 1.0, 2, True)
        return torch.cat([one, other], dim=1)

    def difference(self, patches: torch.Tensor) -> torch.Tensor:
        """d(i, j) = g(x_ij) - g(x_ji) of patches [P, 4, S, S] → [P]."""
        swapped = torch.cat([patches[:, 2:], patches[:, :2]], dim=1)
        return (self.net(patches) - self.net(swapped))[:, 0]

    def forward(
        self, amodal: torch.Tensor, visible: torch.Tensor, boxes: torch.Tensor,
        image_size: tuple[int, int], pairs: torch.Tensor,
    ) -> torch.Tensor:
        """s(i, j) in (-1, 1) of each pair [P, 2] → [P] float32 (arguments as `patches`)."""
        if len(pairs) == 0:
            return amodal.new_zeros(0, dtype=torch.float32)
        patches = self.patches(amodal, visible, boxes, image_size, pairs)
        return torch.tanh(self.difference(patches.to(self.net[0].weight.dtype))).float()


__all__ = ["ORDER_PREFIX", "OrderHead"]
