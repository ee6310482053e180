"""The main job over ROS 2: synthetic camera + detector -> sameo_node -> overlays, latency, fps.

  python -m sameo_ros.harness.node_demo --checkpoint checkpoints/demo/sameo_shapes_demo.pt \
      --out out/demo

Needs the colcon workspace (`make ros`); `make demo` runs exactly this. Each frame is a
procedural scene whose objects occlude each other; its detections box the visible parts only, and
the overlays show how far the amodal masks reach behind the occluders (hatched) and the rank.
It also scores what came back against the scenes' truth: the occlusion order on the overlapping
pairs, and the visible masks' IoU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from sameo_core.geometry import RoiMask
from sameo_core.tools import cli
from sameo_ros.conversions import image_to_rgb, mono8_to_mask

from .node_session import node_and_client, stream
from .synthetic_frames import scene_frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="SAMEO checkpoint (the demo model)")
    p.add_argument(
        "--variant", default="", help="random-weight model size instead (no checkpoint)"
    )
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=256, help="scene side in pixels")
    p.add_argument("--device", default="cpu")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one frame")
    return p.parse_args(argv)


def _node_parameters(args: argparse.Namespace) -> dict[str, object]:
    if args.checkpoint is None and not args.variant:
        raise ValueError("give --checkpoint (the demo model) or --variant")
    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise ValueError(
            f"checkpoint {args.checkpoint} not found (train it, or set "
            "DEMO_CHECKPOINT=... for make demo)"
        )
    parameters: dict[str, object] = {"device": args.device, "debug_image": True}
    if args.checkpoint is not None:
        parameters["checkpoint"] = str(args.checkpoint.resolve())
    if args.variant:
        parameters["variant"] = args.variant
    return parameters


def _write_overlays(client, out: Path) -> int:
    for k, stamp in enumerate(sorted(client.received.debug)):
        rgb = image_to_rgb(client.received.debug[stamp])
        cv2.imwrite(str(out / f"overlay_{k:03d}.png"), np.ascontiguousarray(rgb[:, :, ::-1]))
    return len(client.received.debug)


def score_answers(client, frames: list, first_stamp: int = 10**9) -> dict[str, float]:
    """Occlusion order right on the true overlapping pairs, and the mean IoU of the visible
    masks with the true ones, over the answered frames (stamps as `node_session.stream`)."""
    right = pairs = 0
    ious = []
    for k, frame in enumerate(frames):
        entry = client.received.masks.get(first_stamp + k * 10**8)
        if entry is None:
            continue
        height, width = frame.rgb.shape[:2]
        by_id = {m.id: m for m in entry[0].masks}
        for det_id, truth, visible in zip(frame.ids, frame.occluded_by, frame.visible):
            m = by_id.get(det_id)
            if m is None:
                continue
            pairs += len(truth)
            right += len(set(truth) & set(m.occluded_by))
            mask = mono8_to_mask(m.visible_mask)
            predicted = RoiMask(mask, (m.visible_x_offset, m.visible_y_offset)).paste(height,
                                                                                       width)
            ious.append((predicted & visible).sum() / max((predicted | visible).sum(), 1))
    return {"order_pairs": pairs, "order_right": right,
            "visible_miou": float(np.mean(ious)) if ious else float("nan")}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    frames = [scene_frame(seed=1000 + k, size=args.size) for k in range(args.frames)]
    with node_and_client(_node_parameters(args), log_dir=args.out, debug_image=True) as client:
        report = stream({"sameo": client}, frames, args.timeout)["sameo"]
        client.wait_masks(-1, 2.0)  # the last debug image
        written = _write_overlays(client, args.out)
        scores = score_answers(client, frames)
    if not report.timings:
        raise RuntimeError(f"no frame was answered; see {args.out / 'sameo_node_sameo.log'}")
    figures = {**report.figures(), **scores}
    (args.out / "figures.json").write_text(json.dumps(figures, indent=2))
    print(f"{written} overlays in {args.out}/")
    print(
        f"latency p50 {figures['latency_ms_p50']:.0f} ms, p99 {figures['latency_ms_p99']:.0f} ms, "
        f"{figures['fps_one_in_flight']:.2f} fps (one frame in flight), model p50 "
        f"{figures['model_ms_p50']:.0f} ms, {report.lost} frames lost"
    )
    print(
        f"occlusion order right on {scores['order_right']} of {scores['order_pairs']} "
        f"overlapping pairs; visible masks mean IoU {scores['visible_miou']:.2f}"
    )


if __name__ == "__main__":
    cli.run(main)
