"""Parameters are declared once (sameo_ros/params.py); config/sameo.yaml agrees with them, and
changes are validated by one rule (what may change while the model is loaded, and how)."""

from __future__ import annotations

import pytest
import yaml

from sameo_ros.params import (
    AUTO,
    BOUNDS,
    DESCRIPTIONS,
    DYNAMIC_TYPES,
    PARAMETERS,
    RUNTIME_PARAMETERS,
    checked_update,
    config_from_values,
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
        changed = {"debug_image": False}.get(name, 3)
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
              "cameras", "sync_slop", "depth_wait", "torch_threads"}  # fmt: skip
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
