"""Who occludes whom: a pairwise occlusion order and a front-to-back rank, from masks alone (and,
optionally, depth evidence and a learned order head's scores per pair).

A pure function of the masks of one frame (`occlusion_order`); README, "Occlusion order".

Mask evidence. Two objects i and j can occlude each other only where their amodal masks overlap,
O = A_i ∩ A_j. The one in front is the one that is seen there: of the overlap, the object in front
has its visible mask, the one behind has it hidden. The mask score of the pair is

    s_mask(i, j) = (|V_i ∩ O| - |V_j ∩ O|) / |O|   in [-1, 1], positive: i in front of j.

It is near ±1 when one visible mask covers the overlap and the other does not, and near 0 when
neither is seen there (a third object hides the overlap) or both claim it (inconsistent masks).
Pairs whose amodal masks share fewer than `min_overlap` pixels are not related.

Depth evidence (optional; what RGB-D adds): a mapping {(i, j): d} with d in [-1, 1], positive
when i is in front of j (nearer to the camera in the overlap). Each unordered pair is given at
most once, in either orientation ((j, i): -d is the same statement). It is combined linearly,

    s(i, j) = mask_weight * s_mask(i, j) + depth_weight * d(i, j)     (d = 0 when not given),

and the pair is decided when s ≠ 0 and |s| ≥ `margin`: the front object is i if s > 0, else j;
|s| is the confidence of the decision (`PairOrder.score`). The default margin is 0: any imbalance
of evidence decides, a pair without any (s = 0) stays undecided; a caller that wants only strong
decisions raises it. Depth evidence counts only for pairs whose amodal masks overlap (no overlap,
no occlusion); it can decide a pair that the masks leave undecided, or overrule them when it is
stronger.

Learned evidence (optional; a network with the pairwise order head, `sameo_core/model/
order_head.py`, `Prediction.pair_order`): a mapping {(i, j): l} of the same form as depth
evidence, l in [-1, 1] the head's score, positive when i is in front. It is a linear term
and, as depth, counts only for pairs whose amodal masks overlap; it takes the place of depth
evidence where a pair has none:

    s(i, j) = mask_weight * s_mask(i, j) + learned_weight * l(i, j)    (no depth for the pair).

The head predicts from the image what a depth reading measures (who is nearer in the overlap),
so where there is a reading the measurement decides with the masks as without a head; with both
terms, a head trained on synthetic shapes outvoted correct depth evidence on the RGB-D frames of
the node's tests (README, "Occlusion order").

Rank. Decided pairs are directed edges front → back. Occlusion can be cyclic (three interlocked
objects), so the rank is computed on an acyclic subset: edges are accepted from the strongest to
the weakest (|s|, then the larger overlap, then the lower index pair), and an edge that would close
a cycle with edges accepted before it is left out of the rank (`PairOrder.in_rank` is False).
rank(i) = 0 when no accepted edge points at i, else 1 + the largest rank of its accepted
occluders: the length of the longest chain of objects in front of it. Objects of equal rank never
occlude each other (through accepted edges); `front_to_back` sorts by (rank, index).
`occluded_by` / `occludes` list every decided pair, including those the rank leaves out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sameo_core.geometry import RoiMask

DepthEvidence = Mapping[tuple[int, int], float]


@dataclass(frozen=True)
class OrderConfig:
    """min_overlap: fewest shared amodal pixels for a pair to be related.
    margin: smallest |combined score| that decides a pair (0: any non-zero score decides).
    mask_weight, depth_weight: weights of the mask score and of the depth evidence. Depth counts
      twice: a depth reading is a measurement of who is nearer, the visible masks a prediction,
      so depth evidence of 0.5 or more decides against any mask evidence (|s_mask| <= 1), and
      weaker depth evidence (a diluted overlap, few readings) leaves strong mask evidence in
      charge. With 1 : 1 the modal head's mistakes overruled correct depth evidence on the
      demo model's RGB-D frames (README, "3D from depth").
    learned_weight: weight of the order head's score, used where a pair has no depth evidence.
      2, as depth: a score of 0.5 or more decides against any mask evidence. On the validation
      set of BENCHMARKS.md ("Occlusion order on the model's own masks") 1 ordered fewer pairs
      than 2, and 4 or 8 no more."""

    min_overlap: int = 4
    margin: float = 0.0
    mask_weight: float = 1.0
    depth_weight: float = 2.0
    learned_weight: float = 2.0

    def __post_init__(self) -> None:
        if self.min_overlap < 1:
            raise ValueError(f"min_overlap must be ≥ 1 pixel, got {self.min_overlap}")
        for name in ("margin", "mask_weight", "depth_weight", "learned_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and ≥ 0, got {value}")


@dataclass(frozen=True)
class PairOrder:
    """The evidence and the decision for one pair of related objects (first < second).

    overlap: |A_first ∩ A_second| in pixels. mask_score, depth_score and learned_score (None:
    not given) and score are oriented as s(first, second): positive means `first` in front.
    front: the index of the object in front, None when undecided. in_rank: whether the rank
    honours this decision.
    """

    first: int
    second: int
    overlap: int
    mask_score: float
    depth_score: float | None
    learned_score: float | None
    score: float
    front: int | None
    in_rank: bool

    @property
    def back(self) -> int | None:
        if self.front is None:
            return None
        return self.second if self.front == self.first else self.first


@dataclass(frozen=True)
class OcclusionOrder:
    """Per object i (the index of its mask in the input):

    occluded_by[i]: the objects in front of i where they overlap (ascending indices).
    occludes[i]: the objects i is in front of.
    rank[i]: 0 for an object nothing is in front of, else the length of the longest chain of
      objects in front of it (module docstring).
    front_to_back: all indices sorted by (rank, index).
    pairs: every related pair (amodal overlap ≥ min_overlap), decided or not.
    """

    occluded_by: tuple[tuple[int, ...], ...]
    occludes: tuple[tuple[int, ...], ...]
    rank: tuple[int, ...]
    front_to_back: tuple[int, ...]
    pairs: tuple[PairOrder, ...]

    def front_of(self, i: int, j: int) -> int | None:
        """The one of i and j in front, None when the pair is unrelated or undecided."""
        key = (min(i, j), max(i, j))
        for pair in self.pairs:
            if (pair.first, pair.second) == key:
                return pair.front
        return None


_BITS_PER_BYTE = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1)
_WORD = 64  # pixels per packed word


def _count_bits(words: np.ndarray) -> int:
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return int(np.bitwise_count(words).sum(dtype=np.int64))
    return int(_BITS_PER_BYTE[np.ascontiguousarray(words).view(np.uint8)].sum(dtype=np.int64))


@dataclass(frozen=True)
class _PackedMask:
    """A mask's rows packed 64 pixels per word, words aligned to image x = 64k, so that the
    words of two masks at the same image position line up: rows [y0, y0 + h), words
    [w0, w0 + nw)."""

    y0: int
    w0: int
    bits: np.ndarray  # uint64 [h, nw]

    @classmethod
    def of(cls, roi: RoiMask, pixels: np.ndarray | None = None) -> _PackedMask:
        x0, y0 = roi.offset
        mask = roi.mask if pixels is None else pixels
        left = x0 % _WORD  # floor semantics: also right for negative offsets
        h, w = mask.shape
        padded = np.zeros((h, -(-(left + w) // _WORD) * _WORD), bool)
        padded[:, left : left + w] = mask
        return cls(y0, x0 // _WORD, np.packbits(padded, axis=1).view(np.uint64))


def _shared(a: _PackedMask, b: _PackedMask) -> tuple[np.ndarray, np.ndarray] | None:
    """The words of `a` and `b` over their common rows and word columns (None: none)."""
    (ah, an), (bh, bn) = a.bits.shape, b.bits.shape
    y0, y1 = max(a.y0, b.y0), min(a.y0 + ah, b.y0 + bh)
    w0, w1 = max(a.w0, b.w0), min(a.w0 + an, b.w0 + bn)
    if y1 <= y0 or w1 <= w0:
        return None
    return (a.bits[y0 - a.y0 : y1 - a.y0, w0 - a.w0 : w1 - a.w0],
            b.bits[y0 - b.y0 : y1 - b.y0, w0 - b.w0 : w1 - b.w0])  # fmt: skip


def mask_evidence(
    amodal: Sequence[RoiMask], visible: Sequence[RoiMask], min_overlap: int = 1
) -> dict[tuple[int, int], tuple[int, float]]:
    """{(i, j): (overlap pixels, s_mask(i, j))} for every pair i < j whose amodal masks share at
    least `min_overlap` pixels (module docstring).

    Masks are bit-packed once per object (visible masks in their amodal mask's frame, clipped to
    it), so that a pair costs a few word-wise ANDs and bit counts over its common rectangle.
    """
    packed_amodal = [_PackedMask.of(a) for a in amodal]
    packed_visible = [_PackedMask.of(a, a.mask & a.aligned(v)) for a, v in zip(amodal, visible)]
    evidence = {}
    for i in range(len(amodal)):
        for j in range(i + 1, len(amodal)):
            common = _shared(packed_amodal[i], packed_amodal[j])
            if common is None:
                continue
            a_i, a_j = common
            size = _count_bits(a_i & a_j)
            if size < min_overlap:
                continue
            # A visible mask is packed in its amodal mask's frame, so it has the same common
            # words; and V ⊆ A, so V_i ∩ O = V_i ∩ A_j.
            v_i = _shared(packed_visible[i], packed_amodal[j])[0]
            v_j = _shared(packed_amodal[i], packed_visible[j])[1]
            seen_i, seen_j = _count_bits(v_i & a_j), _count_bits(v_j & a_i)
            evidence[(i, j)] = (size, float(seen_i - seen_j) / size)
    return evidence


def _oriented(
    evidence: DepthEvidence | None, n: int, kind: str = "depth"
) -> dict[tuple[int, int], float]:
    """Depth or learned evidence as {(i, j): d} with i < j, checked."""
    out: dict[tuple[int, int], float] = {}
    for key, value in (evidence or {}).items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"{kind} evidence keys are index pairs (i, j), got {key!r}")
        i, j = (int(k) for k in key)
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"{kind} evidence pair {key!r} is not two distinct of {n} objects")
        score = float(value)
        if not (math.isfinite(score) and -1.0 <= score <= 1.0):
            raise ValueError(f"{kind} evidence of {key!r} must be finite in [-1, 1]: {value!r}")
        pair = (min(i, j), max(i, j))
        if pair in out:
            raise ValueError(f"{kind} evidence gives the pair {pair} twice")
        out[pair] = score if i < j else -score
    return out


def _reaches(edges: dict[int, set[int]], start: int, goal: int) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in edges[node] - seen:
            seen.add(nxt)
            stack.append(nxt)
    return False


def _ranks(n: int, edges: dict[int, set[int]]) -> list[int]:
    """Longest-path layer of each node of an acyclic graph front → back."""
    indegree = [0] * n
    for targets in edges.values():
        for t in targets:
            indegree[t] += 1
    rank = [0] * n
    ready = [i for i in range(n) if indegree[i] == 0]
    while ready:
        node = ready.pop()
        for t in edges[node]:
            rank[t] = max(rank[t], rank[node] + 1)
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return rank


def occlusion_order(
    amodal: Sequence[RoiMask],
    visible: Sequence[RoiMask],
    depth_evidence: DepthEvidence | None = None,
    config: OrderConfig | None = None,
    learned_evidence: DepthEvidence | None = None,
) -> OcclusionOrder:
    """The occlusion order of one frame's objects from their amodal and visible masks.

    Arguments:
      amodal, visible: one `RoiMask` each per object, in the same order; indices into these
        lists are the object ids of the result.
      depth_evidence: optional {(i, j): d}, d in [-1, 1], positive when i is in front of j;
        combined with the mask score as the module docstring says.
      config: thresholds and weights (`OrderConfig`).
      learned_evidence: optional {(i, j): l}, l in [-1, 1], the order head's scores
        (`Prediction.pair_order`), combined in the same way.
    """
    cfg = config or OrderConfig()
    if len(amodal) != len(visible):
        raise ValueError(f"{len(amodal)} amodal masks but {len(visible)} visible masks")
    n = len(amodal)
    depth = _oriented(depth_evidence, n)
    learned = _oriented(learned_evidence, n, "learned")
    pairs = []
    for (i, j), (overlap, s_mask) in mask_evidence(amodal, visible, cfg.min_overlap).items():
        d, g = depth.get((i, j)), learned.get((i, j))
        extra = cfg.depth_weight * d if d is not None else cfg.learned_weight * (g or 0.0)
        score = cfg.mask_weight * s_mask + extra
        front = None if abs(score) < cfg.margin or score == 0 else (i if score > 0 else j)
        pairs.append((i, j, overlap, s_mask, d, g, score, front))
    # Cycle breaking: strongest decisions first; one closing a cycle stays out of the rank.
    edges: dict[int, set[int]] = {k: set() for k in range(n)}
    in_rank = set()
    decided = sorted((p for p in pairs if p[7] is not None),
                     key=lambda p: (-abs(p[6]), -p[2], p[0], p[1]))
    for i, j, *_, front in decided:
        back = j if front == i else i
        if not _reaches(edges, back, front):
            edges[front].add(back)
            in_rank.add((i, j))
    rank = _ranks(n, edges)
    occluded_by: list[list[int]] = [[] for _ in range(n)]
    occludes: list[list[int]] = [[] for _ in range(n)]
    for i, j, *_, front in decided:
        back = j if front == i else i
        occluded_by[back].append(front)
        occludes[front].append(back)
    return OcclusionOrder(
        occluded_by=tuple(tuple(sorted(v)) for v in occluded_by),
        occludes=tuple(tuple(sorted(v)) for v in occludes),
        rank=tuple(rank),
        front_to_back=tuple(sorted(range(n), key=lambda k: (rank[k], k))),
        pairs=tuple(PairOrder(*p, in_rank=(p[0], p[1]) in in_rank) for p in pairs),
    )


__all__ = ["DepthEvidence", "OcclusionOrder", "OrderConfig", "PairOrder", "mask_evidence",
           "occlusion_order"]
