"""The tracking part of `make demo`: an object passes fully behind another and comes back, through
sameo_node over ROS 2 (called by node_demo with its running node and client).

The node's `tracking` parameter is switched on at run time (the demo's cluttered stills before
it are independent scenes, served with tracking off), then the frames of
`occlusion_sequence(seed)` go through it one at a time, 1/30 s apart. What came back is checked
against the video's truth (`occlusion_sequence.permanence`): the target's track id before it is
hidden, the hidden frames in which the node reported it STATE_HIDDEN with that id and its carried
amodal mask, and the frame in which it was detected again with that id. Writes
tracking_NNN.png (the node's debug overlays, enlarged 3x) and tracking_sheet.png (a contact
sheet of the sequence with these figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sameo_core.tracking import TrackState
from sameo_core.visualize import LEGEND, TRACKS_LEGEND, contact_sheet
from sameo_ros.conversions import image_to_rgb

from .occlusion_sequence import OcclusionSequence, occlusion_sequence, permanence, target_seen

DEMO_SEED = 7  # a sequence whose target the demo model keeps through its hidden spell
SCALE = 3  # the 128-px frames, enlarged for the overlays' labels
SHEET_TILES = 12
FIRST_STAMP = 2_000_000_000_000  # 2000 s: far from the stills' stamps (tracks start afresh)


def set_parameters(node: Any, target: str, timeout: float, **values: Any) -> list:
    """Set parameters of node `target` (its full name) through its parameter service; the
    SetParametersResults."""
    import threading

    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    client = node.create_client(SetParameters, f"{target}/set_parameters")
    try:
        if not client.wait_for_service(timeout):
            raise RuntimeError(f"no parameter service {target}/set_parameters")
        future = client.call_async(SetParameters.Request(
            parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]))
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            raise RuntimeError(f"{target}/set_parameters did not answer in {timeout} s")
        return list(future.result().results)
    finally:
        node.destroy_client(client)


def stream_sequence(client: Any, sequence: OcclusionSequence, timeout: float,
                    first_stamp: int = FIRST_STAMP) -> list[Any]:  # fmt: skip
    """Send the sequence's frames one at a time (each after the previous answer) at their 30-fps
    stamps; the AmodalMaskArray of each (None if unanswered within `timeout`)."""
    answers = []
    for k, frame in enumerate(sequence.frames):
        stamp = first_stamp + round(sequence.stamps[k] * 1e9)
        answers.append(client.request(frame, stamp, timeout))
    return answers


def _tiles(overlays: list[np.ndarray], count: int) -> list[int]:
    """`count` frame indices spread over the sequence (all when it is shorter)."""
    if len(overlays) <= count:
        return list(range(len(overlays)))
    return sorted({int(round(v)) for v in np.linspace(0, len(overlays) - 1, count)})


def _caption(k: int, sequence: OcclusionSequence, seen) -> str:
    truth = "fully hidden" if sequence.hidden[k] else "seen"
    if seen is None:
        return f"frame {k} ({truth}): target not reported"
    state = TrackState(seen.state).name
    return f"frame {k} ({truth}): #{seen.track_id} {state} IoU {seen.iou:.2f}"


def run_tracking_demo(client: Any, node_name: str, out: Path, timeout: float,
                      seed: int = DEMO_SEED) -> dict[str, Any]:  # fmt: skip
    """The sequence through the running node (module docstring); its figures."""
    (result,) = set_parameters(client.node, node_name, timeout, tracking=True)
    if not result.successful:
        raise RuntimeError(f"tracking could not be switched on: {result.reason}")
    sequence = occlusion_sequence(seed)
    answers = stream_sequence(client, sequence, timeout)
    client.wait_debug(FIRST_STAMP + round(sequence.stamps[-1] * 1e9), 2.0)
    seen = [None if a is None else target_seen(a, sequence.target_amodal[k])
            for k, a in enumerate(answers)]  # fmt: skip
    figures = {"seed": seed, "frames": len(sequence.frames),
               "answered": sum(a is not None for a in answers),
               **permanence(sequence, seen)}  # fmt: skip
    overlays = []
    for k in range(len(sequence.frames)):
        debug = client.received.debug.get(FIRST_STAMP + round(sequence.stamps[k] * 1e9))
        if debug is None:
            continue
        rgb = image_to_rgb(debug)
        rgb = cv2.resize(rgb, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(out / f"tracking_{k:03d}.png"), np.ascontiguousarray(rgb[:, :, ::-1]))
        overlays.append((k, rgb))
    if overlays:
        chosen = [overlays[i] for i in _tiles([o for _, o in overlays], SHEET_TILES)]
        sheet = contact_sheet([rgb for _, rgb in chosen],
                              [_caption(k, sequence, seen[k]) for k, _ in chosen],
                              sheet_text(figures), columns=4)  # fmt: skip
        cv2.imwrite(str(out / "tracking_sheet.png"), np.ascontiguousarray(sheet[:, :, ::-1]))
    return figures


def sheet_text(figures: dict[str, Any]) -> list[str]:
    back = figures["back_with_same_id_at"]
    return [
        f"sameo_node with tracking: an object passes fully behind an occluder "
        f"({figures['frames']} frames at 30 fps, video seed {figures['seed']})",
        f"fully hidden {figures['hidden_frames']} frames: reported HIDDEN with its id "
        f"#{figures['target_track']} in {figures['reported_hidden']}, carried amodal mask mean "
        f"IoU {figures['hidden_amodal_miou']:.2f}; "
        + (f"detected again with the same id at frame {back}" if back is not None
           else "not detected again with the same id"),
        LEGEND,
        TRACKS_LEGEND,
    ]


def summary(figures: dict[str, Any]) -> str:
    """One line for the demo's output."""
    return sheet_text(figures)[1]
