"""One Amodal-LVIS-style synthetic sample (paper, section 3.3), with dual annotation.

A complete target object (in its own scene) is paired with a second complete object, the
occluder, which is rescaled to a similar area (aspect ratio kept) and pasted by its mask where
it hides a share of the target inside `occlusion_range` (box-steered, mask-verified). Both the
occluded composite and the untouched original scene are returned, so the target appears
occluded once and unoccluded once (the dual annotation that prevents occlusion bias).

Balance: the paper's Amodal-LVIS "maintains an equal distribution of occluded and non-occluded
annotations" (POI 50 % in Table 1). The stored set therefore annotates the two versions of the
target only, one occluded and one not, which is exactly 50 %; the occluder is pasted into the
image but not annotated by default (`annotate_occluders=True` adds it, unoccluded, for sets
where every visible object must be annotated, at POI 33 %). Training prompts only annotated
instances, so an unannotated occluder is simply never a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sameo_core.data.complete_objects import TargetScene
from sameo_core.data.compositing import normalise_size, paste, place_occluder
from sameo_core.data.procedural_scenes import SceneInstance, make_instance
from sameo_core.data.shapes import ObjectPatch


class ObjectSource(Protocol):
    categories: list[dict[str, object]]

    def draw_scene(self, rng: np.random.Generator) -> TargetScene: ...

    def draw_object(self, rng: np.random.Generator, avoid_key: int = -1) -> ObjectPatch: ...


@dataclass(frozen=True)
class SynthConfig:
    occlusion_range: tuple[float, float] = (0.1, 0.7)
    size_jitter: tuple[float, float] = (0.7, 1.4)  # occluder area / target area
    placement_attempts: int = 30
    pair_attempts: int = 50
    feather: bool = False  # 1-px soft edge on the pasted pixels; masks stay binary
    annotate_occluders: bool = False  # also annotate the occluder (POI 33 % instead of 50 %)

    def __post_init__(self) -> None:
        lo, hi = self.occlusion_range
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError(f"occlusion range must satisfy 0 < LO <= HI < 1, got {lo} {hi}")
        if not 0.0 < self.size_jitter[0] <= self.size_jitter[1]:
            raise ValueError(f"bad size_jitter {self.size_jitter}")


@dataclass(frozen=True)
class SyntheticPair:
    occluded_image: np.ndarray  # RGB uint8: target with the occluder pasted in front
    original_image: np.ndarray  # RGB uint8: the same scene without the occluder
    target_occluded: SceneInstance
    occluder: SceneInstance
    target_original: SceneInstance


def synthesize_pair(
    rng: np.random.Generator, source: ObjectSource, cfg: SynthConfig
) -> SyntheticPair:
    """One occluded/original pair; raises ValueError when no pair fits in `pair_attempts`."""
    for _ in range(cfg.pair_attempts):
        scene = source.draw_scene(rng)
        canvas = scene.mask.shape
        occluder = normalise_size(
            source.draw_object(rng, scene.key), int(np.count_nonzero(scene.mask)), canvas, rng,
            cfg.size_jitter,
        )  # fmt: skip
        spot = place_occluder(
            rng, scene.mask, occluder.mask, cfg.occlusion_range, cfg.placement_attempts
        )
        if spot is None:
            continue
        image, occ_mask = paste(scene.image, occluder, spot.top, spot.left, cfg.feather)
        names = {c["id"]: str(c["name"]) for c in source.categories}
        tgt = (scene.category_id, names.get(scene.category_id, ""))
        return SyntheticPair(
            occluded_image=image,
            original_image=scene.image,
            target_occluded=make_instance(scene.mask, scene.mask & ~occ_mask, *tgt),
            occluder=make_instance(
                occ_mask, occ_mask, occluder.category_id, names.get(occluder.category_id, "")
            ),
            target_original=make_instance(scene.mask, scene.mask, *tgt),
        )
    raise ValueError(
        f"no occluder placement reached {cfg.occlusion_range} in {cfg.pair_attempts} pairs"
    )
