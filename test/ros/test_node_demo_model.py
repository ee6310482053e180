"""With the trained demo model, the node's amodal masks reach behind the occluders.

Needs the demo checkpoint: SAMEO_DEMO_CHECKPOINT, else checkpoints/demo/sameo_shapes_demo.pt
(the path `make demo` uses). Without it this test fails and says so: mask content cannot be
checked with random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sameo_ros.conversions import mono8_to_mask
from sameo_ros.harness.node_process import REPO, stop_node
from sameo_ros.harness.synthetic_frames import scene_frame

from .conftest import launch_node

DEMO_CHECKPOINT = Path(
    os.environ.get("SAMEO_DEMO_CHECKPOINT", REPO / "checkpoints" / "demo" / "sameo_shapes_demo.pt")
)
SEC = 1_000_000_000


def _paste(msg, height: int, width: int) -> np.ndarray:
    full = np.zeros((height + 2 * msg.mask.height, width + 2 * msg.mask.width), bool)
    y, x = msg.y_offset + msg.mask.height, msg.x_offset + msg.mask.width
    full[y : y + msg.mask.height, x : x + msg.mask.width] = mono8_to_mask(msg.mask)
    return full[
        msg.mask.height : msg.mask.height + height, msg.mask.width : msg.mask.width + width
    ]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_demo_model_masks_cover_occluded_parts(ros_env, tmp_path: Path) -> None:
    assert DEMO_CHECKPOINT.is_file(), (
        f"demo checkpoint {DEMO_CHECKPOINT} missing: produce it (training helper) or set "
        "SAMEO_DEMO_CHECKPOINT; the mask-content check needs a trained model"
    )
    from sameo_ros.harness.node_client import SameoClient

    node = launch_node(
        ros_env,
        tmp_path / "demo_node.log",
        namespace="/demo_model",
        checkpoint=str(DEMO_CHECKPOINT),
    )
    client = SameoClient(name="demo_client", namespace="/demo_model")
    recalls, gains = [], []
    try:
        assert client.wait_for_node(120.0), node.log_text()
        for k in range(4):
            frame = scene_frame(seed=2000 + k, size=256)
            msg = client.request(frame, (500 + k) * SEC, timeout=120.0, resend_s=30.0)
            assert msg is not None, node.log_text()[-3000:]
            for m, amodal, visible in zip(msg.masks, frame.amodal, frame.visible):
                occluded = amodal & ~visible
                if occluded.sum() < 0.1 * amodal.sum():
                    continue
                predicted = _paste(m, 256, 256)
                recalls.append((predicted & occluded).sum() / occluded.sum())
                gains.append(_iou(predicted, amodal) - _iou(predicted, visible))
    finally:
        client.close()
        stop_node(node.process)
    assert len(recalls) >= 2, "the scenes held too few occluded objects"
    assert np.mean(recalls) > 0.5, f"occluded parts covered: {np.round(recalls, 2)}"
    assert np.mean(gains) > 0.0, "masks match the visible parts better than the amodal ones"
