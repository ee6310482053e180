"""sameo_node with `image_transport: compressed`: sensor_msgs/CompressedImage (jpeg, png) on
image/compressed, decoded with OpenCV; undecodable bytes are logged and skipped."""

from __future__ import annotations

import numpy as np

from sameo_ros.harness.synthetic_frames import scene_frame

from .conftest import SEC, TIMEOUT, launch_node

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
            assert [m.id for m in msg.masks] == list(frame.ids)
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
    finally:
        for client in clients.values():
            client.close()
        assert node.stop() == 0, node.tail()
