"""Skin texture around the mouth: gradient histograms (HOG) at the lip corners, the cheeks and the lower lip.

A closed-lip smile barely moves the face mesh or the smile blendshape (both are regularised towards a typical
face), and the 48x48 appearance CNN calls most of them neutral; what does change is the skin: the creases at
the lip corners, the bulge of the cheeks, the lower lip stretched flat. The same texture separates the other
expressions' lower faces (a raised upper lip in disgust, a pressed chin in sadness).

The face is first aligned on the outer eye corners (:data:`ALIGNED_SIDE` pixels, the eyes :data:`EYE_SPAN`
apart), so patches have one size in face units whatever the photo's resolution and roll. Each patch is
:data:`PATCH_SIDE` pixels square around a mesh landmark, described by OpenCV's HOG (16-pixel cells, 2x2-cell
blocks, 9 orientations: 4 blocks x 36 = 144 numbers). The subject's left patch is mirrored and averaged with the
right one, so the numbers describe the movement, not which side of the face leans towards the camera.
"""

from __future__ import annotations

import cv2
import numpy as np

#: (subject's right, subject's left) MediaPipe face-mesh landmarks at the centre of each patch pair.
PATCHES: tuple[tuple[str, int, int], ...] = (
    ("lip_corner", 61, 291),
    ("cheek", 205, 425),
    ("lower_lip", 84, 314),
)
_CENTRES = [i for _, right, left in PATCHES for i in (right, left)]
_EYE_OUT_R, _EYE_OUT_L = 33, 263
ALIGNED_SIDE = 256
EYE_SPAN = 112.0  # pixels between the outer eye corners in the aligned face
_EYE_ROW = 88
_EYES_AT = np.float32([[(ALIGNED_SIDE - EYE_SPAN) / 2, _EYE_ROW], [(ALIGNED_SIDE + EYE_SPAN) / 2, _EYE_ROW]])
#: The rows of the aligned face that the patches can reach (the mouth region, below the eyes).
_BAND = (_EYE_ROW, ALIGNED_SIDE)
#: Side of the area around a landmark, in aligned pixels, and the side it is resampled to for HOG.
PATCH_SPAN = 64.0
PATCH_SIDE = 48
_CELL = 16
_HOG = cv2.HOGDescriptor((PATCH_SIDE, PATCH_SIDE), (2 * _CELL, 2 * _CELL), (_CELL, _CELL), (_CELL, _CELL), 9)
PER_PATCH = int(_HOG.getDescriptorSize())
TEXTURE_SIZE = PER_PATCH * len(PATCHES)


def texture_names() -> list[str]:
    """Column names of :func:`mouth_texture`."""
    return [f"tex:{name}:{i}" for name, _, _ in PATCHES for i in range(PER_PATCH)]


def mouth_texture(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """The :data:`TEXTURE_SIZE` HOG numbers of one face (RGB uint8 image, mesh landmarks in its pixels);
    None when the eye corners coincide (no alignment)."""
    points = np.asarray(landmarks, dtype=np.float32)[:, :2]
    eyes = np.float32([points[_EYE_OUT_R], points[_EYE_OUT_L]])
    if float(np.linalg.norm(eyes[1] - eyes[0])) < 1.0:
        return None
    align, _ = cv2.estimateAffinePartial2D(eyes, _EYES_AT)
    if align is None:
        return None
    # Only the band of the aligned face that the patches cover is resampled (rows _BAND[0] to _BAND[1]).
    band = align.copy()
    band[1, 2] -= _BAND[0]
    face = cv2.warpAffine(rgb, band, (ALIGNED_SIDE, _BAND[1] - _BAND[0]), flags=cv2.INTER_AREA)
    gray = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    centres = points[_CENTRES] @ band[:, :2].T.astype(np.float32) + band[:, 2].astype(np.float32)
    # The patches side by side in one strip, one HOG call for all (the call's overhead dominates its cost).
    strip = np.empty((PATCH_SIDE, PATCH_SIDE * len(centres)), dtype=np.uint8)
    for i, centre in enumerate(centres):
        strip[:, i * PATCH_SIDE : (i + 1) * PATCH_SIDE] = _patch(gray, centre, mirror=i % 2 == 1)
    hog = _HOG.compute(strip, winStride=(PATCH_SIDE, PATCH_SIDE)).reshape(len(centres), PER_PATCH)
    return ((hog[0::2] + hog[1::2]) / 2.0).ravel().astype(np.float64)


def _patch(gray: np.ndarray, centre: np.ndarray, *, mirror: bool) -> np.ndarray:
    scale = PATCH_SIDE / PATCH_SPAN
    x0, y0 = float(centre[0]) - PATCH_SPAN / 2, float(centre[1]) - PATCH_SPAN / 2
    m = np.float32([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    patch = cv2.warpAffine(
        gray, m, (PATCH_SIDE, PATCH_SIDE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    return np.ascontiguousarray(patch[:, ::-1]) if mirror else patch
