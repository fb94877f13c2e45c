"""Gaze from MediaPipe's iris landmarks: where the eyes point, from the iris centre's place in the eye.

A geometric estimate, not a learned gaze model. For each eye the iris centre (468 right, 473 left) is
measured against the eye's own axes in 3-D landmark space: horizontally along the corner-to-corner line,
vertically along the line from the upper to the lower lid. The offset, in eye widths, turns into an angle with
an eyeball radius of 0.4 eye widths (an adult eyeball is about 24 mm across and the eye opening about 30 mm
wide). The two eyes are averaged, and the head's own yaw and pitch are added when given, so the result is the
gaze in camera terms, as OpenFace's ``gaze_angle_x/y`` are.

Conventions are the result schema's: degrees, yaw > 0 towards the image's right, pitch > 0 up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: (outer corner, inner corner, upper lid, lower lid, iris centre) for the subject's right and left eye.
EYES: tuple[tuple[int, int, int, int, int], ...] = ((33, 133, 159, 145, 468), (362, 263, 386, 374, 473))
#: Eyeball radius in eye widths (12 mm over a 30 mm eye opening).
EYEBALL_RADIUS = 0.4
#: An eye whose lids are closer than this share of its width is closed: no gaze from it.
MIN_OPENING = 0.08


def _eye_angles(lm: np.ndarray, eye: tuple[int, int, int, int, int]) -> tuple[float, float] | None:
    a, b, upper, lower, iris = (lm[i] for i in eye)
    # Horizontal axis from the eye's image-left corner to its image-right one (outer->inner for the right
    # eye, inner->outer for the left), so both eyes measure towards the image's right.
    across = b - a
    width = float(np.linalg.norm(across))
    down = lower - upper
    opening = float(np.linalg.norm(down))
    if width < 1e-6 or opening < MIN_OPENING * width:
        return None
    centre = (a + b) / 2
    offset = iris - centre
    x = float(offset @ across) / width / width  # eye widths, > 0 towards the image's right
    # Vertical: from the middle of the lids; > 0 downwards in the image.
    lid_middle = (upper + lower) / 2
    y = float((iris - lid_middle) @ (down / opening)) / width
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, x / EYEBALL_RADIUS))))
    pitch = -math.degrees(math.asin(max(-1.0, min(1.0, y / EYEBALL_RADIUS))))
    return yaw, pitch


def gaze_from_landmarks(
    landmarks: Sequence[Sequence[float]] | np.ndarray, head_pose: tuple[float, float] | None = None
) -> tuple[float, float] | None:
    """(yaw, pitch) of the gaze in degrees from 478 MediaPipe landmarks, or None without the iris points
    or with both eyes closed.

    Args:
        landmarks: the face's landmarks, [x, y, z] in pixels (``Face.landmarks``).
        head_pose: (yaw, pitch) of the head in degrees; added so the gaze is relative to the camera. Without
            it the angles are the eyes' turn within the head.
    """
    lm = np.asarray(landmarks, dtype=float)
    if lm.ndim != 2 or lm.shape[0] < 478 or lm.shape[1] < 2:
        return None
    if lm.shape[1] == 2:
        lm = np.column_stack([lm, np.zeros(len(lm))])
    eyes = [angles for eye in EYES if (angles := _eye_angles(lm[:, :3], eye)) is not None]
    if not eyes:
        return None
    yaw = sum(e[0] for e in eyes) / len(eyes)
    pitch = sum(e[1] for e in eyes) / len(eyes)
    if head_pose is not None:
        yaw, pitch = yaw + head_pose[0], pitch + head_pose[1]
    return yaw, pitch
