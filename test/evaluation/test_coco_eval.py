"""Class-agnostic evaluation equals pycocotools called directly; subsets and reports."""

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sameo_core.data.rle import encode
from sameo_core.evaluation.coco_eval import evaluate_masks, load_gt, load_results
from sameo_core.evaluation.tables import markdown_table, precision_recall_plot


def _square(x0, y0, x1, y1, h=40, w=40):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def _gt_and_results():
    masks = [_square(2, 2, 20, 20), _square(22, 5, 38, 30), _square(5, 25, 18, 38)]
    visible = [masks[0], _square(22, 5, 38, 18), masks[2]]  # annotation 2 is occluded
    anns = [{"id": i + 1, "image_id": 1 + i // 2, "category_id": 3 + i, "iscrowd": 0,
             "segmentation": encode(m), "visible_mask": encode(v), "area": float(m.sum())}
            for i, (m, v) in enumerate(zip(masks, visible))]
    gt = {"images": [{"id": 1, "height": 40, "width": 40, "file_name": "a.png"},
                     {"id": 2, "height": 40, "width": 40, "file_name": "b.png"}],
          "annotations": anns,
          "categories": [{"id": 3, "name": "a"}, {"id": 4, "name": "b"}, {"id": 5, "name": "c"}]}
    preds = [(1, _square(3, 2, 20, 21), 0.9), (1, _square(22, 5, 38, 20), 0.8),
             (2, _square(5, 25, 18, 38), 0.3), (2, _square(0, 0, 10, 10), 0.95)]
    results = [{"image_id": i, "category_id": 3, "segmentation": encode(m), "score": s}
               for i, m, s in preds]
    return gt, results


def _direct_pycocotools(gt_path, res_path):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.loadRes(str(res_path))
        ev = COCOeval(coco_gt, coco_dt, "segm")
        ev.params.useCats = 0
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_equals_pycocotools_called_directly(tmp_path):
    gt, results = _gt_and_results()
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(results))
    stats = _direct_pycocotools(gt_path, res_path)
    ours = evaluate_masks(load_gt(gt_path), load_results(res_path)).stats
    assert ours == {"AP": stats[0], "AP50": stats[1], "AP75": stats[2], "AR100": stats[8]}
    assert 0 < ours["AP"] < 1


def test_occluded_subset_ignores_other_instances():
    gt, results = _gt_and_results()
    gt = load_gt_dict(gt)
    occluded = evaluate_masks(gt, results, "occluded").stats
    # Only annotation 2 counts (its prediction has IoU 0.6). By score: the false positive on
    # image 2, the hit on annotation 1 (ignored), the hit on annotation 2, the hit on annotation
    # 3 (ignored): precision at full recall is 1/2. Counted as false positives they would give 1/3.
    assert occluded["AP50"] == pytest.approx(0.5)
    assert occluded["AP75"] == 0.0
    unoccluded = evaluate_masks(gt, results, "unoccluded").stats
    assert unoccluded["AR100"] > occluded["AR100"]


def load_gt_dict(gt):
    from sameo_core.evaluation.coco_eval import prepare_gt

    return prepare_gt(gt)


def test_bad_inputs_and_empty_results(tmp_path):
    gt, results = _gt_and_results()
    gt = load_gt_dict(gt)
    with pytest.raises(ValueError, match="not in the GT"):
        evaluate_masks(gt, [dict(results[0], image_id=99)])
    assert evaluate_masks(gt, []).stats["AP"] == 0.0
    (tmp_path / "bad.json").write_text(json.dumps([{"image_id": 1}]))
    with pytest.raises(ValueError, match="lacks"):
        load_results(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError):
        load_gt(tmp_path / "missing.json")


def test_table_and_plot(tmp_path):
    gt, results = _gt_and_results()
    result = evaluate_masks(load_gt_dict(gt), results)
    table = markdown_table({"all": result.stats})
    assert table.splitlines()[0] == "| evaluation | AP | AP50 | AP75 | AR100 |"
    assert f"{100 * result.stats['AP']:.1f}" in table
    precision_recall_plot({"all": result}, tmp_path / "pr.png")
    assert (tmp_path / "pr.png").read_bytes()[:4] == b"\x89PNG"
