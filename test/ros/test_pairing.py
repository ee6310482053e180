"""Stamp pairing of images and detections (the newest-frame slots: test_latest.py)."""

from __future__ import annotations

import threading

from sameo_ros.pairing import StampBuffer, StampPairer, nearest

MS = 1_000_000


def test_exact_stamp_pairs_in_either_order() -> None:
    pairer: StampPairer[str, str] = StampPairer(slop_ns=10 * MS)
    assert pairer.add_image(100 * MS, "img100").pairs == []
    pairs = pairer.add_detections(100 * MS, "det100").pairs
    assert [(p.image, p.detections) for p in pairs] == [("img100", "det100")]
    assert pairer.add_detections(200 * MS, "det200").pairs == []  # waits for its image
    pairs = pairer.add_image(200 * MS, "img200").pairs
    assert [(p.image, p.detections) for p in pairs] == [("img200", "det200")]
    assert pairer.pending == 0 and pairer.unmatched_total == 0


def test_exact_match_wins_over_a_nearer_approximate_one() -> None:
    pairer: StampPairer[str, str] = StampPairer(slop_ns=50 * MS)
    pairer.add_image(100 * MS, "img100")
    pairer.add_image(103 * MS, "img103")
    pairer.add_image(105 * MS, "img105")
    pairs = pairer.add_detections(105 * MS, "det").pairs
    assert pairs[0].image == "img105" and pairs[0].image_stamp == pairs[0].detections_stamp


def test_nearest_within_slop_once_a_later_image_arrived() -> None:
    pairer: StampPairer[str, str] = StampPairer(slop_ns=10 * MS)
    pairer.add_image(100 * MS, "img100")
    assert pairer.add_detections(104 * MS, "det104").pairs == []  # an exact image may follow
    pairs = pairer.add_image(111 * MS, "img111").pairs
    assert [(p.image, p.detections) for p in pairs] == [("img100", "det104")]


def test_detections_without_image_within_slop_are_reported_unmatched() -> None:
    pairer: StampPairer[str, str] = StampPairer(slop_ns=5 * MS)
    pairer.add_image(100 * MS, "img100")
    result = pairer.add_detections(50 * MS, "old")
    assert result.pairs == [] and result.unmatched == [50 * MS]
    pairer.add_detections(120 * MS, "det120")
    result = pairer.add_image(140 * MS, "img140")
    assert result.pairs == [] and result.unmatched == [120 * MS]
    assert pairer.unmatched_total == 2 and pairer.pending == 0


def test_each_image_is_used_once_and_pending_is_bounded() -> None:
    pairer: StampPairer[str, str] = StampPairer(slop_ns=0, history=2)
    pairer.add_image(1, "a")
    assert len(pairer.add_detections(1, "d1").pairs) == 1
    assert pairer.add_detections(1, "d1 again").unmatched == []  # image consumed: waits
    pairer.add_detections(2, "d2")
    result = pairer.add_detections(3, "d3")  # third pending one pushes the oldest out
    assert result.unmatched == [1] and pairer.pending == 2


def test_nearest_prefers_exact_then_nearest_within_slop() -> None:
    assert nearest([100, 103, 105], 105, 50) == 2
    assert nearest([100, 110], 104, 10) == 0  # nearer
    assert nearest([100, 110], 105, 10) == 0  # tie: the earlier
    assert nearest([100, 110], 130, 10) is None and nearest([], 1, 10) is None


def test_stamp_buffer_matches_by_the_pairing_rule() -> None:
    buffer: StampBuffer[str] = StampBuffer(slop_ns=10 * MS, history=3)
    assert buffer.match(100 * MS) is None and buffer.latest_stamp is None
    for stamp in (90, 100, 120):
        buffer.add(stamp * MS, f"d{stamp}")
    assert buffer.match(100 * MS) == "d100"
    assert buffer.match(95 * MS) == "d90"  # tie: the earlier
    assert buffer.match(112 * MS) == "d120"
    assert buffer.match(150 * MS) is None  # nothing within the slop
    buffer.add(130 * MS, "d130")  # history 3: d90 is gone
    assert buffer.match(85 * MS) is None and buffer.latest_stamp == 130 * MS


def test_stamp_buffer_waits_for_a_late_message_but_not_forever() -> None:
    buffer: StampBuffer[str] = StampBuffer(slop_ns=10 * MS)
    buffer.add(95 * MS, "early")
    late = threading.Timer(0.05, buffer.add, (100 * MS, "exact"))
    late.start()
    assert buffer.match(100 * MS, timeout=5.0) == "exact"  # waited for it
    late.join()
    # nothing at or after the stamp comes: after the timeout, the best one there
    assert buffer.match(103 * MS, timeout=0.05) == "exact"
    # settled at once when a later message is already there
    buffer.add(200 * MS, "later")
    assert buffer.match(150 * MS, timeout=60.0) is None
