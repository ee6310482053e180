"""Amodal tracks with object permanence (README, "Object permanence (tracking)"): the tracker
(`tracker.py`, whose docstring is the interface for the ROS node), its states and outputs
(`track_states.py`), association (`association.py`), motion model (`motion.py`) and settings
(`tracker_config.py`). Layer 3: above `inference/`, below `evaluation/`."""

from .track_states import (
    DetectionInfo,
    EndReason,
    Reprompt,
    TrackerResult,
    TrackOutput,
    TrackState,
)
from .tracker import AmodalTracker
from .tracker_config import TrackerConfig

__all__ = ["AmodalTracker", "DetectionInfo", "EndReason", "Reprompt", "TrackOutput",
           "TrackState", "TrackerConfig", "TrackerResult"]
