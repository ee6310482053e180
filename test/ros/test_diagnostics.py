"""The /diagnostics levels and their thresholds (sameo_ros/diagnostics.py, README)."""

from __future__ import annotations

import dataclasses

from sameo_ros.diagnostics import ERROR, OK, WARN, Counters, Health, HealthMonitor

ACTIVE = Health(state="active", counters=Counters(), fps=2.0, latency_ms_p50=400.0,
                latency_ms_p99=500.0, seconds_since_pair=0.5, device="cpu", model_bytes=2**21)


def _counts(**totals: int) -> Health:
    return dataclasses.replace(ACTIVE, counters=Counters(**totals))


def test_healthy_active_node_is_ok_with_every_value() -> None:
    assessment = HealthMonitor().assess(_counts(frames=10, detections_received=10))
    assert assessment.level == OK and "2.00 fps" in assessment.message
    values = dict(assessment.values)
    assert values["model memory (MiB)"] == "2.0" and values["frames processed"] == "10"
    assert "cuda memory allocated (MiB)" not in values
    cuda = dataclasses.replace(ACTIVE, cuda_allocated_bytes=3 * 2**20)
    assert dict(HealthMonitor().assess(cuda).values)["cuda memory allocated (MiB)"] == "3.0"


def test_warnings_look_at_the_last_period_only() -> None:
    monitor = HealthMonitor()
    assert monitor.assess(_counts(frames=5, detections_received=5)).level == OK
    skipped = monitor.assess(_counts(frames=5, skipped=2, detections_received=7))
    assert skipped.level == WARN and "2 frames skipped" in skipped.message
    assert monitor.assess(_counts(frames=6, skipped=2, detections_received=8)).level == OK


def test_unpaired_detections_and_silence_warn() -> None:
    monitor = HealthMonitor()
    monitor.assess(_counts(detections_received=10))
    unpaired = monitor.assess(_counts(detections_received=20, detections_unpaired=1))
    assert unpaired.level == WARN and "1 of 10 detection arrays" in unpaired.message
    silent = dataclasses.replace(ACTIVE, seconds_since_pair=6.0)
    assert HealthMonitor().assess(silent).level == WARN


def test_errors_win_and_idle_states_are_ok() -> None:
    dead = dataclasses.replace(ACTIVE, worker_error="RuntimeError('x')")
    assert HealthMonitor().assess(dead).level == ERROR
    failed = Health(state="unconfigured", counters=Counters(), configure_error="no checkpoint")
    assessment = HealthMonitor().assess(failed)
    assert assessment.level == ERROR and "configure failed: no checkpoint" in assessment.message
    for state in ("unconfigured", "inactive"):
        idle = HealthMonitor().assess(Health(state=state, counters=Counters()))
        assert idle.level == OK and idle.message == state
