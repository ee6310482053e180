"""Reading image files as the RGB uint8 arrays every part of sameo works on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_image_rgb(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 [H, W, 3] (greyscale is expanded, alpha dropped).

    Raises FileNotFoundError when the file is missing or not a readable image.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        reason = "no such file" if not Path(path).is_file() else "not a readable image"
        raise FileNotFoundError(f"cannot read image {path}: {reason}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
