"""Amodal data: unified records, dataset readers, quality filters, Table-1 statistics,
procedural and Amodal-LVIS-style synthetic occlusion, training-time sampling, and synthetic RGB-D
scenes with exact geometry (`rgbd_scenes`).

Nothing here imports a model: completeness checks take a plain callable.
"""

from sameo_core.data.amodal_lvis import SynthConfig, SyntheticPair, synthesize_pair
from sameo_core.data.complete_objects import (
    CompletenessCheck,
    RecordsSource,
    ShapeObjects,
    collect_complete_objects,
)
from sameo_core.data.filters import FilterConfig, FilterReport, apply_filters
from sameo_core.data.procedural_scenes import SceneConfig, SceneInstance, generate_scene
from sameo_core.data.read_report import ReadReport, ReadResult
from sameo_core.data.records import ImageGroup, InstanceRecord, group_by_image
from sameo_core.data.registry import READERS, parse_spec, read_dataset
from sameo_core.data.rgbd_scenes import RgbdScene, RgbdSceneConfig, random_rgbd_scene
from sameo_core.data.sampling import DatasetMixer, PromptBox, PromptConfig, sample_prompt_box
from sameo_core.data.table1 import DatasetStats, dataset_stats

__all__ = [
    "READERS",
    "CompletenessCheck",
    "DatasetMixer",
    "DatasetStats",
    "FilterConfig",
    "FilterReport",
    "ImageGroup",
    "InstanceRecord",
    "PromptBox",
    "PromptConfig",
    "ReadReport",
    "ReadResult",
    "RecordsSource",
    "RgbdScene",
    "RgbdSceneConfig",
    "SceneConfig",
    "SceneInstance",
    "ShapeObjects",
    "SynthConfig",
    "SyntheticPair",
    "apply_filters",
    "collect_complete_objects",
    "dataset_stats",
    "generate_scene",
    "group_by_image",
    "parse_spec",
    "random_rgbd_scene",
    "read_dataset",
    "sample_prompt_box",
    "synthesize_pair",
]
