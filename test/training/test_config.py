"""Training config: YAML + key=value overrides into frozen dataclasses, with clear errors."""

import dataclasses
from pathlib import Path

import pytest

from sameo_core.training.recipe import TrainConfig, apply_overrides, load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def test_defaults_follow_the_paper():
    cfg = load_config(None)
    assert cfg.optim.lr == 1e-4 and cfg.optim.schedule == "none" and cfg.optim.batch_size == 32
    assert (cfg.optim.loss_dice, cfg.optim.loss_focal, cfg.optim.loss_iou) == (1.0, 1.0, 0.05)
    assert cfg.data.prompt_amodal_prob == 0.5
    assert cfg.optim.focal_alpha is None  # eq. 4 has no alpha
    assert cfg.optim.batch_unit == "instances"
    assert not cfg.model.train_image_encoder and not cfg.model.train_prompt_encoder
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.optim.lr = 1.0


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("train_*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert isinstance(cfg, TrainConfig)
    assert cfg.to_dict()["run"]["steps"] == cfg.run.steps


def test_optional_alpha_and_nested_filter_lists():
    cfg = load_config(None, ["optim.focal_alpha=0.25", "data.sources=[kins:a.json, shapes]",
                             "data.filters=[[stuff, large], []]"])  # fmt: skip
    assert cfg.optim.focal_alpha == 0.25
    assert cfg.data.filters == (("stuff", "large"), ())
    assert load_config(None, ["optim.focal_alpha=null"]).optim.focal_alpha is None


def test_shipped_recipes_state_their_sources():
    """Each GPU recipe says, per choice, whether it is the paper's, the authors' code's or ours."""
    for name, variant in (("train_sameo_vitt.yaml", "vitt"), ("train_sameo_vits.yaml", "vits")):
        text = (CONFIG_DIR / name).read_text()
        cfg = load_config(CONFIG_DIR / name)
        assert cfg.model.variant == variant and cfg.optim.focal_alpha is None
        assert (cfg.optim.lr, cfg.optim.batch_size, cfg.run.steps) == (1e-4, 32, 40000)
        for origin in ("[paper", "[authors' code", "[ours"):
            assert origin in text, (name, origin)


def test_overrides_types_and_nesting(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 0.001\ndata:\n  sources: [shapes]\n")
    cfg = load_config(path, ["optim.lr=3e-4", "run.steps=12", "data.sources=[a:b, shapes]",
                             "model.config={img_size: 64}", "optim.warmup_steps=5"])
    assert cfg.optim.lr == pytest.approx(3e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.run.steps == 12
    assert cfg.data.sources == ("a:b", "shapes")
    assert cfg.model.config == {"img_size": 64}
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x"]) == {"a": {"b": 1, "c": "x"}}


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        (["optim.lr_typo=1"], ValueError, "unknown keys"),
        (["run.steps=many"], TypeError, "expected int"),
        (["optim.schedule=linear"], ValueError, "schedule"),
        (["no_equals_sign"], ValueError, "key=value"),
        (["run.cache_embeddings=/tmp/x", "model.train_image_encoder=true"], ValueError, "frozen"),
        (["optim.batch_unit=pixels"], ValueError, "batch_unit"),
        (["optim.focal_alpha=strong"], TypeError, "expected float"),
        (["model.heads=[visible]"], ValueError, "model.heads"),
        (["model.heads=[]"], ValueError, "model.heads"),
        (["model.heads=[modal, modal]"], ValueError, "model.heads"),
    ],
)
def test_bad_overrides_are_rejected(overrides, error, match):
    with pytest.raises(error, match=match):
        load_config(None, overrides)
