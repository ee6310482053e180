"""sameo_node with `image_transport: compressed`: sensor_msgs/CompressedImage (jpeg, png) on
image/compressed, decoded with OpenCV; undecodable bytes are logged and skipped, and images of
more than `max_image_pixels` (decompression bombs) are refused from their header with the node's
memory staying flat."""

from __future__ import annotations

import numpy as np

from sameo_ros.harness.oversized_images import header_only_jpeg, zeros_png
from sameo_ros.harness.synthetic_frames import scene_frame

from .conftest import SEC, TIMEOUT, launch_node
from .ros_calls import DiagnosticsListener, detections, values

NAMESPACE = "/compressed_input"
RESEND_S = 2.0


def test_jpeg_and_png_frames_are_answered_and_bad_bytes_skipped(ros_env, tmp_path) -> None:
    from sameo_ros.harness.node_client import SameoClient

    node = launch_node(ros_env, tmp_path / "node.log", namespace=NAMESPACE, variant="test",
                       image_transport="compressed")  # fmt: skip
    clients = {}
    try:
        assert node.wait_log(f"ready: {NAMESPACE}/image/compressed"), node.tail()
        for fmt in ("jpeg", "png"):
            clients[fmt] = SameoClient(name=f"{fmt}_camera", namespace=NAMESPACE, compressed=fmt)
            assert clients[fmt].wait_for_node(TIMEOUT), node.tail()
        frame = scene_frame(seed=60, size=96)
        for k, client in enumerate(clients.values()):
            msg = client.request(frame, (80 + k) * SEC, TIMEOUT, RESEND_S)
            assert msg is not None, node.tail()
            assert [m.id for m in detections(msg)] == list(frame.ids)
            assert msg.header.frame_id == "camera"
        client = clients["png"]
        stamp = 90 * SEC
        broken = client.image_message(frame.rgb, stamp)
        broken.data = bytes(broken.data)[: len(broken.data) // 3]  # a truncated png
        client.publish(broken, client.detections_message(frame, stamp), stamp)
        assert node.wait_log("undecodable 'png' compressed image"), node.tail()
        stamp = 91 * SEC
        foreign = client.image_message(frame.rgb, stamp)
        foreign.data = np.zeros(64, np.uint8).tobytes()
        client.publish(foreign, client.detections_message(frame, stamp), stamp)
        assert node.wait_log("is neither jpeg nor png"), node.tail()
        assert client.request(frame, 92 * SEC, TIMEOUT, RESEND_S) is not None
        _bombs_are_refused_and_memory_stays_flat(node, clients, frame)
    finally:
        for client in clients.values():
            client.close()
        assert node.stop() == 0, node.tail()


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of process `pid`: the most memory it has held resident since it started."""
    status = open(f"/proc/{pid}/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024.0


def _bombs_are_refused_and_memory_stays_flat(node, clients, frame) -> None:
    """A 0.9 MB PNG of 30000 x 30000 zeros (5.2 GB and 16 s to decode before the bound,
    BENCHMARKS.md "ROS node") and a 0.6 kB JPEG whose header claims 30000 x 30000: each is
    refused from its header (the first refusal is logged; the second, within the 5 s throttle,
    is counted as a skipped frame on /diagnostics), the node's peak memory does not move, and
    the next frame of the same camera is answered."""
    bombs = {"png": zeros_png(30000), "jpeg": header_only_jpeg(30000)}
    assert len(bombs["png"]) < 2**20
    listener = DiagnosticsListener(clients["png"].node, f"{NAMESPACE}/sameo: ")
    first = listener.wait_for(lambda s: values(s)["state"] == "active")
    assert first is not None
    skipped = int(values(first)["frames skipped"])
    peak_before = _peak_rss_mb(node.process.pid)
    for k, (fmt, data) in enumerate(bombs.items()):
        client, stamp = clients[fmt], (100 + k) * SEC
        bomb = client.image_message(frame.rgb, stamp)
        bomb.data = data
        client.publish(bomb, client.detections_message(frame, stamp), stamp)
        counted = listener.wait_for(lambda s, n=skipped + k + 1: int(values(s)["frames skipped"])
                                    >= n, after=listener.count)  # fmt: skip
        assert counted is not None, node.tail()
        assert client.request(frame, (110 + k) * SEC, TIMEOUT, RESEND_S) is not None
    refused = "skipping frame at 100.000000 s: png image of 30000x30000 = 900000000 pixels " \
        "exceeds max_image_pixels = 16777216"
    assert refused in node.log_text(), node.tail()
    growth = _peak_rss_mb(node.process.pid) - peak_before
    assert growth < 20.0, f"the node's peak RSS grew by {growth:.0f} MB"
