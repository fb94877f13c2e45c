"""The 16 local face regions of FEALLM's Local Clue Aggregator, cut from MediaPipe's 478 landmarks.

Each region is a group of landmark indices around a part of the face where action units show (brows for
AU1/2/4, eye corners for AU6/7, the nose for AU9, mouth corners for AU12/15, the chin for AU17...). Its box is the
group's bounding box with a margin, made square, in coordinates normalised to the face crop (0-1). When no
landmarks are known, a template of boxes for a centred frontal face stands in.
"""

from __future__ import annotations

import numpy as np

#: Region name -> MediaPipe face-mesh landmark indices; 16 regions in a fixed order.
REGIONS: dict[str, tuple[int, ...]] = {
    "forehead": (10, 109, 338, 67, 297, 151, 108, 337),
    "glabella": (9, 8, 168, 107, 336, 55, 285),
    "right_brow": (70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
    "left_brow": (300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
    "right_eye": (33, 133, 159, 145, 160, 144, 158, 153),
    "left_eye": (263, 362, 386, 374, 387, 373, 385, 380),
    "right_eye_corner": (33, 130, 226, 113, 225, 247, 25, 110),
    "left_eye_corner": (263, 359, 446, 342, 445, 467, 255, 339),
    "nose": (6, 197, 195, 5, 4, 1, 98, 327, 129, 358),
    "right_cheek": (50, 101, 118, 117, 123, 187, 205),
    "left_cheek": (280, 330, 347, 346, 352, 411, 425),
    "right_mouth_corner": (61, 146, 91, 185, 40, 57, 43),
    "left_mouth_corner": (291, 375, 321, 409, 270, 287, 273),
    "upper_lip": (0, 37, 267, 13, 82, 312, 39, 269),
    "lower_lip": (17, 84, 314, 14, 87, 317, 181, 405),
    "chin": (152, 148, 377, 175, 199, 200, 171, 396),
}
NUM_REGIONS = len(REGIONS)

#: Boxes (x0, y0, x1, y1, normalised) of the regions on a centred frontal face filling a 1.4x crop.
TEMPLATE_BOXES = np.array(
    [
        (0.36, 0.14, 0.64, 0.30),
        (0.43, 0.27, 0.57, 0.39),
        (0.26, 0.27, 0.46, 0.39),
        (0.54, 0.27, 0.74, 0.39),
        (0.30, 0.34, 0.46, 0.46),
        (0.54, 0.34, 0.70, 0.46),
        (0.22, 0.34, 0.34, 0.50),
        (0.66, 0.34, 0.78, 0.50),
        (0.42, 0.38, 0.58, 0.60),
        (0.26, 0.48, 0.42, 0.64),
        (0.58, 0.48, 0.74, 0.64),
        (0.32, 0.60, 0.46, 0.76),
        (0.54, 0.60, 0.68, 0.76),
        (0.40, 0.58, 0.60, 0.68),
        (0.40, 0.66, 0.60, 0.78),
        (0.40, 0.74, 0.60, 0.88),
    ],
    dtype=np.float32,
)

#: Margin added around each group, as a share of the face's width, and the smallest box side.
MARGIN = 0.04
MIN_SIDE = 0.10


def region_boxes(points: np.ndarray | None) -> np.ndarray:
    """(16, 4) square boxes (x0, y0, x1, y1) in 0-1 crop coordinates from (478, 2+) normalised landmarks.

    ``points`` are landmark x, y already mapped into the crop and divided by its side; None (or fewer than 468
    points) gives :data:`TEMPLATE_BOXES`.
    """
    if points is None or len(points) < 468:
        return TEMPLATE_BOXES.copy()
    xy = np.asarray(points, dtype=np.float32)[:, :2]
    face_width = float(xy[:, 0].max() - xy[:, 0].min())
    margin = MARGIN * max(face_width, 0.2)
    boxes = []
    for indices in REGIONS.values():
        group = xy[list(indices)]
        (x0, y0), (x1, y1) = group.min(axis=0) - margin, group.max(axis=0) + margin
        side = max(x1 - x0, y1 - y0, MIN_SIDE)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        boxes.append((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return np.clip(np.array(boxes, dtype=np.float32), -0.5, 1.5)
