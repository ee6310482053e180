"""Parameters are declared once (sameo_ros/params.py); config/sameo.yaml and the launch file agree.

launch/launch_ros are not pip-installable, so the launch file is checked by parsing it.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import yaml

from sameo_ros.params import DESCRIPTIONS, PARAMETERS, NodeConfig, config_from_values

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch" / "sameo.launch.py"


def _yaml_parameters() -> dict:
    document = yaml.safe_load((REPO / "config" / "sameo.yaml").read_text())
    return document["/**"]["ros__parameters"]


def _launch_constants() -> dict[str, object]:
    tree = ast.parse(LAUNCH.read_text())
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:  # ARGUMENTS holds a substitution: keep names and defaults
                constants[node.targets[0].id] = [
                    tuple(
                        ast.literal_eval(e) if isinstance(e, ast.Constant) else None
                        for e in item.elts
                    )
                    for item in node.value.elts
                ]
    return constants


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


def test_launch_file_matches_the_node() -> None:
    compile(LAUNCH.read_text(), str(LAUNCH), "exec")
    constants = _launch_constants()
    arguments = {name: default for name, default, _ in constants["ARGUMENTS"]}
    topics = {
        field.default for field in dataclasses.fields(NodeConfig) if field.name.endswith("_topic")
    }
    assert set(constants["TOPICS"]) <= topics  # remapped names are the node's relative names
    assert set(constants["TOPICS"]) <= set(arguments)
    assert set(constants["OVERRIDES"]) <= set(PARAMETERS)
    assert arguments["amodal_masks"] == "/sameo/amodal_masks"
    assert {"params_file", "namespace", "checkpoint"} <= set(arguments)
    source = LAUNCH.read_text()
    assert 'executable="sameo_node"' in source and 'package="sameo_ros"' in source


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(image_topic="/camera/image"), "relative topic name"),
        (dict(qos_reliability="sometimes"), "qos_reliability"),
        (dict(dtype="bfloat16"), "float32 on cpu"),
        (dict(max_detections=0), "max_detections"),
        (dict(sync_slop=float("nan")), "sync_slop"),
        (dict(chunk_size="4"), "must be of type int"),
        (dict(device="tpu"), "device"),
    ],
)
def test_invalid_values_are_rejected(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_values(change)


def test_unknown_parameter_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown sameo parameters"):
        config_from_values({"chunksize": 4})
    assert config_from_values({"sync_slop": 0}).sync_slop == 0.0  # YAML ints for floats are fine
