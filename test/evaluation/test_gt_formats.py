"""Evaluation on every GT schema through the dataset readers: equal to pycocotools called
directly on the same file, both subset methods, modal prompts from each schema's visible masks,
and a clear refusal of a GT without visible masks."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sameo_core.data.rle import encode
from sameo_core.evaluation.coco_eval import load_gt
from sameo_core.evaluation.prompts import gt_prompts

REPO = Path(__file__).resolve().parents[2]
S = 48


def _rect(x0, y0, x1, y1):
    m = np.zeros((S, S), bool)
    m[y0:y1, x0:x1] = True
    return m


def _poly(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]  # rasterises to columns x0..x1-1, rows y0..y1-1


# per image: (amodal box x0 y0 x1 y1, visible box); three of the six objects are occluded
OBJECTS = {
    1: [((2, 2, 20, 20), (2, 2, 20, 20)), ((15, 10, 40, 30), (20, 10, 40, 30)),
        ((5, 30, 25, 46), (5, 38, 25, 46))],
    2: [((4, 4, 30, 24), (4, 4, 30, 24)), ((26, 20, 46, 44), (30, 24, 46, 44)),
        ((2, 30, 14, 46), (2, 30, 14, 46))],
}  # fmt: skip


def _gt_file(tmp_path: Path, fmt: str) -> Path:
    anns = []
    for image_id, objects in OBJECTS.items():
        for amodal, visible in objects:
            a, v = _rect(*amodal), _rect(*visible)
            ann = {"id": len(anns) + 1, "image_id": image_id, "category_id": 1 + len(anns) % 3,
                   "iscrowd": 0, "area": float(a.sum()),
                   "bbox": [amodal[0], amodal[1], amodal[2] - amodal[0], amodal[3] - amodal[1]]}
            if fmt == "kins":  # amodal polygon, visible RLE
                ann.update(segmentation=_poly(*amodal), inmodal_seg=encode(v),
                           inmodal_bbox=[visible[0], visible[1], visible[2] - visible[0],
                                         visible[3] - visible[1]])
            elif fmt == "cocoa_cls":
                ann.update(segmentation=encode(a), visible_mask=encode(v),
                           occlude_rate=1 - v.sum() / a.sum())
            elif fmt == "d2sa":
                ann.update(segmentation=encode(a), visible_mask=encode(v),
                           occlude_rate=1 - v.sum() / a.sum(), amodal_region={"isStuff": 0})
            else:  # coco_instances: amodal masks only
                ann.update(segmentation=encode(a))
            anns.append(ann)
    data = {"images": [{"id": i, "file_name": f"{i}.png", "height": S, "width": S}
                       for i in (1, 2, 3)],  # image 3 has no object
            "annotations": anns,
            "categories": [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]}  # fmt: skip
    path = tmp_path / f"{fmt}.json"
    path.write_text(json.dumps(data))
    return path


def _results(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    results = []
    for image_id, objects in OBJECTS.items():
        for k, (amodal, visible) in enumerate(objects):
            box = amodal if k % 2 == 0 else visible  # some masks are only the visible part
            x0, y0, x1, y1 = (int(v + rng.integers(-2, 3)) for v in box)
            results.append({"image_id": image_id, "category_id": 7, "score": float(rng.random()),
                            "segmentation": encode(_rect(max(x0, 0), max(y0, 0), x1, y1))})
    results.append({"image_id": 3, "category_id": 7, "score": 0.99,
                    "segmentation": encode(_rect(1, 1, 9, 9))})  # a false positive
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return path


def _pycocotools(gt_path: Path, res_path: Path) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        results = json.loads(res_path.read_text())
        for r in results:
            r["category_id"] = 1  # with useCats = 0 a known category only gathers them
        ev = COCOeval(coco_gt, coco_gt.loadRes(results), "segm")
        ev.params.useCats = 0
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"AP": ev.stats[0], "AP50": ev.stats[1], "AP75": ev.stats[2], "AR100": ev.stats[8]}


def _subset_file(gt_path: Path, occluded: bool, method: str, tmp_path: Path) -> Path:
    """What the authors' `_occ.json` is (separate) or our ignore regions are, written out."""
    data = json.loads(gt_path.read_text())
    boxes = {i + 1: obj for i, obj in enumerate(o for objs in OBJECTS.values() for o in objs)}
    inside = {a["id"]: (boxes[a["id"]][0] != boxes[a["id"]][1]) == occluded
              for a in data["annotations"]}  # fmt: skip
    if method == "separate":
        data["annotations"] = [a for a in data["annotations"] if inside[a["id"]]]
    else:
        for a in data["annotations"]:
            a["iscrowd"] = 0 if inside[a["id"]] else 1
    path = tmp_path / f"{gt_path.stem}_{occluded}_{method}.json"
    path.write_text(json.dumps(data))
    return path


def _evaluate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.evaluate", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def _evaluate_here(*args: str) -> dict:
    """`python -m training.evaluate ARGS` in this process (its metrics dict)."""
    from training.evaluate import get_args_parser, main

    return main(get_args_parser().parse_args(list(args)))


@pytest.mark.parametrize("fmt", ["kins", "cocoa_cls", "d2sa"])
@pytest.mark.parametrize("method", ["ignore", "separate"])
def test_equals_pycocotools_on_the_same_file(tmp_path, fmt, method):
    gt_path, res_path = _gt_file(tmp_path, fmt), _results(tmp_path)
    out = tmp_path / "metrics.json"
    _evaluate_here("--gt", f"{fmt}:{gt_path}", "--results", str(res_path), "--subsets", method,
                   "--json", str(out))  # fmt: skip
    metrics = json.loads(out.read_text())
    expected = _pycocotools(gt_path, res_path)
    assert {k: metrics[k] for k in expected} == pytest.approx(expected, abs=1e-12)
    assert 0 < expected["AP"] < 1
    for subset, occluded in (("occluded", True), ("unoccluded", False)):
        reference = _pycocotools(_subset_file(gt_path, occluded, method, tmp_path), res_path)
        assert {k: metrics[subset][k] for k in reference} == pytest.approx(reference, abs=1e-12)
    assert metrics["gt"]["format"] == fmt and metrics["gt"]["subsets"] == method


def test_the_two_subset_methods_differ_where_they_should(tmp_path):
    from sameo_core.evaluation.coco_eval import evaluate_masks

    gt = load_gt(f"kins:{_gt_file(tmp_path, 'kins')}")
    # a perfect mask for every object, the unoccluded ones ranked first
    results = [{"image_id": i, "category_id": 1, "segmentation": encode(_rect(*a)),
                "score": 0.9 if a == v else 0.5}
               for i, objs in OBJECTS.items() for a, v in objs]  # fmt: skip
    ignore = evaluate_masks(gt, results, "occluded", "ignore").stats
    separate = evaluate_masks(gt, results, "occluded", "separate").stats
    # predictions of unoccluded objects are ignored, or false positives with separate GT files
    assert ignore["AP"] == pytest.approx(1.0) and ignore["AR100"] == pytest.approx(1.0)
    assert separate["AP"] == pytest.approx(0.5, abs=0.01) and separate["AR100"] == 1.0


@pytest.mark.parametrize("fmt", ["kins", "cocoa_cls", "d2sa"])
def test_occlusion_and_modal_prompts_come_from_each_schemas_visible_masks(tmp_path, fmt):
    gt = load_gt(f"{fmt}:{_gt_file(tmp_path, fmt)}")
    objects = [o for objs in OBJECTS.values() for o in objs]
    assert [a["occlusion"] > 0 for a in gt["annotations"]] == [a != v for a, v in objects]
    modal = [p.box for p in gt_prompts(gt, "gt-modal")]
    assert modal == [tuple(float(c) for c in v) for _, v in objects]
    assert [p.box for p in gt_prompts(gt, "gt-amodal")] == [
        tuple(float(c) for c in a) for a, _ in objects]  # fmt: skip
    assert len(gt["images"]) == 3 and gt["visible_masks"]


def test_a_gt_without_visible_masks_is_refused_for_modal_prompts_and_subsets(tmp_path):
    from sameo_core.evaluation.coco_eval import NoVisibleMasksError

    gt_path, res_path = _gt_file(tmp_path, "coco_instances"), _results(tmp_path)
    spec = f"coco_instances:{gt_path}"
    refused = [
        ("the occluded / unoccluded subsets", ["--results", str(res_path)]),
        ("the occluded / unoccluded subsets", ["--results", str(res_path), "--subsets",
                                               "separate"]),
        ("prompting with visible", ["--prompts", "gt-modal", "--baseline", "box-fill",
                                    "--subsets", "none"]),
        ("the visible-mask baseline", ["--prompts", "gt-amodal", "--baseline", "visible",
                                       "--subsets", "none"]),
    ]  # fmt: skip
    for what, args in refused:
        with pytest.raises(NoVisibleMasksError, match=f"^{what}.* needs visible masks"):
            _evaluate_here("--gt", spec, *args)
    with pytest.raises(NoVisibleMasksError, match="the occluded subset needs"):
        from sameo_core.evaluation.coco_eval import gt_subset

        gt_subset(load_gt(spec), "occluded")
    metrics = _evaluate_here("--gt", spec, "--results", str(res_path), "--subsets", "none")
    assert metrics["AP"] == pytest.approx(_pycocotools(gt_path, res_path)["AP"], abs=1e-12)
    assert "occluded" not in metrics
    amodal = _evaluate_here("--gt", spec, "--prompts", "gt-amodal", "--baseline", "box-fill",
                            "--subsets", "none")  # fmt: skip
    assert amodal["num_results"] == 6
    # the command: one line `error: ...`, exit code 2
    done = _evaluate("--gt", spec, "--prompts", "gt-modal", "--baseline", "box-fill")
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "needs visible masks" in last, last


def test_an_amodal_coco_gt_lacking_visible_masks_names_the_way_out(tmp_path):
    path = _gt_file(tmp_path, "coco_instances")
    with pytest.raises(ValueError, match="coco_instances:"):
        load_gt(path)  # a plain path is amodal-COCO, which needs visible_mask


def test_raw_cocoa_kins2020_and_walt_gt_load_through_their_readers(tmp_path):
    demo = REPO / "test" / "data" / "cocoa_demo"
    cocoa = load_gt(f"cocoa:{demo}")
    assert len(cocoa["images"]) == 5 and len(cocoa["annotations"]) == 48
    # raw COCOA's region ids ("id:j") are not integers: numbered from 1, the original kept
    assert [a["id"] for a in cocoa["annotations"]] == list(range(1, 49))
    assert all(":" in a["source_id"] for a in cocoa["annotations"])
    assert all(Path(img["file_name"]).is_absolute() and Path(img["file_name"]).is_file()
               for img in cocoa["images"])  # fmt: skip
    assert sum(a["occlusion"] > 0 for a in cocoa["annotations"]) == 24
    a, v = _rect(2, 2, 20, 20), _rect(2, 2, 20, 10)
    files = {
        "kins2020": {"a_segm": _poly(2, 2, 20, 20), "i_segm": _poly(2, 2, 20, 10)},
        "walt": {"segmentation": [{"full": encode(a), "visible": encode(v)}]},
    }
    for fmt, fields in files.items():
        data = {"images": [{"id": 1, "file_name": "1.png", "height": S, "width": S}],
                "annotations": [{"id": 9, "image_id": 1, "category_id": 0, **fields}]}
        path = tmp_path / f"{fmt}.json"
        path.write_text(json.dumps(data))
        (ann,) = load_gt(f"{fmt}:{path}")["annotations"]
        assert ann["id"] == 9 and ann["category_id"] == 0
        assert ann["occlusion"] == pytest.approx(1 - 8 / 18)  # 18 x 18 amodal, 18 x 8 visible
        assert gt_prompts(load_gt(f"{fmt}:{path}"), "gt-modal")[0].box == (2.0, 2.0, 20.0, 10.0)
