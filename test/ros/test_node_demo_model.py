"""With the trained demo model, over real DDS: the node's amodal masks reach behind the occluders,
its visible masks and occlusion order match scenes of known layer order, and with depth its 3D
matches synthetic RGB-D scenes of exact geometry. The scenes are independent stills, so these
nodes run with tracking off (tracks through occlusion: test_node_tracking.py).

Needs the demo checkpoint: SAMEO_DEMO_CHECKPOINT, else checkpoints/demo/sameo_shapes_demo.pt
(the path `make demo` uses). Without it this test fails and says so: mask content cannot be
checked with random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sameo_core.camera import PinholeIntrinsics, depth_to_metres
from sameo_core.data.rgbd_scenes import half_occluded_scene, random_rgbd_scene
from sameo_core.geometry import RoiMask
from sameo_core.inference.depth_lifting import lift_objects
from sameo_ros.conversions import mono8_to_mask
from sameo_ros.harness.node_process import REPO, stop_node
from sameo_ros.harness.synthetic_frames import (
    camera_info_message,
    depth_message,
    rgbd_frame,
    scene_frame,
)

from .conftest import launch_node

DEMO_CHECKPOINT = Path(
    os.environ.get("SAMEO_DEMO_CHECKPOINT", REPO / "checkpoints" / "demo" / "sameo_shapes_demo.pt")
)
SEC = 1_000_000_000


def _roi(image, x: int, y: int) -> RoiMask:
    """A mono8 mask Image with its offset as the RoiMask it came from."""
    return RoiMask(mono8_to_mask(image), (x, y))


def _paste(msg, height: int, width: int) -> np.ndarray:
    """An AmodalMask's amodal mask as a full image."""
    return _roi(msg.mask, msg.x_offset, msg.y_offset).paste(height, width)


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
        tracking=False,  # independent scenes, each answer its own frame's
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


# Procedural scenes (256 px, `scene_frame`) with 3 overlapping pairs each whose layer order the
# demo model gets right (chosen for the demo model of issue 18 by simulating the node with the
# library); its accuracy over held-out sets is in BENCHMARKS.md ("Visible masks and occlusion
# order", "Occlusion order on the model's own masks"). This test is about the node carrying it:
# masks, ids and order over DDS.
ORDER_SEEDS = (2015, 2039, 2053)


def _visible(msg, height: int, width: int) -> np.ndarray:
    return _roi(msg.visible_mask, msg.visible_x_offset, msg.visible_y_offset).paste(height, width)


def test_demo_model_gives_visible_masks_and_the_layer_order(ros_env, tmp_path: Path) -> None:
    assert DEMO_CHECKPOINT.is_file(), f"demo checkpoint {DEMO_CHECKPOINT} missing"
    from sameo_ros.harness.node_client import SameoClient

    node = launch_node(ros_env, tmp_path / "order_node.log", namespace="/demo_order",
                       checkpoint=str(DEMO_CHECKPOINT), tracking=False)  # fmt: skip
    client = SameoClient(name="order_client", namespace="/demo_order")
    visible_ious, amodal_as_visible = [], []
    try:
        assert client.wait_for_node(120.0), node.log_text()
        for k, seed in enumerate(ORDER_SEEDS):
            frame = scene_frame(seed=seed, size=256)
            msg = client.request(frame, (600 + k) * SEC, timeout=120.0, resend_s=30.0)
            assert msg is not None, node.log_text()[-3000:]
            assert sum(map(len, frame.occluded_by)) >= 1
            by_id = {m.id: m for m in msg.masks}
            for det_id, truth in zip(frame.ids, frame.occluded_by):
                occludes = tuple(d for d, t in zip(frame.ids, frame.occluded_by) if det_id in t)
                assert sorted(by_id[det_id].occluded_by) == sorted(truth), (seed, det_id)
                assert sorted(by_id[det_id].occludes) == sorted(occludes), (seed, det_id)
                assert (by_id[det_id].rank == 0) == (not truth)
            for m, visible, amodal in zip(msg.masks, frame.visible, frame.amodal):
                if (amodal & ~visible).sum() < 0.1 * amodal.sum():
                    continue  # occluded objects: where visible and amodal masks differ
                predicted = _visible(m, 256, 256)
                visible_ious.append(_iou(predicted, visible))
                amodal_as_visible.append(_iou(_paste(m, 256, 256), visible))
    finally:
        client.close()
        stop_node(node.process)
    assert len(visible_ious) >= 2
    assert np.mean(visible_ious) > 0.6, np.round(visible_ious, 2)
    assert np.mean(visible_ious) > np.mean(amodal_as_visible), "visible no better than amodal"


# RGB-D scenes (`rgbd_scenes.random_rgbd_scene`, 640x480) of 2-5 planes with 1-3 overlapping
# pairs whose visible parts the demo model segments onto their own planes; BENCHMARKS.md ("3D from
# depth") has the accuracy over a held-out set with the model's masks.
RGBD_SEEDS = (7, 10, 16)
CAMERA = PinholeIntrinsics(525.0, 527.0, 322.0, 236.0, 640, 480)


def _xyz(point) -> np.ndarray:
    return np.array([point.x, point.y, point.z])


def test_demo_model_3d_from_depth_over_dds(ros_env, tmp_path: Path) -> None:
    """The node's 3D is the library's (`lift_objects`, whose accuracy on exact masks
    test/inference/test_depth_lifting.py checks) on the masks the node publishes, and with the
    demo model's masks it meets the targets where those masks are right."""
    assert DEMO_CHECKPOINT.is_file(), f"demo checkpoint {DEMO_CHECKPOINT} missing"
    from sameo_ros.harness.node_client import SameoClient

    node = launch_node(ros_env, tmp_path / "rgbd_node.log", namespace="/demo_rgbd",
                       checkpoint=str(DEMO_CHECKPOINT), depth=True, tracking=False)  # fmt: skip
    client = SameoClient(name="rgbd_client", namespace="/demo_rgbd", depth=True)
    scenes = [half_occluded_scene(CAMERA)]
    scenes += [random_rgbd_scene(np.random.default_rng([7, s])) for s in RGBD_SEEDS]
    try:
        assert client.wait_for_node(120.0), node.log_text()
        for k, scene in enumerate(scenes):
            frame, seen = rgbd_frame(scene)
            stamp = (700 + k) * SEC
            header = client.header(stamp)
            inputs = (depth_message(client.types, scene.depth_m, header),
                      camera_info_message(client.types, scene.intrinsics, header))
            masks = client.request(frame, stamp, 120.0, 30.0, depth=inputs)
            assert masks is not None, node.log_text()[-3000:]
            found = client.wait_3d(stamp, 60.0)
            assert found is not None, node.log_text()[-3000:]
            objects = {d.id: d for d in found.detections}
            # 1. Exactly the library's 3D of the published masks and the depth.
            amodal = [_roi(m.mask, m.x_offset, m.y_offset) for m in masks.masks]
            visible = [_roi(m.visible_mask, m.visible_x_offset, m.visible_y_offset)
                       for m in masks.masks]  # fmt: skip
            depth_m = depth_to_metres(scene.depth_image("16UC1"), "16UC1")
            expected = lift_objects(visible, amodal, depth_m, scene.intrinsics, (480, 640))
            ids = [m.id for m in masks.masks]
            assert sorted(objects) == sorted(ids[o.index] for o in expected.objects)
            for o in expected.objects:
                d = objects[ids[o.index]]
                np.testing.assert_allclose(_xyz(d.results[0].pose.pose.position), o.centroid,
                                           rtol=0, atol=1e-9)  # fmt: skip
                box = o.amodal_box
                np.testing.assert_allclose(_xyz(d.bbox.center.position),
                                           (box[:3] + box[3:]) / 2, rtol=0, atol=1e-9)
                np.testing.assert_allclose(_xyz(d.bbox.size), box[3:] - box[:3], rtol=0,
                                           atol=1e-9)  # fmt: skip
            # 2. With depth evidence the order is exact on every overlapping pair of planes.
            by_id = {m.id: m for m in masks.masks}
            for front, back in scene.occlusions():
                if front in seen and back in seen:
                    assert f"plane{front}" in by_id[f"plane{back}"].occluded_by, (k, front, back)
            # 3. The centroid of the visible part within 1 % of the depth.
            for i in seen:
                error = np.linalg.norm(_xyz(objects[f"plane{i}"].results[0].pose.pose.position)
                                       - scene.visible_centroid_m[i])  # fmt: skip
                assert error < 0.01 * scene.planes[i].depth_m, (k, i, error)
            if k == 0:  # the half-hidden rectangle reaches behind its occluder
                o = next(o for o in expected.objects if ids[o.index] == "plane0")
                visible_width = o.visible_box[3] - o.visible_box[0]
                assert objects["plane0"].bbox.size.x > visible_width + 0.01
    finally:
        client.close()
        stop_node(node.process)
