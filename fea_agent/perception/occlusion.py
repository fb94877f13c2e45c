"""A hand (or anything else) across the lower face, seen in the pixels the face mesh covers.

The landmark model fits a whole face under a hand and stays confident when only the mouth is covered: on the
shared clip its presence logit stays above 12 for the 3.5 s a hand is held over the mouth and nose with the
eyes open, and the mouth's blendshapes (and so AU12, AU25 and the expression) describe a mouth that is not
seen. The skin of a face is smooth, and its edges (lips, nasolabial folds, teeth, jaw) are balanced between
horizontal and vertical; fingers held across it are long straight edges of one orientation. So the ratio of
the mean vertical-edge to horizontal-edge strength inside the lower face (jaw line to nose tip), measured on a
crop scaled to a fixed width, says when something lies across the mouth: 0.91-1.06 on the clip's uncovered
frames (crying and laughing, turned up to 25°), 1.3-1.8 under upright fingers, about 0.8 under a hand held
flat across the mouth. Photos of many people spread too widely for the flat hand (0.5-1.9 on 300 in-the-wild
photos), so a video face is also measured against its own earlier frames (:class:`CoverWatch`); the limits
are :data:`fea_agent.perception.quality.MAX_EDGE_BALANCE` and :data:`~fea_agent.perception.quality.MAX_EDGE_CHANGE`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from fea_agent.perception.quality import lower_face_covered

#: Face-mesh points around the lower face: cheek to cheek along the jaw, closed at the nose tip.
LOWER_FACE = (
    234,
    93,
    132,
    58,
    172,
    136,
    150,
    149,
    176,
    148,
    152,
    377,
    400,
    378,
    379,
    365,
    397,
    288,
    361,
    323,
    454,
    1,
)
#: The lower face is measured on a crop of this width (pixels), whatever the face's size.
CROP_WIDTH = 96
#: Seconds over which a video face's own edge level follows its uncovered frames.
LEVEL_TAU_S = 5.0


def edge_balance(rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
    """log(mean |d/dx| / mean |d/dy|) of the grey levels inside the lower face (0: balanced), or None when
    the region is too small or outside the image."""
    xy = np.asarray(landmarks, dtype=np.float32)[list(LOWER_FACE), :2]
    x0, y0 = np.floor(xy.min(axis=0)).astype(int)
    x1, y1 = np.ceil(xy.max(axis=0)).astype(int)
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    scale = CROP_WIDTH / (x1 - x0)
    size = (CROP_WIDTH, max(8, round((y1 - y0) * scale)))
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    mask = np.zeros(grey.shape, np.uint8)
    cv2.fillPoly(mask, [np.round((xy - (x0, y0)) * scale).astype(np.int32)], 1)
    inside = mask.astype(bool)
    if inside.sum() < 64:
        return None
    gx = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0))[inside].mean()
    gy = np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))[inside].mean()
    if gx <= 0 or gy <= 0:
        return None
    return float(math.log(gx / gy))


class CoverWatch:
    """One video face's lower-face edge balance over time: its own level is a slow average (time constant
    ``tau_s``) of the frames not found covered, so a hand arriving is measured against the face without it."""

    def __init__(self, tau_s: float = LEVEL_TAU_S) -> None:
        self.tau_s = tau_s
        self.level: float | None = None
        self._last_s: float | None = None

    def covered(self, rgb: np.ndarray, landmarks: np.ndarray, t: float, *, unsure: bool = False) -> bool:
        """Whether the face is covered in this frame; ``unsure``: the landmark model already doubts the face
        (then its edges do not update the face's own level)."""
        balance = edge_balance(rgb, landmarks)
        if balance is None:
            return False
        if self.level is None:
            if unsure:
                return lower_face_covered(balance, None)
            self.level = balance
        covered = lower_face_covered(balance, self.level)
        if not covered and not unsure:
            dt = t - self._last_s if self._last_s is not None else 0.0
            self.level += (1.0 - math.exp(-max(dt, 0.0) / self.tau_s)) * (balance - self.level)
        self._last_s = t
        return covered
