"""The main job over ROS 2: synthetic camera + detector -> sameo_node -> overlays, latency, fps.

  python -m sameo_ros.harness.node_demo --checkpoint checkpoints/demo/sameo_shapes_demo.pt \
      --out out/demo

Needs the colcon workspace (`make ros`); `make demo` runs exactly this. Each frame is a cluttered
640x480 procedural scene (6-8 objects, most of them 30-70 % hidden by others,
`synthetic_frames.cluttered_frame`); its detections box the visible parts only. The node's debug
overlays show what it gives a grasp planner: the visible part of each object (solid), the part
hidden behind other objects (hatched), who hides whom (arrows, and the layer rN in the label).
It scores what came back against the scenes' truth (the occlusion order on the overlapping
pairs, the visible and amodal masks' IoU) and writes out/demo/overlay_NNN.png, figures.json and
contact_sheet.png: every frame with its figures on one image. The stills are independent scenes,
so the node serves them with `tracking` off; then tracking_demo switches it on and streams a
video in which an object passes fully behind another and keeps its track id and its amodal mask
while hidden (tracking_NNN.png, tracking_sheet.png, "tracking" in figures.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from sameo_core.geometry import RoiMask
from sameo_core.tools import cli
from sameo_core.visualize import LEGEND, contact_sheet
from sameo_ros.conversions import image_to_rgb, mono8_to_mask

from .node_session import node_and_client, stream
from .synthetic_frames import cluttered_frame
from .tracking_demo import run_tracking_demo
from .tracking_demo import summary as tracking_summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="SAMEO checkpoint (the demo model)")
    p.add_argument(
        "--variant", default="", help="random-weight model size instead (no checkpoint)"
    )
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--frames", type=int, default=8, help=f"1..{MAX_FRAMES}")
    p.add_argument("--seed", type=int, default=1000, help="scene k uses seed SEED + k")
    p.add_argument("--device", default="cpu")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one frame")
    return p.parse_args(argv)


MAX_FRAMES = 64  # each one is kept in memory (640x480 RGB, masks) for the contact sheet


def _node_parameters(args: argparse.Namespace) -> dict[str, object]:
    if not 1 <= args.frames <= MAX_FRAMES:
        raise ValueError(f"--frames must be in 1..{MAX_FRAMES}, got {args.frames}")
    if args.checkpoint is None and not args.variant:
        raise ValueError("give --checkpoint (the demo model) or --variant")
    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise ValueError(
            f"checkpoint {args.checkpoint} not found (train it, or set "
            "DEMO_CHECKPOINT=... for make demo)"
        )
    # independent stills: no tracks across them (tracking_demo switches tracking on)
    parameters: dict[str, object] = {"device": args.device, "debug_image": True,
                                     "tracking": False}  # fmt: skip
    if args.checkpoint is not None:
        parameters["checkpoint"] = str(args.checkpoint.resolve())
    if args.variant:
        parameters["variant"] = args.variant
    return parameters


def _write_overlays(client, out: Path) -> list[np.ndarray]:
    """The debug images by stamp, written as overlay_NNN.png; returns them (RGB)."""
    images = []
    for k, stamp in enumerate(sorted(client.received.debug)):
        rgb = image_to_rgb(client.received.debug[stamp])
        cv2.imwrite(str(out / f"overlay_{k:03d}.png"), np.ascontiguousarray(rgb[:, :, ::-1]))
        images.append(rgb)
    return images


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def score_answers(client, frames: list, first_stamp: int = 10**9) -> dict:
    """Occlusion order right on the true overlapping pairs, and the mean IoU of the visible
    masks with the true ones (and of the amodal masks on objects hidden by 10 % or more), over
    the answered frames (stamps as `node_session.stream`); `per_frame` holds each frame's."""
    right = pairs = 0
    ious, amodal_ious, per_frame = [], [], []
    for k, frame in enumerate(frames):
        entry = client.received.masks.get(first_stamp + k * 10**8)
        if entry is None:
            per_frame.append(None)
            continue
        height, width = frame.rgb.shape[:2]
        by_id = {m.id: m for m in entry[0].masks}
        frame_right = frame_pairs = 0
        frame_ious = []
        for det_id, truth, visible, amodal in zip(frame.ids, frame.occluded_by, frame.visible,
                                                  frame.amodal):  # fmt: skip
            m = by_id.get(det_id)
            if m is None:
                continue
            frame_pairs += len(truth)
            frame_right += len(set(truth) & set(m.occluded_by))
            mask = mono8_to_mask(m.visible_mask)
            predicted = RoiMask(mask, (m.visible_x_offset, m.visible_y_offset)).paste(height,
                                                                                       width)
            frame_ious.append(_iou(predicted, visible))
            if (amodal & ~visible).sum() >= 0.1 * amodal.sum():
                whole = RoiMask(mono8_to_mask(m.mask), (m.x_offset, m.y_offset))
                amodal_ious.append(_iou(whole.paste(height, width), amodal))
        right, pairs = right + frame_right, pairs + frame_pairs
        ious += frame_ious
        per_frame.append({"order_right": frame_right, "order_pairs": frame_pairs,
                          "visible_miou": float(np.mean(frame_ious)) if frame_ious
                          else float("nan")})  # fmt: skip
    return {"order_pairs": pairs, "order_right": right,
            "visible_miou": float(np.mean(ious)) if ious else float("nan"),
            "amodal_miou_occluded": float(np.mean(amodal_ious)) if amodal_ious
            else float("nan"), "per_frame": per_frame}  # fmt: skip


def sheet_text(figures: dict, model: str) -> list[str]:
    """The header lines of the contact sheet: what ran, the figures, the legend."""
    return [
        f"sameo_node over ROS 2, {model}: {figures['frames']} cluttered 640x480 frames, "
        "boxes of the visible parts as detections",
        f"occlusion order right on {figures['order_right']} of {figures['order_pairs']} "
        f"overlapping pairs; visible masks mean IoU {figures['visible_miou']:.2f}; amodal masks "
        f"of hidden objects mean IoU {figures['amodal_miou_occluded']:.2f}",
        f"latency p50 {figures['latency_ms_p50']:.0f} ms, p99 {figures['latency_ms_p99']:.0f} "
        f"ms, {figures['fps_one_in_flight']:.2f} fps (one frame in flight), model p50 "
        f"{figures['model_ms_p50']:.0f} ms, {figures['lost']} frames lost",
        LEGEND,
    ]


def _caption(k: int, frame_figures: dict | None) -> str:
    if frame_figures is None:
        return f"frame {k}: no answer"
    return (f"frame {k}: order {frame_figures['order_right']}/{frame_figures['order_pairs']} "
            f"pairs, visible mIoU {frame_figures['visible_miou']:.2f}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    parameters = _node_parameters(args)
    args.out.mkdir(parents=True, exist_ok=True)
    frames = [cluttered_frame(seed=args.seed + k) for k in range(args.frames)]
    with node_and_client(parameters, log_dir=args.out, debug_image=True) as client:
        report = stream({"sameo": client}, frames, args.timeout)["sameo"]
        client.wait_masks(-1, 2.0)  # the last debug image
        overlays = _write_overlays(client, args.out)
        scores = score_answers(client, frames)
        tracking = run_tracking_demo(client, "/sameo/sameo", args.out, args.timeout)
    if not report.timings:
        raise RuntimeError(f"no frame was answered; see {args.out / 'sameo_node_sameo.log'}")
    figures = {**report.figures(), **scores, "tracking": tracking}
    (args.out / "figures.json").write_text(json.dumps(figures, indent=2))
    model = args.checkpoint.name if args.checkpoint is not None else f"{args.variant} (random)"
    answered = [k for k, f in enumerate(scores["per_frame"]) if f is not None]
    if len(overlays) == len(answered):
        sheet = contact_sheet(overlays, [_caption(k, scores["per_frame"][k]) for k in answered],
                              sheet_text(figures, model))  # fmt: skip
        cv2.imwrite(str(args.out / "contact_sheet.png"), np.ascontiguousarray(sheet[:, :, ::-1]))
    print(f"{len(overlays)} overlays and contact_sheet.png in {args.out}/")
    print(
        f"latency p50 {figures['latency_ms_p50']:.0f} ms, p99 {figures['latency_ms_p99']:.0f} ms, "
        f"{figures['fps_one_in_flight']:.2f} fps (one frame in flight), model p50 "
        f"{figures['model_ms_p50']:.0f} ms, {report.lost} frames lost"
    )
    print(
        f"occlusion order right on {scores['order_right']} of {scores['order_pairs']} "
        f"overlapping pairs; visible masks mean IoU {scores['visible_miou']:.2f}; amodal masks "
        f"of hidden objects mean IoU {scores['amodal_miou_occluded']:.2f}"
    )
    print(f"tracking (tracking_sheet.png): {tracking_summary(tracking)}")


if __name__ == "__main__":
    cli.run(main)
