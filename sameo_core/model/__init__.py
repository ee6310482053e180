"""The SAMEO network (EfficientSAM architecture) and its builders."""

from .attention import naive_attention
from .build import build_sameo
from .config import SAMEO_CONFIGS, SameoConfig, get_config
from .sameo import Sameo

__all__ = ["SAMEO_CONFIGS", "Sameo", "SameoConfig", "build_sameo", "get_config", "naive_attention"]
