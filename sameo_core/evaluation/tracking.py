"""Tracking evaluation on videos with amodal ground truth (README, "Object permanence
(tracking)"): the tracker next to two baselines, on amodal masks.

`run_video` plays one video: per frame the simulated detector's modal boxes go to SAMEO (or,
with `predictor=None`, the ground-truth masks of the detected objects stand in for SAMEO's: the
tracker's own errors apart from the model's), the frame's occlusion order is computed, and the
tracker (`sameo_core.tracking`) and the baselines (`tracking_baselines.py`) all get the same
masks. `mask_noise=k` perturbs those ground-truth masks as the occlusion evaluation's noise
curve does (`perturb_mask`: dilated or eroded by k px, shifted by up to k px), the amodal and
the visible mask independently, visible := perturbed visible ∩ perturbed amodal as the
predictor's visible mask is modal ∩ amodal — the tracker on masks as wrong as the model's,
without the model's systematic errors. Each detected mask's IoU with the ground truth of the
object the detector saw is kept (`mask_quality`). `score_method` scores the outputs:

- **HOTA, IDF1, ID switches** (and MOTA, DetA, AssA) with TrackEval's metric classes, on
  amodal masks: similarity = IoU of the amodal masks inside the image; every ground-truth
  object whose amodal mask reaches into a frame counts, fully hidden ones included (as
  TAO-Amodal scores fully occluded objects). TrackEval's thresholds: 0.5 for IDF1 and CLEAR,
  HOTA averaged over 0.05 … 0.95.
- **Permanence**, from a per-frame matching of ground truth to outputs (optimal assignment on
  amodal-mask IoU ≥ 0.5). A *hidden spell* is a maximal run of frames in which an object is
  fully hidden, after at least one frame in which it was matched (an object never seen cannot
  be carried); its *id* is the output id matched to the object in its last matched frame
  before the spell.
  - hidden recall: share of the spells' frames in which the object is matched to its id;
  - amodal mIoU while hidden: mean over the spells' frames of the IoU of the output with its id
    (0 when that id is not reported), over all objects and over static ones;
  - same id on re-appearance: share of full-occlusion events (spells after which the object
    is in the frame again) whose first matched frame within `reappear_window_s` after the spell
    is matched to its id, overall for spells up to 3 s and per duration bin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from sameo_core.data.images import read_image_rgb
from sameo_core.data.shapes import CATEGORIES
from sameo_core.data.simulated_detector import DetectorConfig, SimulatedDetector
from sameo_core.data.video_dataset import VideoRecord
from sameo_core.geometry import RoiMask
from sameo_core.inference import AmodalPredictor
from sameo_core.inference.occlusion_order import occlusion_order
from sameo_core.inference.predictor import InstancePrediction, pair_evidence
from sameo_core.tracking import AmodalTracker, DetectionInfo, TrackerConfig, TrackState
from sameo_core.tracking.association import box_overlaps

from .occlusion import perturb_mask
from .tracking_baselines import FrameByFrame, IouTracker

METHODS = ("tracker", "frame_by_frame", "iou_tracker")
MATCH_IOU = 0.5
DURATION_BINS = (0.5, 1.0, 2.0, 3.0)  # upper edges (s) of the re-appearance bins; then > 3 s
CLASS_NAMES = {int(c["id"]): str(c["name"]) for c in CATEGORIES}


@dataclass(frozen=True)
class FrameOutput:
    """What one method reported in one frame: ids, amodal masks and (tracker only) states."""

    ids: list[int]
    amodal: list[RoiMask]
    states: list[int] = field(default_factory=list)


@dataclass
class VideoRun:
    video: VideoRecord
    outputs: dict[str, list[FrameOutput]]
    tracker_s: list[float] = field(default_factory=list)
    model_s: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # per detected mask: (amodal IoU, visible IoU, GT object occluded) against the object the
    # detector saw (`mask_quality`)
    mask_iou: list[tuple[float, float, bool]] = field(default_factory=list)


def _full(mask: RoiMask | np.ndarray, height: int, width: int) -> np.ndarray:
    return mask.paste(height, width) if isinstance(mask, RoiMask) else mask


def gt_predictions(boxes: np.ndarray, scores: Sequence[float], objects: Sequence[Any],
                   height: int, width: int, noise: int = 0,
                   rng: np.random.Generator | None = None) -> list[InstancePrediction]:
    """The ground-truth masks of the objects whose visible boxes best match `boxes` (box IoU ≥
    0.5), as a perfect SAMEO would give them; boxes without such an object get no mask.
    `noise` k > 0: each amodal and visible mask perturbed independently by `perturb_mask(.., k,
    rng)`, visible := perturbed visible ∩ perturbed amodal; a box whose amodal mask is eroded
    away gets no mask."""
    if noise and rng is None:
        raise ValueError("mask noise needs a random generator")
    if len(boxes) == 0 or not objects:
        return []
    visible = [o.visible_mask for o in objects]
    vboxes = np.stack([RoiMask.from_full(v).box() for v in visible])
    _, iou = box_overlaps(np.asarray(boxes, np.float64), vboxes)
    out = []
    for k in range(len(boxes)):
        j = int(iou[k].argmax())
        if iou[k, j] < 0.5 or not visible[j].any():
            continue
        amodal_full, visible_full = objects[j].amodal_mask.astype(bool), visible[j]
        if noise:
            amodal_full = perturb_mask(amodal_full, noise, rng)
            visible_full = perturb_mask(visible_full, noise, rng) & amodal_full
            if not amodal_full.any():
                continue
        amodal = RoiMask.from_full(amodal_full)
        seen = RoiMask.from_full(visible_full)
        out.append(InstancePrediction(
            index=k, amodal=amodal, iou=1.0, score=float(scores[k]),
            prompt_box=np.asarray(boxes[k], np.float32), box=amodal.box().astype(np.float32),
            visible=seen, hidden=amodal.subtract(seen), visible_iou=1.0,
            visible_fraction=seen.area / amodal.area,
        ))
    return out


def run_video(
    video: VideoRecord, predictor: AmodalPredictor | None,
    detector_config: DetectorConfig | None = None, tracker_config: TrackerConfig | None = None,
    seed: int = 0, image_reader: Callable[[Any], np.ndarray] = read_image_rgb,
    tracker: AmodalTracker | None = None, mask_noise: int = 0,
) -> VideoRun:
    """Play one video through the detector, SAMEO (or GT masks) and every method. `tracker`:
    the tracker to run (default: a new `AmodalTracker(tracker_config)`; tracking_benchmark
    passes one that runs another checkout's tracker beside ours). `mask_noise` k (GT masks
    only): perturb them (module docstring), drawn from a generator seeded by (seed, k)."""
    if mask_noise < 0:
        raise ValueError(f"mask noise must be >= 0 px, got {mask_noise}")
    if mask_noise and predictor is not None:
        raise ValueError("mask noise perturbs ground-truth masks: run it without a predictor")
    noise_rng = np.random.default_rng([seed, mask_noise])
    detector = SimulatedDetector(detector_config, seed=seed)
    tracker = AmodalTracker(tracker_config) if tracker is None else tracker
    frame_by_frame, iou_tracker = FrameByFrame(), IouTracker(MATCH_IOU)
    run = VideoRun(video, {m: [] for m in METHODS})
    height, width = video.height, video.width
    for frame in video.frames:
        objects = list(frame.objects)
        detections = detector.detect(
            [(o.track_id, o.category_id, o.amodal_mask, o.visible_mask) for o in objects],
            CLASS_NAMES)
        boxes = np.array([d.box for d in detections], np.float64).reshape(-1, 4)
        scores = [d.score for d in detections]
        if predictor is None:
            masks = gt_predictions(boxes, scores, objects, height, width, mask_noise, noise_rng)

            def reprompt(prompts: np.ndarray, objects=objects) -> list[InstancePrediction]:
                return gt_predictions(prompts, [1.0] * len(prompts),
                                      [o for o in objects if not o.fully_hidden], height, width,
                                      mask_noise, noise_rng)
            run.model_s.append(0.0)
        else:
            encoder_s = predictor.set_image(image_reader(frame.image_path))
            prediction = predictor.predict(boxes, np.asarray(scores)) if len(boxes) else None
            masks = prediction.masks if prediction else []
            run.model_s.append(encoder_s + (prediction.decoder_s if prediction else 0.0))

            def reprompt(prompts: np.ndarray) -> list[InstancePrediction]:
                return predictor.predict(prompts).masks
        run.mask_iou.extend(_mask_ious(masks, detections, objects, height, width))
        infos = [DetectionInfo(d.detection_id, d.class_id, d.score) for d in detections]
        order = None
        if masks and all(m.visible is not None for m in masks):
            # as the node orders them: with a network's order head, its pair scores count
            order = occlusion_order([m.amodal for m in masks], [m.visible for m in masks],
                                    learned_evidence=pair_evidence(masks))
        result = tracker.update(frame.timestamp, masks, order, infos, (height, width), reprompt)
        run.tracker_s.append(result.tracker_s)
        run.warnings.extend(result.warnings)
        run.outputs["tracker"].append(FrameOutput(
            [t.track_id for t in result.tracks], [t.amodal for t in result.tracks],
            [int(t.state) for t in result.tracks]))
        ids = frame_by_frame.update([infos[m.index].detection_id for m in masks])
        run.outputs["frame_by_frame"].append(FrameOutput(ids, [m.amodal for m in masks]))
        ids = iou_tracker.update([m.amodal for m in masks])
        run.outputs["iou_tracker"].append(FrameOutput(ids, [m.amodal for m in masks]))
    return run


def _mask_ious(masks: Sequence[InstancePrediction], detections: Sequence[Any],
               objects: Sequence[Any], height: int, width: int
               ) -> list[tuple[float, float, bool]]:
    """(amodal IoU, visible IoU, occluded) of each detected mask with the ground truth of the
    object its box came from (inside the image)."""
    by_track = {o.track_id: o for o in objects}
    out = []
    for m in masks:
        gt = by_track[detections[m.index].gt_track_id]
        amodal, visible = gt.amodal_mask.astype(bool), gt.visible_mask.astype(bool)
        seen = m.visible if m.visible is not None else RoiMask.empty()
        ious = _iou_matrix([amodal, visible], [_full(m.amodal, height, width),
                                               _full(seen, height, width)])
        out.append((float(ious[0, 0]), float(ious[1, 1]),
                    bool(np.count_nonzero(visible) < np.count_nonzero(amodal))))
    return out


def mask_quality(runs: Iterable[VideoRun]) -> dict[str, Any]:
    """Mean IoU of the detected masks with their objects' ground truth: amodal over all masks
    and over occluded objects (visible part smaller than the amodal one), visible over occluded
    objects (as the occlusion evaluation reports them)."""
    ious = [t for run in runs for t in run.mask_iou]
    occluded = [t for t in ious if t[2]]

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None
    return {"masks": len(ious), "occluded": len(occluded),
            "amodal_mIoU": mean([t[0] for t in ious]),
            "amodal_mIoU_occluded": mean([t[0] for t in occluded]),
            "visible_mIoU_occluded": mean([t[1] for t in occluded])}


def _iou_matrix(gt: list[np.ndarray], out: list[np.ndarray]) -> np.ndarray:
    if not gt or not out:
        return np.zeros((len(gt), len(out)))
    g = np.stack(gt).reshape(len(gt), -1).astype(np.float32)
    p = np.stack(out).reshape(len(out), -1).astype(np.float32)
    inter = g @ p.T
    union = g.sum(1)[:, None] + p.sum(1)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0).astype(np.float64)


@dataclass
class _Timeline:
    """One GT object of one video: per frame index, (matched id or None, IoU per output id,
    fully hidden)."""

    static: bool
    frames: dict[int, tuple[int | None, dict[int, float], bool]] = field(default_factory=dict)


def _trackeval_data(gt_ids: list[list[int]], out_ids: list[list[int]],
                    sims: list[np.ndarray]) -> dict[str, Any]:
    gt_map = {g: k for k, g in enumerate(sorted({g for f in gt_ids for g in f}))}
    out_map = {o: k for k, o in enumerate(sorted({o for f in out_ids for o in f}))}
    return {
        "num_timesteps": len(gt_ids), "num_gt_ids": len(gt_map),
        "num_tracker_ids": len(out_map),
        "num_gt_dets": sum(len(f) for f in gt_ids),
        "num_tracker_dets": sum(len(f) for f in out_ids),
        "gt_ids": [np.array([gt_map[g] for g in f], int) for f in gt_ids],
        "tracker_ids": [np.array([out_map[o] for o in f], int) for f in out_ids],
        "similarity_scores": sims,
    }


def score_method(runs: Iterable[VideoRun], method: str,
                 reappear_window_s: float = 1.0) -> dict[str, Any]:
    """HOTA / IDF1 / ID switches and the permanence figures of one method (module docstring)."""
    try:  # only the evaluation needs TrackEval
        import trackeval.metrics as te
    except ImportError as exc:
        raise ImportError(
            "tracking evaluation needs TrackEval: pip install \".[eval]\" && "
            "pip install --no-deps trackeval==1.3.0 (README, Object permanence)") from exc

    metrics = (te.HOTA(), te.Identity({"THRESHOLD": MATCH_IOU, "PRINT_CONFIG": False}),
               te.CLEAR({"THRESHOLD": MATCH_IOU, "PRINT_CONFIG": False}))
    per_video: dict[str, list[dict[str, Any]]] = {m.get_name(): [] for m in metrics}
    spell_frames = spell_hits = 0
    hidden_iou: list[float] = []
    static_iou: list[float] = []
    events: list[tuple[float, bool]] = []
    details: list[dict[str, Any]] = []
    for run in runs:
        video, frames = run.video, run.outputs[method]
        h, w = video.height, video.width
        gt_ids, out_ids, sims = [], [], []
        timelines: dict[int, _Timeline] = {}
        for frame, output in zip(video.frames, frames):
            gt_masks = [o.amodal_mask for o in frame.objects]
            out_masks = [_full(m, h, w) for m in output.amodal]
            iou = _iou_matrix(gt_masks, out_masks)
            gt_ids.append([o.track_id for o in frame.objects])
            out_ids.append(list(output.ids))
            sims.append(iou)
            matched: dict[int, int] = {}
            if iou.size:
                for r, c in zip(*linear_sum_assignment(iou, maximize=True)):
                    if iou[r, c] >= MATCH_IOU:
                        matched[r] = output.ids[c]
            for r, o in enumerate(frame.objects):
                line = timelines.setdefault(
                    o.track_id, _Timeline(video.tracks[o.track_id].motion == "static"))
                by_id = {output.ids[c]: float(iou[r, c]) for c in range(len(output.ids))}
                line.frames[frame.frame_index] = (matched.get(r), by_id, o.fully_hidden)
        data = _trackeval_data(gt_ids, out_ids, sims)
        for metric in metrics:
            per_video[metric.get_name()].append(metric.eval_sequence(data))
        for track_id, line in timelines.items():
            for spell_ids, hidden_id, after in _spells(line, len(video.frames),
                                                       round(reappear_window_s * video.fps)):
                for f in spell_ids:
                    _, by_id, _ = line.frames[f]
                    hit = line.frames[f][0] == hidden_id
                    spell_frames += 1
                    spell_hits += hit
                    value = by_id.get(hidden_id, 0.0)
                    hidden_iou.append(value)
                    if line.static:
                        static_iou.append(value)
                if after is not None:
                    events.append((len(spell_ids) / video.fps, after == hidden_id))
                    last = line.frames[spell_ids[-1]]
                    back = line.frames[spell_ids[-1] + 1][1]  # IoU per output id, frame after
                    details.append({
                        "video_id": video.video_id, "track_id": track_id,
                        "first_hidden_frame": spell_ids[0], "hidden_frames": len(spell_ids),
                        "static": line.static,
                        "outcome": ("same_id" if after == hidden_id else
                                    "unmatched" if after is False else "other_id"),
                        "carried_to_end": last[0] == hidden_id,
                        "iou_own_id_last_hidden": last[1].get(hidden_id),
                        "iou_own_id_after": back.get(hidden_id),
                        "iou_best_after": max(back.values(), default=0.0)})
    combined = {name: _combine(metric, per_video[name])
                for name, metric in zip(per_video, metrics)}  # fmt: skip
    hota, identity, clear = (combined[m.get_name()] for m in metrics)
    up_to_3 = [ok for seconds, ok in events if seconds <= 3.0 + 1e-9]
    bins = {}
    lower = 0.0
    for upper in (*DURATION_BINS, math.inf):
        chosen = [ok for seconds, ok in events if lower < seconds <= upper]
        label = f"{lower:g}-{upper:g} s" if math.isfinite(upper) else f">{lower:g} s"
        bins[label] = {"events": len(chosen),
                       "same_id": (sum(chosen) / len(chosen)) if chosen else None}
        lower = upper
    return {
        "HOTA": float(np.mean(hota["HOTA"])), "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])), "IDF1": float(identity["IDF1"]),
        "IDSW": int(clear["IDSW"]), "MOTA": float(clear["MOTA"]),
        "hidden_frames": spell_frames,
        "hidden_recall": spell_hits / spell_frames if spell_frames else None,
        "hidden_miou": float(np.mean(hidden_iou)) if hidden_iou else None,
        "hidden_miou_static": float(np.mean(static_iou)) if static_iou else None,
        "hidden_frames_static": len(static_iou),
        "reappear_events": len(up_to_3),
        "reappear_same_id": (sum(up_to_3) / len(up_to_3)) if up_to_3 else None,
        "reappear_by_duration": bins,
        # every full-occlusion event: outcome "same_id", "other_id" (matched to another id) or
        # "unmatched" (no output at IoU >= 0.5 in the window); carried_to_end: its id matched
        # in the spell's last frame; IoU with the GT of the output with its id in the spell's
        # last frame and in the first frame after it (None: not reported), and of the best
        # output in the first frame after it
        "reappear_detail": details,
    }


def _combine(metric: Any, results: list[dict[str, Any]]) -> dict[str, Any]:
    return metric.combine_sequences({str(k): r for k, r in enumerate(results)})


def _spells(line: _Timeline, num_frames: int, window: int
            ) -> list[tuple[list[int], int | None, int | None | bool]]:
    """Hidden spells of one object: (frames, id before, id on re-appearance) — the last is
    None when the object does not come back into the frame after the spell, else the id of its
    first matched frame within `window` frames (False when none is matched)."""
    spells = []
    last_id: int | None = None
    f = 0
    while f < num_frames:
        entry = line.frames.get(f)
        if entry is None:
            f += 1
            continue
        matched, _, hidden = entry
        if not hidden:
            if matched is not None:
                last_id = matched
            f += 1
            continue
        start = f
        while f < num_frames and f in line.frames and line.frames[f][2]:
            f += 1
        frames = list(range(start, f))
        if last_id is None:
            continue
        after: int | None | bool = None
        if f < num_frames and f in line.frames:
            after = False
            for g in range(f, min(f + window, num_frames)):
                if g in line.frames and line.frames[g][0] is not None:
                    after = line.frames[g][0]
                    break
        spells.append((frames, last_id, after))
    return spells


def states_share(runs: Iterable[VideoRun]) -> dict[str, int]:
    """How many tracker outputs were in each state."""
    counts = {s.name: 0 for s in TrackState}
    for run in runs:
        for output in run.outputs["tracker"]:
            for s in output.states:
                counts[TrackState(s).name] += 1
    return counts


def markdown(summary: dict[str, Any]) -> str:
    """The summary as markdown tables (methods side by side)."""
    methods = [m for m in METHODS if m in summary["methods"]]
    rows = [("HOTA", "HOTA", "{:.3f}"), ("IDF1", "IDF1", "{:.3f}"), ("ID switches", "IDSW", "{}"),
            ("MOTA", "MOTA", "{:.3f}"), ("hidden recall", "hidden_recall", "{:.1%}"),
            ("amodal mIoU while hidden", "hidden_miou", "{:.3f}"),
            ("amodal mIoU while hidden, static objects", "hidden_miou_static", "{:.3f}"),
            ("same id on re-appearance (≤ 3 s)", "reappear_same_id", "{:.1%}")]
    lines = ["| figure | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for label, key, fmt in rows:
        cells = []
        for m in methods:
            value = summary["methods"][m][key]
            cells.append("n/a" if value is None else fmt.format(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    tracker = summary["methods"].get("tracker")
    if tracker:
        lines += ["", "| hidden spell | events | same id (tracker) |", "|---|---|---|"]
        for label, b in tracker["reappear_by_duration"].items():
            share = "n/a" if b["same_id"] is None else f"{b['same_id']:.1%}"
            lines.append(f"| {label} | {b['events']} | {share} |")
    return "\n".join(lines)


def reappear_breakdown(detail: Sequence[dict[str, Any]], videos: Sequence[VideoRecord]
                       ) -> dict[str, Any]:
    """Where re-appearance fails: the full-occlusion events up to 3 s (`score_method`'s
    `reappear_detail`) grouped by what the ground truth shows in the first frame after the
    spell — static or moving object, touching the image border, smaller or larger half by
    amodal area (split at the events' median) — and by the spell's length, each group's events
    and same-id share; and the failed events by cause: the track's id was lost while the object
    was hidden (not matched in the spell's last frame: not reported there, or reported with a
    mask of IoU < 0.5 — carried off or misshapen), or it was carried to the end but in the first
    frame after the spell it was not reported, or reported with a mask of IoU < 0.5."""
    frames = {(v.video_id, f.frame_index): f for v in videos for f in v.frames}
    fps = {v.video_id: v.fps for v in videos}
    rows = []
    for e in detail:
        if e["hidden_frames"] / fps[e["video_id"]] > 3.0 + 1e-9:
            continue
        frame = frames[(e["video_id"], e["first_hidden_frame"] + e["hidden_frames"])]
        gt = next(o for o in frame.objects if o.track_id == e["track_id"])
        amodal = gt.amodal_mask.astype(bool)
        area = int(np.count_nonzero(amodal))
        border = bool(amodal[0].any() or amodal[-1].any() or amodal[:, 0].any()
                      or amodal[:, -1].any())  # fmt: skip
        rows.append((e, area, border, e["hidden_frames"] / fps[e["video_id"]]))
    if not rows:
        return {"events": 0, "groups": {}, "failed": {}}
    median = float(np.median([r[1] for r in rows]))
    groups = {
        "all": [True] * len(rows),
        "static": [r[0]["static"] for r in rows], "moving": [not r[0]["static"] for r in rows],
        "touching the border": [r[2] for r in rows],
        "inside the image": [not r[2] for r in rows],
        f"smaller half (< {median:.0f} px)": [r[1] < median for r in rows],
        f"larger half (≥ {median:.0f} px)": [r[1] >= median for r in rows],
        "hidden ≤ 1 s": [r[3] <= 1.0 for r in rows], "hidden > 1 s": [r[3] > 1.0 for r in rows],
    }
    ok = [r[0]["outcome"] == "same_id" for r in rows]
    out_groups = {}
    for name, member in groups.items():
        chosen = [k for k, m in zip(ok, member) if m]
        out_groups[name] = {"events": len(chosen), "failed": len(chosen) - sum(chosen),
                            "same_id": sum(chosen) / len(chosen) if chosen else None}
    failed = [r[0] for r, good in zip(rows, ok) if not good]
    lost = [e for e in failed if not e["carried_to_end"]]
    causes = {
        "lost while hidden: not reported": sum(
            e.get("iou_own_id_last_hidden") is None for e in lost),
        "lost while hidden: reported with IoU < 0.5": sum(
            e.get("iou_own_id_last_hidden") is not None for e in lost),
        "carried, not reported on return": sum(
            e["carried_to_end"] and e["iou_own_id_after"] is None for e in failed),
        "carried, reported with IoU < 0.5 on return": sum(
            e["carried_to_end"] and e["iou_own_id_after"] is not None
            and e["iou_own_id_after"] < MATCH_IOU for e in failed),
        "carried, IoU ≥ 0.5 on return, another id matched": sum(
            e["carried_to_end"] and e["iou_own_id_after"] is not None
            and e["iou_own_id_after"] >= MATCH_IOU for e in failed),
    }
    return {"events": len(rows), "median_area_px": median, "groups": out_groups,
            "failed": causes}


def breakdown_markdown(breakdown: dict[str, Any]) -> str:
    """`reappear_breakdown` as two small tables."""
    lines = ["| re-appearance events (≤ 3 s) | events | failed | same id |", "|---|---|---|---|"]
    for name, g in breakdown["groups"].items():
        share = "n/a" if g["same_id"] is None else f"{g['same_id']:.1%}"
        lines.append(f"| {name} | {g['events']} | {g['failed']} | {share} |")
    lines += ["", "| failed events by cause | events |", "|---|---|"]
    lines += [f"| {cause} | {n} |" for cause, n in breakdown["failed"].items()]
    return "\n".join(lines)


def noise_table(rows: Sequence[dict[str, Any]]) -> str:
    """The mask-noise curve as markdown: per row (`label`, `masks` = `mask_quality`, `tracker` =
    `score_method`) the masks' mIoU next to the tracker's figures."""
    lines = ["| masks | amodal mIoU | amodal mIoU, occluded | visible mIoU, occluded | IDF1 "
             "| ID switches | hidden recall | static hidden mIoU | same id on re-appearance |",
             "|---" * 9 + "|"]

    def cell(value: Any, fmt: str) -> str:
        return "n/a" if value is None else fmt.format(value)
    for row in rows:
        m, t = row["masks"], row["tracker"]
        cells = [row["label"], cell(m["amodal_mIoU"], "{:.3f}"),
                 cell(m["amodal_mIoU_occluded"], "{:.3f}"),
                 cell(m["visible_mIoU_occluded"], "{:.3f}"), cell(t["IDF1"], "{:.3f}"),
                 cell(t["IDSW"], "{}"), cell(t["hidden_recall"], "{:.1%}"),
                 cell(t["hidden_miou_static"], "{:.3f}"), cell(t["reappear_same_id"], "{:.1%}")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["FrameOutput", "METHODS", "VideoRun", "breakdown_markdown", "gt_predictions",
           "markdown", "mask_quality", "noise_table", "reappear_breakdown", "run_video",
           "score_method", "states_share"]
