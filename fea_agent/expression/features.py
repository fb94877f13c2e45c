"""The per-face feature vector the learned expression model reads: what perception already measured, in numbers.

Version 2 (:data:`FEATURE_VERSION`) concatenates, in this order (:func:`feature_names` lists every column):

- ``bs:<name>``: MediaPipe's 52 blendshape scores (0-1), in sorted name order;
- ``au_p:<AU>`` and ``au_i:<AU>``: the AU probabilities (0-1) and intensities (0-5, divided by 5) of
  :mod:`fea_agent.perception.blendshape_aus`, in catalogue order;
- ``geo:<name>``: landmark geometry in a head-fixed frame (see :func:`geometry`), in units of the distance
  between the outer eye corners, so that face size, position and head rotation drop out;
- ``pose:<yaw|pitch|roll>``: head pose in degrees / 45 and their absolute values (a turned head changes what the
  other features mean);
- ``tex:<patch>:<i>``: the skin's texture at the lip corners, cheeks and lower lip
  (:mod:`fea_agent.expression.texture`), which shows closed-lip smiles that the mesh and the small appearance
  CNN miss;
- ``proto:<label>``: the log of the FACS prototypes' distribution over the eight labels
  (:func:`fea_agent.reasoning.facs.au_view`: all core AUs needed, supporting ones add, contradicting ones
  subtract), a non-linear summary of the AUs a linear model cannot form itself;
- ``app:<label>``: the appearance CNN's log-probabilities for its seven labels (floored at 1e-4);
- ``pool:<label>``: the log of the prototypes pooled with the appearance view (:func:`~fea_agent.reasoning.facs.fuse`);
- ``emb:<i>``: the appearance backend's embedding (the default's: the FER CNN's 128 numbers, then face-api.js's
  256), when the model uses it.

A face without a mesh has no vector (the quality gate makes it abstain anyway). A face without an appearance
output (or without the image, for the texture) gets the training means for those columns (after
standardisation: zeros), so the model falls back on the other evidence. The embedding columns come last, so a
row without them is a prefix of one with them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict

import numpy as np

from fea_agent.expression.texture import TEXTURE_SIZE, mouth_texture, texture_names
from fea_agent.perception.fer import FER_LABELS
from fea_agent.perception.mediapipe_mesh import BLENDSHAPE_NAMES
from fea_agent.results import EXPRESSION_LABELS, Face

FEATURE_VERSION = "2"

#: MediaPipe's 52 blendshape names (ARKit's 51 and ``_neutral``), sorted (the blendshape model's own order).
BLENDSHAPES: tuple[str, ...] = tuple(sorted(BLENDSHAPE_NAMES))
#: The appearance CNN's labels, in this package's words (the FER CNN's seven; contempt it never outputs).
APPEARANCE_LABELS: tuple[str, ...] = FER_LABELS

# MediaPipe face-mesh indices (the subject's right is the image's left).
_EYE_OUT_R, _EYE_OUT_L, _EYE_IN_R, _EYE_IN_L = 33, 263, 133, 362
_LID_UP_R, _LID_LO_R, _LID_UP_L, _LID_LO_L = 159, 145, 386, 374
_BROW_IN_R, _BROW_MID_R, _BROW_OUT_R = 55, 105, 46
_BROW_IN_L, _BROW_MID_L, _BROW_OUT_L = 285, 334, 276
_MOUTH_R, _MOUTH_L, _LIP_TOP, _LIP_BOTTOM, _LIP_IN_UP, _LIP_IN_LO = 61, 291, 0, 17, 13, 14
_LOWER_LIP_R, _LOWER_LIP_L = 84, 314
_FOREHEAD, _SUBNASALE, _NOSE_TIP, _ALA_R, _ALA_L, _CHIN = 10, 2, 1, 98, 327, 152

GEOMETRY: tuple[str, ...] = (
    "mouth_width",
    "lips_gap",
    "mouth_height",
    "corner_lift_r",
    "corner_lift_l",
    "corner_asymmetry",
    "corner_below_nose_r",
    "corner_below_nose_l",
    "upper_lip_below_nose",
    "chin_below_nose",
    "brow_inner_raise_r",
    "brow_inner_raise_l",
    "brow_mid_raise_r",
    "brow_mid_raise_l",
    "brow_outer_raise_r",
    "brow_outer_raise_l",
    "brow_inner_gap",
    "eye_open_r",
    "eye_open_l",
    "lower_lid_r",
    "lower_lid_l",
    "nose_width",
    "nose_to_lip",
    "corner_depth_r",
    "corner_depth_l",
    "corners_above_lower_lip",
    "lower_lip_curve",
)


def head_frame(landmarks: np.ndarray) -> np.ndarray | None:
    """The mesh in a head-fixed frame: origin between the outer eye corners, x towards the subject's left eye,
    y up towards the forehead, z out of the face, unit = the outer-eye-corner distance; None when degenerate.

    The frame is built from points that expressions barely move (eye corners, forehead, the base of the nose),
    so the signed heights below (a lip corner above the lip midline, a brow above the eye) keep their meaning
    when the head turns or tilts. MediaPipe's z is in the same pixel scale as x and y, so the frame is 3-D.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :3] * np.array(
        [1.0, -1.0, -1.0]
    )  # y up, z towards camera
    right, left = pts[_EYE_OUT_R], pts[_EYE_OUT_L]
    span = float(np.linalg.norm(left - right))
    if span < 1e-6:
        return None
    x = (left - right) / span
    up = pts[_FOREHEAD] - pts[_SUBNASALE]
    y = up - (up @ x) * x
    if np.linalg.norm(y) < 1e-6:
        return None
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    return ((pts - (left + right) / 2) @ np.stack([x, y, z], axis=1)) / span


def geometry(landmarks: np.ndarray) -> np.ndarray:
    """The :data:`GEOMETRY` measures (eye-span units, heights signed: > 0 is higher on the face)."""
    p = head_frame(landmarks)
    if p is None:
        return np.zeros(len(GEOMETRY))

    def dist(a: int, b: int) -> float:
        return float(np.linalg.norm(p[a] - p[b]))

    def height(a: int, b: int) -> float:  # how far a is above b
        return float(p[a, 1] - p[b, 1])

    mid_lip = (p[_LIP_IN_UP, 1] + p[_LIP_IN_LO, 1]) / 2
    lift_r, lift_l = p[_MOUTH_R, 1] - mid_lip, p[_MOUTH_L, 1] - mid_lip
    eye_w_r, eye_w_l = max(dist(_EYE_OUT_R, _EYE_IN_R), 1e-6), max(dist(_EYE_OUT_L, _EYE_IN_L), 1e-6)
    eye_line_r = (p[_EYE_OUT_R, 1] + p[_EYE_IN_R, 1]) / 2
    eye_line_l = (p[_EYE_OUT_L, 1] + p[_EYE_IN_L, 1]) / 2
    values = (
        dist(_MOUTH_R, _MOUTH_L),
        dist(_LIP_IN_UP, _LIP_IN_LO),
        dist(_LIP_TOP, _LIP_BOTTOM),
        lift_r,
        lift_l,
        abs(lift_r - lift_l),
        height(_SUBNASALE, _MOUTH_R),
        height(_SUBNASALE, _MOUTH_L),
        height(_SUBNASALE, _LIP_TOP),
        height(_SUBNASALE, _CHIN),
        height(_BROW_IN_R, _EYE_IN_R),
        height(_BROW_IN_L, _EYE_IN_L),
        height(_BROW_MID_R, _LID_UP_R),
        height(_BROW_MID_L, _LID_UP_L),
        height(_BROW_OUT_R, _EYE_OUT_R),
        height(_BROW_OUT_L, _EYE_OUT_L),
        dist(_BROW_IN_R, _BROW_IN_L),
        dist(_LID_UP_R, _LID_LO_R) / eye_w_r,
        dist(_LID_UP_L, _LID_LO_L) / eye_w_l,
        float(p[_LID_LO_R, 1] - eye_line_r),
        float(p[_LID_LO_L, 1] - eye_line_l),
        dist(_ALA_R, _ALA_L),
        height(_NOSE_TIP, _LIP_TOP),
        # A smile pulls the lip corners back into the face (z < 0) and above the lower lip's middle, and
        # curves the lower lip: these hold even for closed-lip smiles that barely move the smile blendshape.
        float(p[_MOUTH_R, 2]),
        float(p[_MOUTH_L, 2]),
        float((p[_MOUTH_R, 1] + p[_MOUTH_L, 1]) / 2 - p[_LIP_IN_LO, 1]),
        float(p[_LIP_BOTTOM, 1] - (p[_LOWER_LIP_R, 1] + p[_LOWER_LIP_L, 1]) / 2),
    )
    return np.array(values, dtype=np.float64)


def feature_names(*, embedding: int) -> list[str]:
    """Column names of :func:`face_features`, in order, with ``embedding`` embedding columns (0: none)."""
    from fea_agent.perception.blendshape_aus import AU_FROM_BLENDSHAPES

    names = [f"bs:{b}" for b in BLENDSHAPES]
    names += [f"au_p:{au}" for au in AU_FROM_BLENDSHAPES] + [f"au_i:{au}" for au in AU_FROM_BLENDSHAPES]
    names += [f"geo:{g}" for g in GEOMETRY]
    names += [f"pose:{a}" for a in ("yaw", "pitch", "roll")] + [
        f"pose:abs_{a}" for a in ("yaw", "pitch", "roll")
    ]
    names += texture_names()
    names += [f"proto:{label}" for label in EXPRESSION_LABELS]
    names += [f"app:{label}" for label in APPEARANCE_LABELS]
    names += [f"pool:{label}" for label in EXPRESSION_LABELS]
    names += [f"emb:{i}" for i in range(embedding)]
    return names


def face_features(
    face: Face,
    appearance_probabilities: dict[str, float] | None,
    embedding: np.ndarray | None = None,
    *,
    embedding_size: int,
    rgb: np.ndarray | None = None,
) -> tuple[np.ndarray, bool] | None:
    """The feature vector of one face and whether its appearance columns were measured (False: they are NaN,
    for the model to fill in); None when the face has no mesh (no landmarks, blendshapes or AUs). The row has
    ``embedding_size`` embedding columns; an embedding of another width is not the view the model learned, so
    the appearance columns are then unmeasured. ``rgb`` is the image the face's landmarks are in, for the
    texture columns (NaN without it)."""
    from fea_agent.perception.blendshape_aus import AU_FROM_BLENDSHAPES
    from fea_agent.reasoning.facs import au_view, fuse

    if not face.landmarks or not face.blendshapes or not face.aus:
        return None
    aus = {a.code: a for a in face.aus}
    landmarks = np.asarray(face.landmarks, dtype=np.float64)  # once: 478 points from a list of lists
    pose = face.head_pose
    angles = [pose.yaw, pose.pitch, pose.roll] if pose is not None else [0.0, 0.0, 0.0]
    parts = [
        [face.blendshapes.get(b, 0.0) for b in BLENDSHAPES],
        [aus[c].probability if c in aus else 0.0 for c in AU_FROM_BLENDSHAPES],
        [aus[c].intensity / 5.0 if c in aus else 0.0 for c in AU_FROM_BLENDSHAPES],
        geometry(landmarks).tolist(),
        [a / 45.0 for a in angles] + [abs(a) / 45.0 for a in angles],
    ]
    texture = mouth_texture(rgb, landmarks) if rgb is not None else None
    parts.append(texture.tolist() if texture is not None else [math.nan] * TEXTURE_SIZE)
    prototypes = au_view({a.code: a.probability for a in face.aus})
    parts.append([math.log(max(prototypes[k], 1e-4)) for k in EXPRESSION_LABELS])
    width = 0 if embedding is None else int(np.asarray(embedding).size)
    measured = bool(appearance_probabilities) and (width == embedding_size or not embedding_size)
    if measured:
        pooled = fuse(prototypes, appearance_probabilities)
        parts.append([math.log(max(appearance_probabilities.get(k, 0.0), 1e-4)) for k in APPEARANCE_LABELS])
        parts.append([math.log(max(pooled[k], 1e-4)) for k in EXPRESSION_LABELS])
        if embedding_size:
            parts.append(np.asarray(embedding, dtype=np.float64).reshape(-1).tolist())
    else:
        unmeasured = len(APPEARANCE_LABELS) + len(EXPRESSION_LABELS) + embedding_size
        parts.append([math.nan] * unmeasured)
    return np.array([v for part in parts for v in part], dtype=np.float64), measured


def au_calibration_digest() -> str:
    """sha256 of the blendshape -> AU calibration table: AU inputs change when it does."""
    from fea_agent.perception import blendshape_aus as au

    table = {code: asdict(cal) for code, cal in au.AU_FROM_BLENDSHAPES.items()}
    extra = [au.GATE_START, au.GATE_FULL, au.LIFT_REST, au.LIFT_FULL, au.LIFT_WEIGHT]
    return hashlib.sha256(json.dumps([table, extra], sort_keys=True).encode()).hexdigest()
