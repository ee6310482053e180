"""Inference: the batched predictor (box prompts → amodal masks), its mask post-processing (per
box inside its region, or all boxes in one batched device pass), its stage times and host-sync
counter; 3D of the objects from a registered depth image (`depth_lifting`)."""

from .depth_lifting import DepthLifting, LiftingConfig, Object3D, lift_objects
from .predictor import AmodalPredictor, InstancePrediction, Prediction, PredictorConfig
from .stage_times import StageTimes

__all__ = [
    "AmodalPredictor",
    "DepthLifting",
    "InstancePrediction",
    "LiftingConfig",
    "Object3D",
    "Prediction",
    "PredictorConfig",
    "StageTimes",
    "lift_objects",
]
