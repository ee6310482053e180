"""On-disk layout of a synthetic set, written so that runs are resumable and shards merge.

    DIR/meta.json          generation settings (everything that changes the output)
    DIR/images/NNNNNNN_occluded.png, NNNNNNN_original.png
    DIR/parts/NNNNNNN.json per-index annotations, written last: its presence plus its two
                           images mark index N as complete
    DIR/annotations.json   amodal-COCO file assembled from the parts, in index order

Ids depend on the index only (pairs: images 2i+1 / 2i+2; annotations 3i+1 occluded target, 3i+2
occluder, written only with `SynthConfig.annotate_occluders`, 3i+3 original target; multi-object
scenes: image i+1, annotations S*i+1..S*i+S for at most S objects), every file is written to a
temporary name and renamed, and JSON is dumped with sorted keys, so the same settings give
byte-identical files whatever the worker count, sharding or resumption.

Every annotation carries the true layer order of its image as the extra key `occluded_by`: the
ids of the annotations of the same image whose amodal masks overlap it and that lie in front of
it (README, "Data"); an occluder that is not annotated is not listed. The readers put it in
`InstanceRecord.occluded_by`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sameo_core.data import rle as rle_utils
from sameo_core.data.amodal_lvis import SyntheticPair
from sameo_core.data.procedural_scenes import SceneInstance
from sameo_core.files import atomic_write_bytes


def write_atomic(path: Path, data: bytes) -> None:
    # Regenerable bulk data: renamed into place, not fsynced (an interrupted run is resumed).
    atomic_write_bytes(path, data, durable=False)


def dumps(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode()


def part_path(out: Path, index: int) -> Path:
    return out / "parts" / f"{index:07d}.json"


def _annotation(inst: SceneInstance, ann_id: int, image_id: int, **extra: Any) -> dict[str, Any]:
    """`extra` must include `occluded_by` (annotation ids in front of this one)."""
    amodal = rle_utils.encode(inst.amodal_mask)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": inst.category_id,
        "segmentation": amodal,
        "visible_mask": rle_utils.encode(inst.visible_mask),
        "bbox": list(inst.amodal_box),
        "visible_bbox": list(inst.visible_box),
        "area": rle_utils.area(amodal),
        "occlude_rate": float(inst.occlusion_rate),
        "iscrowd": 0,
        **extra,
    }


def pair_to_coco(
    index: int, pair: SyntheticPair, annotate_occluder: bool = False
) -> dict[str, Any]:
    """The images and annotations of one pair. `pair_id` links the occluded and original
    versions of the target; `paired_annotation_id` points at the other version. The occluder
    is annotated only with `annotate_occluder` (balance: `sameo_core.data.amodal_lvis`)."""
    h, w = pair.occluded_image.shape[:2]
    occ_img, orig_img = 2 * index + 1, 2 * index + 2
    tgt_occ, occluder, tgt_orig = 3 * index + 1, 3 * index + 2, 3 * index + 3
    images = [
        {"id": image_id, "file_name": f"images/{index:07d}_{version}.png", "height": h,
         "width": w, "pair_id": index, "version": version}
        for image_id, version in ((occ_img, "occluded"), (orig_img, "original"))
    ]  # fmt: skip
    link = {"pair_id": index}
    annotations = [
        _annotation(pair.target_occluded, tgt_occ, occ_img, role="target",
                    version="occluded", paired_annotation_id=tgt_orig, **link,
                    # the occluder is pasted over the target (listed only when annotated)
                    occluded_by=[occluder] if annotate_occluder else []),
        _annotation(pair.occluder, occluder, occ_img, role="occluder", version="occluded",
                    occluded_by=[], **link),
        _annotation(pair.target_original, tgt_orig, orig_img, role="target",
                    version="original", paired_annotation_id=tgt_occ, occluded_by=[], **link),
    ]  # fmt: skip
    if not annotate_occluder:
        annotations = [a for a in annotations if a["role"] != "occluder"]
    return {"images": images, "annotations": annotations}


def scene_to_coco(
    index: int, image: np.ndarray, instances: Sequence[SceneInstance], max_objects: int
) -> dict[str, Any]:
    """The image and annotations of one multi-object scene (`generate_scene`), with the layer
    order of its instances (their `occluded_by` indices turned into annotation ids)."""
    if len(instances) > max_objects:
        raise ValueError(f"scene {index} has {len(instances)} objects, ids allow {max_objects}")
    h, w = image.shape[:2]
    image_id = index + 1
    ids = [max_objects * index + k + 1 for k in range(len(instances))]
    images = [{"id": image_id, "file_name": f"images/{index:07d}_scene.png", "height": h,
               "width": w}]  # fmt: skip
    annotations = [
        _annotation(inst, ids[k], image_id, occluded_by=[ids[i] for i in inst.occluded_by])
        for k, inst in enumerate(instances)
    ]
    return {"images": images, "annotations": annotations}


def _png(image_rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def write_pair(
    out: Path, index: int, pair: SyntheticPair, annotate_occluder: bool = False
) -> None:
    """Images first, then the part file that marks the index complete."""
    part = pair_to_coco(index, pair, annotate_occluder)
    for img, pixels in zip(part["images"], (pair.occluded_image, pair.original_image)):
        write_atomic(out / img["file_name"], _png(pixels))
    write_atomic(part_path(out, index), dumps(part))


def write_scene(
    out: Path, index: int, image: np.ndarray, instances: Sequence[SceneInstance], max_objects: int
) -> None:
    """A multi-object scene: its image first, then the part file that marks it complete."""
    part = scene_to_coco(index, image, instances, max_objects)
    write_atomic(out / part["images"][0]["file_name"], _png(image))
    write_atomic(part_path(out, index), dumps(part))


def is_complete(out: Path, index: int) -> bool:
    path = part_path(out, index)
    if not path.is_file():
        return False
    part = json.loads(path.read_text())
    return all((out / img["file_name"]).is_file() for img in part["images"])


def prepare(out: Path, meta: dict[str, Any]) -> None:
    """Create `out` for these settings; refuse to mix with output of other settings. Temporary
    files left by an interrupted run are removed (finished files are never temporary)."""
    for stale in (*out.glob("images/.*.tmp"), *out.glob("parts/.*.tmp")):
        stale.unlink()
    path = out / "meta.json"
    if path.is_file() and json.loads(path.read_text()) != json.loads(dumps(meta)):
        raise ValueError(f"{out} holds output generated with other settings ({path})")
    write_atomic(path, dumps(meta))


def assemble(out: Path, indices: Iterable[int]) -> Path:
    """Write `out/annotations.json` from the parts of `indices` (all must be complete)."""
    meta = json.loads((out / "meta.json").read_text())
    images: list[Any] = []
    annotations: list[Any] = []
    missing = []
    for index in indices:
        if not is_complete(out, index):
            missing.append(index)
            continue
        part = json.loads(part_path(out, index).read_text())
        images += part["images"]
        annotations += part["annotations"]
    if missing:
        raise FileNotFoundError(f"{len(missing)} index(es) incomplete in {out}: {missing[:5]}...")
    coco = {"info": meta, "images": images, "annotations": annotations,
            "categories": meta["categories"]}  # fmt: skip
    write_atomic(out / "annotations.json", dumps(coco))
    return out / "annotations.json"


def merge(shards: Sequence[Path], out: Path) -> Path:
    """Combine shard directories (same settings) into `out` and assemble all indices."""
    if not shards:
        raise ValueError("no shard directories to merge")
    metas = [json.loads((Path(s) / "meta.json").read_text()) for s in shards]
    if any(m != metas[0] for m in metas):
        raise ValueError("shards were generated with different settings; refusing to merge")
    prepare(out, metas[0])
    for shard in map(Path, shards):
        for part in sorted((shard / "parts").glob("*.json")):
            index = int(part.stem)
            if not is_complete(shard, index) or is_complete(out, index):
                continue
            for img in json.loads(part.read_text())["images"]:
                write_atomic(out / img["file_name"], (shard / img["file_name"]).read_bytes())
            write_atomic(part_path(out, index), part.read_bytes())
    return assemble(out, range(int(metas[0]["num_images"])))
