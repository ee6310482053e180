"""Parameters are declared once (sameo_ros/params.py); config/sameo.yaml agrees with them, and
changes are validated by one rule (what may change while the model is loaded, and how)."""

from __future__ import annotations

import pytest
import yaml

from sameo_ros.params import (
    DESCRIPTIONS,
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
        assert getattr(config, name) == value


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
        (dict(chunk_size="4"), "must be of type int"),
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
