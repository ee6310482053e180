"""The shipped demo checkpoint: small, labelled, loadable, and it really segments shapes."""

from pathlib import Path

import numpy as np
import torch

from sameo_core.data.procedural_scenes import SceneConfig, generate_scene
from sameo_core.inference import AmodalPredictor
from sameo_core.model import build_sameo
from training.export_checkpoint import export

DEMO = Path(__file__).resolve().parents[2] / "checkpoints" / "demo" / "sameo_shapes_demo.pt"


_XYWH_TO_XYXY = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1]], float)


def _mean_iou(model, head: str = "amodal", seed: int = 123, scenes: int = 8) -> float:
    predictor = AmodalPredictor(model)
    rng = np.random.default_rng(seed)
    ious = []
    for _ in range(scenes):
        image, instances = generate_scene(rng, SceneConfig(image_size=128))
        predictor.set_image(image)
        boxes = np.array([i.amodal_box for i in instances]) @ _XYWH_TO_XYXY
        for out, inst in zip(predictor.predict(boxes).masks, instances):
            pred = (out.amodal if head == "amodal" else out.visible).paste(128, 128)
            truth = inst.amodal_mask if head == "amodal" else inst.visible_mask
            union = np.logical_or(pred, truth).sum()
            ious.append(np.logical_and(pred, truth).sum() / max(union, 1))
    return float(np.mean(ious))


def test_demo_checkpoint_is_small_labelled_and_loads():
    assert DEMO.stat().st_size < 6_000_000  # two float16 decoders and the encoder
    meta = torch.load(DEMO, map_location="cpu", weights_only=True)["sameo"]
    assert "synthetic shapes only" in meta["note"]
    assert meta["heads"] == ["amodal", "modal", "order"]  # the order head: README
    model = build_sameo(checkpoint=DEMO)
    assert model.config.img_size == 128 and model.has_modal_head and model.has_order_head


def test_demo_modal_head_has_learned_visible_masks():
    torch.set_num_threads(1)
    trained = build_sameo(checkpoint=DEMO)
    torch.manual_seed(0)
    untrained = build_sameo(config=trained.config, modal_head=True)
    visible, before = _mean_iou(trained, "visible"), _mean_iou(untrained, "visible")
    assert visible > 0.65 and before < 0.3, (visible, before)


def test_demo_checkpoint_has_learned():
    torch.set_num_threads(1)
    trained = _mean_iou(build_sameo(checkpoint=DEMO))
    torch.manual_seed(0)
    untrained = _mean_iou(build_sameo(config=build_sameo(checkpoint=DEMO).config))
    assert trained > 0.7 and untrained < 0.3, (trained, untrained)


def test_export_halves_and_drops_training_state(tmp_path):
    torch.manual_seed(0)
    from sameo_core.training.state import save_training_state

    model = build_sameo(variant="test")
    optimizer = torch.optim.Adam(model.parameters())
    src, dst = tmp_path / "state.pt", tmp_path / "small.pt"
    save_training_state(src, model, optimizer, None, 7, {"run": {}})
    export(src, dst, half=True, note="test")
    state = torch.load(dst, map_location="cpu", weights_only=True)
    assert set(state) == {"model", "sameo"} and state["sameo"]["step"] == 7
    assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())
    loaded = build_sameo(checkpoint=dst)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, atol=2e-3, rtol=1e-3)
