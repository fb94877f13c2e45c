"""Cropping a detector's box out of an image, for the models trained on tight face crops."""

from __future__ import annotations

import math

import numpy as np

Box = tuple[float, float, float, float]  # x, y, width, height in pixels


def crop_box(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The box's pixels, clipped to the image (the whole image when the box lies outside it)."""
    x, y, w, h = box
    height, width = rgb.shape[:2]
    x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
    x1, y1 = min(width, math.ceil(x + w)), min(height, math.ceil(y + h))
    return rgb[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else rgb
