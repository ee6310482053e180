"""Parameters are declared once (sameo_ros/params.py); config/sameo.yaml agrees with them, and
changes are validated by one rule (what may change while the model is loaded, and how)."""

from __future__ import annotations

import math

import pytest
import yaml

from sameo_core.tracking import TrackerConfig
from sameo_ros.params import (
    AUTO,
    BOUNDS,
    DESCRIPTIONS,
    DYNAMIC_TYPES,
    PARAMETERS,
    RUNTIME_PARAMETERS,
    TRACKER_PARAMETERS,
    checked_update,
    config_from_values,
    tracker_config,
)

from .conftest import REPO


def _yaml_parameters() -> dict:
    document = yaml.safe_load((REPO / "config" / "sameo.yaml").read_text())
    return document["/**"]["ros__parameters"]


def test_every_parameter_has_a_description() -> None:
    assert set(DESCRIPTIONS) == set(PARAMETERS)
    assert all(len(text) > 10 for text in DESCRIPTIONS.values())


def test_yaml_sets_exactly_the_declared_parameters_with_valid_values() -> None:
    values = _yaml_parameters()
    assert set(values) == set(PARAMETERS)
    config = config_from_values(values)
    for name, value in values.items():  # same ROS type as the declared default
        assert type(value) is type(PARAMETERS[name]), name
        assert getattr(config, name) == (tuple(value) if isinstance(value, list) else value)
    assert config.chunk_size == AUTO and config.cameras == ("",)  # the deployed defaults


def test_no_topic_parameters() -> None:
    """Topic names are fixed relative names, remapped in launch (README, "ROS 2 node")."""
    assert not [name for name in PARAMETERS if name.endswith("_topic")]


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(qos_reliability="sometimes"), "qos_reliability"),
        (dict(image_transport="theora"), "image_transport"),
        (dict(dtype="bfloat16"), "float32 on cpu"),
        (dict(max_detections=0), "max_detections"),
        (dict(sync_slop=float("nan")), "sync_slop"),
        (dict(chunk_size="4"), "must be 'auto' or a number"),
        (dict(chunk_size=2.5), "must be of type int or str"),
        (dict(chunk_size=True), "must be of type int or str"),
        (dict(max_detections=10**12), "'max_detections' must be <= 256"),
        (dict(qos_depth=10**6), "'qos_depth' must be <= 20"),
        (dict(stats_window=10**9), "'stats_window' must be <= 10000"),
        (dict(chunk_size=10**6), "'chunk_size' must be <= 256"),
        (dict(max_image_pixels=2**40), "'max_image_pixels' must be <= 33177600"),
        (dict(max_image_pixels=0), "'max_image_pixels' must be >= 1"),
        (dict(sync_slop=5.0), "'sync_slop' must be <= 1"),
        (dict(depth_wait=60.0), "'depth_wait' must be <= 1"),
        (dict(stats_period=0.0), "'stats_period' must be >= 0.1"),
        (dict(stats_period=1e9), "'stats_period' must be <= 3600"),
        (dict(torch_threads=-1), "'torch_threads' must be >= 0"),
        (dict(torch_threads=10**4), "'torch_threads' must be <= 256"),
        (dict(cameras=[]), "must name at least one camera"),
        (dict(cameras=["head", "head"]), "must be unique"),
        (dict(cameras=["", "wrist"]), "'' only alone"),
        (dict(cameras=["2nd"]), "must be relative ROS names"),
        (dict(cameras=["/head"]), "must be relative ROS names"),
        (dict(cameras=["head/"]), "must be relative ROS names"),
        (dict(cameras=["a b"]), "must be relative ROS names"),
        (dict(cameras=[f"c{k}" for k in range(9)]), "'cameras' must be <= 8"),
        (dict(cameras="head"), "must be of type list"),
        (dict(device="tpu"), "device"),
        (dict(managed="yes"), "must be of type bool"),
        (dict(depth_wait=-0.1), "depth_wait"),
        (dict(point_cloud=True), "needs depth: true"),
        (dict(tracking=1), "'tracking' must be of type bool"),
        (dict(hidden_timeout=0.0), "'hidden_timeout' must be > 0"),
        (dict(hidden_timeout=math.inf), "'hidden_timeout' must be finite"),
        (dict(max_stamp_jump=-1.0), "'max_stamp_jump' must be > 0"),
        (dict(max_tracks=0), "'max_tracks' must be an integer in"),
        (dict(visible_threshold=0.0), "'visible_threshold' must be in"),
        (dict(hidden_cover=1.5), "'hidden_cover' must be in"),
        (dict(recover_min_iou=math.nan), "'recover_min_iou' must be finite"),
        (dict(recover_min_overlap=2.0), "'recover_min_overlap' must be in"),
    ],
)
def test_invalid_values_are_rejected(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_values(change)


def test_unknown_parameter_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown sameo parameters"):
        config_from_values({"chunksize": 4})
    assert config_from_values({"sync_slop": 0}).sync_slop == 0.0  # YAML ints for floats are fine


def test_only_runtime_parameters_change_while_configured() -> None:
    values = dict(PARAMETERS)
    for name in RUNTIME_PARAMETERS:
        changed = {"debug_image": False, "tracking": False, "visible_threshold": 0.5,
                   "hidden_cover": 0.8, "recover_min_iou": 0.7,
                   "recover_min_overlap": 0.7}.get(name, 3)  # fmt: skip
        assert getattr(checked_update(values, {name: changed}, configured=True), name) == changed
    with pytest.raises(ValueError, match="'device' is read when the model is loaded"):
        checked_update(values, {"device": "cuda"}, configured=True)
    assert checked_update(values, {"device": "cuda"}, configured=False).device == "cuda"
    assert checked_update(values, {"device": "cpu"}, configured=True).device == "cpu"  # same
    assert checked_update(values, {"use_sim_time": True}, configured=True) is not None
    with pytest.raises(ValueError, match="'max_detections' must be >= 1"):
        checked_update(values, {"max_detections": 0}, configured=True)


def test_every_bound_is_documented_and_its_limit_accepted() -> None:
    """Each sizing parameter's upper bound is accepted, one step above it refused, and its
    reason and range are in the parameter's description."""
    for name, bound in BOUNDS.items():
        if name == "cameras":
            at_limit = {name: [f"c{k}" for k in range(bound.limit)]}
            assert len(config_from_values(at_limit).cameras) == bound.limit
            assert str(bound.limit) in DESCRIPTIONS[name]
            continue
        limit = bound.limit
        assert config_from_values({name: limit}) is not None
        above = limit + 1 if isinstance(limit, int) else limit * 1.01
        with pytest.raises(ValueError, match=f"'{name}' must be <= .*{bound.reason[:20]}"):
            config_from_values({name: above})
        assert f"{limit:g}" in DESCRIPTIONS[name] or str(limit) in DESCRIPTIONS[name], name
    sizing = {"qos_depth", "max_detections", "chunk_size", "stats_window", "max_image_pixels",
              "cameras", "sync_slop", "depth_wait", "torch_threads", "max_tracks",
              "hidden_timeout", "max_stamp_jump"}  # fmt: skip
    assert sizing <= set(BOUNDS)


def test_chunk_size_takes_auto_or_a_number() -> None:
    assert set(DYNAMIC_TYPES) == {"chunk_size"}  # declared with dynamic typing in the node
    assert PARAMETERS["chunk_size"] == AUTO
    assert config_from_values({"chunk_size": 4}).chunk_size == 4  # YAML `chunk_size: 4`
    assert config_from_values({"chunk_size": "auto"}).chunk_size == AUTO
    document = yaml.safe_load("chunk_size: 4\ncameras: [head, wrist]")
    config = config_from_values(document)
    assert config.chunk_size == 4 and config.cameras == ("head", "wrist")


def test_camera_topics_are_relative_names_under_the_camera() -> None:
    config = config_from_values({"cameras": ["head", "arm/wrist"]})
    assert config.topic("head", "image") == "head/image"
    assert config.topic("arm/wrist", "amodal_masks") == "arm/wrist/amodal_masks"
    assert config_from_values({}).topic("", "image") == "image"  # the unnamed camera


def test_tracker_parameters_are_the_trackers_settings_and_change_at_run_time() -> None:
    """The tracking parameters keep TrackerConfig's names and defaults, build the camera's
    TrackerConfig, and all change while the node runs (issue 19)."""
    defaults = TrackerConfig()
    assert PARAMETERS["tracking"] is True
    for name in TRACKER_PARAMETERS:
        assert PARAMETERS[name] == getattr(defaults, name), name
        assert name in RUNTIME_PARAMETERS and name in DESCRIPTIONS
    assert "tracking" in RUNTIME_PARAMETERS
    config = tracker_config(config_from_values({"hidden_timeout": 2, "max_tracks": 8}))
    assert (config.hidden_timeout, config.max_tracks) == (2.0, 8)
    assert config.min_hits == defaults.min_hits  # the others keep the library's defaults
