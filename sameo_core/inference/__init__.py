"""Inference: the batched predictor (box prompts → amodal masks) and its mask post-processing."""

from .predictor import AmodalPredictor, InstancePrediction, Prediction, PredictorConfig

__all__ = ["AmodalPredictor", "InstancePrediction", "Prediction", "PredictorConfig"]
