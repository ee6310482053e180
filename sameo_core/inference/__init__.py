"""Inference: the batched predictor (box prompts → amodal masks) and its mask post-processing;
3D of the objects from a registered depth image (`depth_lifting`)."""

from .depth_lifting import DepthLifting, LiftingConfig, Object3D, lift_objects
from .predictor import AmodalPredictor, InstancePrediction, Prediction, PredictorConfig

__all__ = [
    "AmodalPredictor",
    "DepthLifting",
    "InstancePrediction",
    "LiftingConfig",
    "Object3D",
    "Prediction",
    "PredictorConfig",
    "lift_objects",
]
