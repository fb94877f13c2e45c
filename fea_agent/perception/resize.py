"""Downscaling that keeps INTER_AREA's anti-aliasing at a fraction of its cost.

OpenCV's INTER_AREA is fast for integer factors and slow otherwise (11.6 ms against 1.7 ms to bring a 1350 px
photo to 640 px). Shrinking by the largest integer factor with INTER_AREA and finishing the last, less than
2x step bilinearly gives nearly the same pixels (mean difference under 1 grey level). Callers that map
coordinates back and cannot afford the trim of up to ``factor - 1`` pixels pick sizes that are exact multiples
(:func:`fea_agent.perception.mediapipe_tasks.square_crop` does).
"""

from __future__ import annotations

import cv2
import numpy as np


def downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``image`` to ``size`` (width, height); area-averaged when shrinking, bilinear otherwise."""
    height, width = image.shape[:2]
    factor = min(width // max(1, size[0]), height // max(1, size[1]))
    if factor >= 2:
        # The fast path needs an exact factor: drop the last (factor - 1) rows and columns at most.
        image = image[: height - height % factor, : width - width % factor]
        image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    if (image.shape[1], image.shape[0]) == size:
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
