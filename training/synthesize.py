"""Generate an Amodal-LVIS-style synthetic amodal set (paper, section 3.3).

Generate (index i of N yields one occluded and one original image, i.e. 2N PNGs):

    python -m training.synthesize --source SOURCE --out DIR --num-images N --seed S
        [--image-size 256] [--occlusion-range LO HI] [--workers W] [--feather]
        [--annotate-occluders] [--shard I --num-shards K] [--image-root DIR]
        [--completeness-checkpoint CKPT [--completeness-min-iou 0.9] [--device cpu]]

SOURCE is `shapes` (procedural textured shapes), a plain COCO instances JSON (complete objects
are found with the modal masks and a box-overlap test), or FORMAT:PATH for any reader of
`sameo_core.data.registry` (complete = unoccluded instances). Output: DIR/images/*.png and
DIR/annotations.json in the amodal-COCO schema (read it back with `amodal_coco:DIR/...`).
Each pair annotates the target twice, occluded and original: occluded and unoccluded instances
are equal (POI 50 %, as the paper's Amodal-LVIS); `--annotate-occluders` also annotates the
pasted occluder (POI 33 %).

`--completeness-checkpoint CKPT` runs the model completeness check of the paper (section 3.3):
SAMEO predicts the amodal mask of each candidate complete object from its box, and only objects
whose prediction matches their visible mask (IoU >= `--completeness-min-iou`) are used. It runs
once, before generation; the checkpoint and threshold are part of the output's settings.

SOURCE `scenes` writes multi-object procedural scenes instead of pairs (index i yields one image
of 2-4 shapes occluding each other, `sameo_core.data.procedural_scenes`), the held-out set of the
occlusion-order evaluation (`training.evaluate_occlusion`). Every annotation carries the true
layer order in `occluded_by` (ids of the annotations in front of it that overlap it).

Index i uses its own generator seeded by (seed, i), so output bytes do not depend on --workers
or sharding. A rerun skips indices that are already complete (resume). With --shard I
--num-shards K a run makes only the indices i with i % K == I; merge the shard directories:

    python -m training.synthesize merge SHARD_DIR [SHARD_DIR ...] --out DIR

which gives the same bytes as one unsharded run. Throughput benchmark (fresh temp dirs):

    python -m training.synthesize bench [--num-images 200] [--image-size 256]
        [--workers 1 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sameo_core.data.amodal_lvis import ObjectSource, SynthConfig, synthesize_pair
from sameo_core.data.complete_objects import (
    CompletenessCheck,
    RecordsSource,
    ShapeObjects,
    check_completeness,
    collect_complete_objects,
)
from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.data.records import InstanceRecord
from sameo_core.data.registry import parse_spec, read_dataset
from sameo_core.data.synth_store import (
    assemble,
    is_complete,
    merge,
    prepare,
    write_pair,
    write_scene,
)
from sameo_core.geometry import xywh_to_xyxy
from sameo_core.tools import cli

ObjectKey = tuple[object, object]  # (image_id, annotation_id) of a complete object


@dataclass(frozen=True)
class Job:
    out: Path
    source: str
    num_images: int
    seed: int
    image_size: int = 256
    image_root: str | None = None
    synth: SynthConfig = SynthConfig()
    completeness_checkpoint: str | None = None  # SAMEO weights for the section-3.3 check
    completeness_min_iou: float = 0.9


SCENES = "scenes"  # multi-object procedural scenes, not pairs


def scene_config(job: Job) -> SceneConfig:
    return SceneConfig(image_size=job.image_size, occlusion_range=job.synth.occlusion_range)


def _complete_objects(job: Job) -> list[InstanceRecord]:
    fmt, path = parse_spec(job.source) if ":" in job.source else ("coco_instances", job.source)
    return collect_complete_objects(read_dataset(fmt, path, job.image_root).records)


def build_source(job: Job, keep: frozenset[ObjectKey] | None = None) -> ObjectSource:
    """The object pool of `job`; `keep` restricts it to the objects that passed the model
    completeness check (see `model_checked_objects`)."""
    if job.source in ("shapes", SCENES):
        return ShapeObjects(job.image_size)
    objects = _complete_objects(job)
    if keep is not None:
        objects = [r for r in objects if (r.image_id, r.annotation_id) in keep]
    return RecordsSource(objects)


def model_completeness_check(
    checkpoint: str, min_iou: float, device: str = "cpu"
) -> CompletenessCheck:
    """The section-3.3 check as the `CompletenessCheck` callable of `sameo_core.data`: SAMEO's
    amodal mask of an object's box (the image is encoded once for all its objects)."""
    import torch

    from sameo_core.inference import AmodalPredictor, PredictorConfig
    from sameo_core.model import build_sameo

    predictor = AmodalPredictor(build_sameo(checkpoint=checkpoint), device=torch.device(device),
                                config=PredictorConfig(invalid_boxes="skip"))  # fmt: skip
    encoded: list[np.ndarray] = []  # the image set last (a cached array of the pool's images)

    def predict(image: np.ndarray, box_xywh: tuple[float, float, float, float]) -> np.ndarray:
        if not encoded or encoded[0] is not image:
            predictor.set_image(image)
            encoded[:] = [image]
        height, width = image.shape[:2]
        masks = predictor.predict(xywh_to_xyxy(box_xywh)[None]).masks
        return masks[0].amodal.paste(height, width) if masks else np.zeros((height, width), bool)

    return CompletenessCheck(predict, min_iou)


def model_checked_objects(job: Job, device: str = "cpu") -> frozenset[ObjectKey] | None:
    """Keys of the complete objects that pass the model check (None without a checkpoint)."""
    if not job.completeness_checkpoint:
        return None
    if job.source in ("shapes", SCENES):
        raise ValueError("--completeness-checkpoint checks the objects of a dataset; "
                         "procedural shapes are complete by construction")  # fmt: skip
    candidates = _complete_objects(job)
    check = model_completeness_check(job.completeness_checkpoint, job.completeness_min_iou,
                                     device)  # fmt: skip
    kept = check_completeness(candidates, check)
    print(f"completeness check ({job.completeness_checkpoint}, IoU >= "
          f"{job.completeness_min_iou}): kept {len(kept)} of {len(candidates)} complete objects")
    return frozenset((r.image_id, r.annotation_id) for r in kept)


def meta(job: Job, source: ObjectSource) -> dict[str, object]:
    """Every setting that changes the output (not the workers nor the shard)."""
    settings = asdict(job)
    settings.pop("out")
    if job.source not in ("shapes", SCENES):
        settings.pop("image_size")
    if not job.completeness_checkpoint:
        settings.pop("completeness_checkpoint")
        settings.pop("completeness_min_iou")
    if job.source == SCENES:
        settings["scene"] = asdict(scene_config(job))
    return {**settings, "categories": source.categories}


_WORKER: tuple[Job, ObjectSource] | None = None


def _init_worker(job: Job, keep: frozenset[ObjectKey] | None = None) -> None:
    global _WORKER
    _WORKER = (job, build_source(job, keep))


def _make(index: int) -> int:
    assert _WORKER is not None, "worker not initialised"
    job, source = _WORKER
    rng = np.random.default_rng([job.seed, index])
    if job.source == SCENES:
        cfg = scene_config(job)
        write_scene(job.out, index, *generate_scene(rng, cfg), cfg.num_objects[1])
    else:
        pair = synthesize_pair(rng, source, job.synth)
        write_pair(job.out, index, pair, job.synth.annotate_occluders)
    return index


def generate(
    job: Job, workers: int = 1, shard: int = 0, num_shards: int = 1, device: str = "cpu"
) -> dict[str, int]:
    """Make the missing indices of this shard, then assemble its annotations.json."""
    if not 0 <= shard < num_shards:
        raise ValueError(f"need 0 <= shard < num_shards, got {shard}, {num_shards}")
    if job.num_images < 1 or workers < 1:
        raise ValueError("num_images and workers must be >= 1")
    if not 0.0 <= job.completeness_min_iou <= 1.0:
        raise ValueError(f"completeness IoU must be in [0, 1], got {job.completeness_min_iou}")
    keep = model_checked_objects(job, device)
    _init_worker(job, keep)
    assert _WORKER is not None
    prepare(job.out, meta(job, _WORKER[1]))
    mine = range(shard, job.num_images, num_shards)
    todo = [i for i in mine if not is_complete(job.out, i)]
    if workers == 1:
        for i in todo:
            _make(i)
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(job, keep)) as pool:
            for _ in pool.imap_unordered(
                _make, todo, chunksize=max(1, len(todo) // (8 * workers))
            ):
                pass
    assemble(job.out, mine)
    return {"generated": len(todo), "skipped": len(mine) - len(todo)}


def _generate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--source", required=True,
                   help="shapes | scenes | COCO instances JSON | FORMAT:PATH")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--num-images", type=int, required=True,
        help="number of occluded/original pairs (of scenes for --source scenes)",
    )
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--image-size", type=int, default=256, help="shapes and scenes only")
    p.add_argument("--image-root", default=None, help="folder of the source images")
    p.add_argument(
        "--occlusion-range", type=float, nargs=2, default=(0.1, 0.7), metavar=("LO", "HI")
    )
    p.add_argument("--feather", action="store_true", help="1-px soft edge on pasted pixels")
    p.add_argument("--annotate-occluders", action="store_true",
                   help="also annotate the pasted occluder (POI 33 %% instead of 50 %%)")
    p.add_argument("--completeness-checkpoint", default=None, metavar="CKPT",
                   help="SAMEO weights: keep only complete objects the model agrees with")
    p.add_argument("--completeness-min-iou", type=float, default=0.9,
                   help="IoU of prediction and visible mask an object needs (default 0.9)")
    p.add_argument("--device", default="cpu", help="device of the completeness check")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--num-shards", type=int, default=1)
    return p


def _run_generate(argv: list[str]) -> int:
    a = _generate_parser().parse_args(argv)
    synth = SynthConfig(occlusion_range=tuple(a.occlusion_range), feather=a.feather,
                        annotate_occluders=a.annotate_occluders)  # fmt: skip
    job = Job(a.out, a.source, a.num_images, a.seed, a.image_size, a.image_root, synth,
              a.completeness_checkpoint, a.completeness_min_iou)  # fmt: skip
    counts = generate(job, a.workers, a.shard, a.num_shards, a.device)
    print(f"{a.out}: generated {counts['generated']}, already complete {counts['skipped']}")
    return 0


def _run_merge(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m training.synthesize merge")
    p.add_argument("shards", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    print(f"merged {len(a.shards)} shard(s) into {merge(a.shards, a.out)}")
    return 0


def _bench_generate(num_images: int, image_size: int, workers: int) -> dict[str, object]:
    """Wall time of a fresh shapes run, worker start-up included."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(Job(Path(tmp), "shapes", num_images, 0, image_size), workers)
        seconds = time.perf_counter() - start
    return {"what": "synthesize", "workers": workers, "pairs": num_images,
            "pngs": 2 * num_images, "image_size": image_size, "seconds": round(seconds, 2),
            "pairs_per_s": round(num_images / seconds, 1),
            "pngs_per_s": round(2 * num_images / seconds, 1)}  # fmt: skip


def _bench_scenes(num_images: int, image_size: int) -> dict[str, object]:
    """In-process `generate_scene` rate (what an on-the-fly training loader gets)."""
    from sameo_core.data.procedural_scenes import SceneConfig, generate_scene

    cfg = SceneConfig(image_size=image_size)
    start = time.perf_counter()
    for i in range(num_images):
        generate_scene(np.random.default_rng([0, i]), cfg)
    seconds = time.perf_counter() - start
    return {"what": "generate_scene", "workers": 1, "scenes": num_images,
            "image_size": image_size, "seconds": round(seconds, 2),
            "scenes_per_s": round(num_images / seconds, 1)}  # fmt: skip


def _run_bench(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m training.synthesize bench")
    p.add_argument("--num-images", type=int, default=200)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    rows = [_bench_generate(a.num_images, a.image_size, w) for w in a.workers]
    rows.append(_bench_scenes(a.num_images, a.image_size))
    for row in rows:
        print(json.dumps(row))
    if a.json is not None:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"merge": _run_merge, "bench": _run_bench}
    if argv and argv[0] in commands:
        return commands[argv[0]](argv[1:])
    return _run_generate(argv)


if __name__ == "__main__":
    cli.run(main)
