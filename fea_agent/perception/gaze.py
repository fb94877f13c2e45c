"""Gaze of both eyes together from MediaPipe's iris landmarks and the head pose, in degrees.

For each eye, the iris centre's offset from the eye's centre is measured along the line through the eye
corners (horizontal) and across it (vertical), in units of the eye's corner-to-corner width. The iris centre
turns on a circle of about 0.4 eye widths (an eyeball of 12 mm radius, the iris plane about 10 mm from its
centre, a 28-30 mm palpebral fissure), so the eye-in-head angle is ``asin(offset / 0.4)``. The two eyes are
averaged, less a fixed vertical offset (on faces looking into the camera the iris centre sits about 3.5 degrees
above the lids' midpoint: the webmorph and pexels_neutral photos of ../shared/data), and the head pose is
added (small-angle sum). Signs as :class:`~fea_agent.results.Gaze` and
:class:`~fea_agent.results.HeadPose`: yaw > 0 towards the image's right, pitch > 0 up. The vertical angle is the
rougher one (the upper lid covers part of the iris); treat both as a few degrees' accuracy at best.
"""

from __future__ import annotations

import math

import numpy as np

#: MediaPipe Face Landmarker indices, per eye: image-left corner, image-right corner, upper lid, lower lid,
#: iris centre (the 478-point model; 468-477 are the irises).
EYES: tuple[tuple[int, int, int, int, int], ...] = (
    (33, 133, 159, 145, 468),  # the subject's right eye (image left in an unmirrored photo)
    (362, 263, 386, 374, 473),  # the subject's left eye
)
#: Radius of the iris centre's circle of rotation, in eye widths.
ROTATION_RADIUS = 0.4
#: Eye-in-head pitch of an eye looking straight ahead, as this measure reads it (see the module docstring).
PITCH_AT_REST = 3.5


def eye_in_head(landmarks: np.ndarray) -> tuple[float, float] | None:
    """(yaw, pitch) of the eyes relative to the head, in degrees; None without iris landmarks."""
    if len(landmarks) < 478:
        return None
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    yaws, pitches = [], []
    for left, right, upper, lower, iris in EYES:
        axis = xy[right] - xy[left]
        width = float(np.hypot(*axis))
        if width < 1e-6:
            return None
        u = axis / width
        down = np.array([-u[1], u[0]])  # image y grows downwards
        centre_h = (xy[left] + xy[right]) / 2
        centre_v = (xy[upper] + xy[lower]) / 2
        h = float(np.dot(xy[iris] - centre_h, u)) / (ROTATION_RADIUS * width)
        v = -float(np.dot(xy[iris] - centre_v, down)) / (ROTATION_RADIUS * width)
        yaws.append(math.degrees(math.asin(max(-1.0, min(1.0, h)))))
        pitches.append(math.degrees(math.asin(max(-1.0, min(1.0, v)))))
    return float(np.mean(yaws)), float(np.mean(pitches)) - PITCH_AT_REST


def gaze_from_landmarks(
    landmarks: np.ndarray, pose: tuple[float, float, float] | None
) -> tuple[float, float] | None:
    """(yaw, pitch) of the gaze in degrees (head pose plus eye-in-head), or None when either is missing."""
    eyes = eye_in_head(landmarks)
    if eyes is None or pose is None:
        return None
    return pose[0] + eyes[0], pose[1] + eyes[1]
