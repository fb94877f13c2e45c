"""OpenFace 2.x CSV columns: write fea-agent results in them, and read OpenFace's own files.

The mapping, column by column, and what has no equivalent, is in ``docs/interchange.md``. In short:

- ``frame`` is 1-based, as OpenFace counts; ``face_id``, ``timestamp`` (seconds) as OpenFace;
- ``confidence`` is the face detector's score (0-1); ``success`` is 1 when the landmarker fitted the face;
- ``gaze_angle_x/y`` in radians, camera frame: x > 0 looking towards the image's right, y > 0 looking down;
- ``pose_Tx/Ty/Tz``: the head's position in millimetres from the camera, *estimated* (see
  :func:`head_translation`); ``pose_Rx/Ry/Rz``: pitch, yaw, roll in radians in OpenFace's right-handed camera
  frame (x right, y down, z away from the camera): Rx > 0 head pitched down, Ry > 0 turned towards the image's
  left, Rz > 0 tilted clockwise in the image;
- ``x_0..x_67``, ``y_0..y_67``: the iBUG 68 points in pixels, taken from MediaPipe's 478 (:data:`IBUG68`);
- ``AUxx_r`` intensity 0-5 and ``AUxx_c`` presence 0/1.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fea_agent.facs.catalogue import REPORTED_AUS
from fea_agent.interchange.tables import read_table
from fea_agent.perception.gaze import gaze_from_landmarks
from fea_agent.results import Face, ImageResult

if TYPE_CHECKING:
    import pandas as pd

#: For each iBUG-68 point (0-based, as OpenFace and py-feat number them), the MediaPipe landmarks whose mean
#: stands for it. Jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67; "right"
#: is the subject's right, on the image's left. Following the correspondence Peizhi Yan published
#: (github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks). MediaPipe's contour runs along the face's visible
#: outline, iBUG's along the jaw bone, so jaw points differ most (a few per cent of the face width).
IBUG68: tuple[tuple[int, ...], ...] = (
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    (70,), (63,), (105,), (66,), (107,),
    (336,), (296,), (334,), (293,), (300,),
    (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,),
    (33,), (160,), (158,), (133,), (153,), (144,),
    (362,), (385,), (387,), (263,), (373,), (380,),
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,),
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
)  # fmt: skip

#: Mean adult distance between the outer eye corners (exocanthion to exocanthion), millimetres.
OUTER_EYE_CORNERS_MM = 90.0

#: fea-agent's AUs in OpenFace's order (OpenFace 2 estimates 01 02 04 05 06 07 09 10 12 14 15 17 20 23 25 26
#: 45, and 28 as presence only; 18, 22, 24 and 43 are ours alone, 28 and 45 are OpenFace's alone).
AU_CODES = REPORTED_AUS

COLUMNS: tuple[str, ...] = (
    "frame",
    "face_id",
    "timestamp",
    "confidence",
    "success",
    "gaze_angle_x",
    "gaze_angle_y",
    "pose_Tx",
    "pose_Ty",
    "pose_Tz",
    "pose_Rx",
    "pose_Ry",
    "pose_Rz",
    *(f"x_{i}" for i in range(68)),
    *(f"y_{i}" for i in range(68)),
    *(f"{code}_r" for code in AU_CODES),
    *(f"{code}_c" for code in AU_CODES),
)


def landmarks_68(landmarks: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """The iBUG 68 points, (68, 2) in pixels, from MediaPipe's 478 landmarks."""
    lm = np.asarray(landmarks, dtype=float)[:, :2]
    return np.array([lm[list(indices)].mean(axis=0) for indices in IBUG68])


def focal_length(width: int, height: int) -> float:
    """OpenFace's guess of the focal length in pixels when the camera is not calibrated."""
    return (500.0 * width / 640.0 + 500.0 * height / 480.0) / 2.0


def head_translation(face: Face, width: int, height: int) -> tuple[float, float, float] | None:
    """(Tx, Ty, Tz) of the head in millimetres from the camera, estimated from the landmarks.

    A pinhole camera with OpenFace's default intrinsics (:func:`focal_length`, principal point at the image
    centre) and one assumed size: the outer eye corners 90 mm apart. Their distance is measured in 3-D
    landmark space, so turning the head does not shrink it. Depth follows from the ratio of the two; x and y
    from where the face's centre falls in the image. Expect errors of 10-20 % in depth from head size alone.
    """
    if len(face.landmarks) < 468:
        return None
    lm = np.asarray(face.landmarks, dtype=float)
    span = float(np.linalg.norm(lm[263] - lm[33]))
    if span <= 0:
        return None
    f = focal_length(width, height)
    tz = f * OUTER_EYE_CORNERS_MM / span
    cx, cy = landmarks_68(lm).mean(axis=0)
    return (cx - width / 2) * tz / f, (cy - height / 2) * tz / f, tz


def face_row(face: Face, result: ImageResult, index: int) -> dict[str, Any]:
    """One OpenFace row for one face."""
    frame = result.frame_index if result.frame_index is not None else 0
    row: dict[str, Any] = {
        "frame": frame + 1,
        "face_id": face.face_id if face.face_id is not None else index,
        "timestamp": result.timestamp_s if result.timestamp_s is not None else 0.0,
        "confidence": face.score,
        "success": int(face.quality.landmarks_found),
    }
    pose = face.head_pose
    gaze = (face.gaze.yaw, face.gaze.pitch) if face.gaze is not None else None
    if gaze is None and face.landmarks:
        gaze = gaze_from_landmarks(face.landmarks, (pose.yaw, pose.pitch) if pose is not None else None)
    if gaze is not None:
        row["gaze_angle_x"] = math.radians(gaze[0])
        row["gaze_angle_y"] = -math.radians(gaze[1])
    translation = head_translation(face, result.image.width, result.image.height)
    if translation is not None:
        row["pose_Tx"], row["pose_Ty"], row["pose_Tz"] = translation
    if pose is not None:
        row["pose_Rx"] = -math.radians(pose.pitch)
        row["pose_Ry"] = -math.radians(pose.yaw)
        row["pose_Rz"] = math.radians(pose.roll)
    if len(face.landmarks) >= 468:
        points = landmarks_68(face.landmarks)
        row.update({f"x_{i}": float(x) for i, x in enumerate(points[:, 0])})
        row.update({f"y_{i}": float(y) for i, y in enumerate(points[:, 1])})
    for au in face.aus:
        row[f"{au.code}_r"] = au.intensity
        row[f"{au.code}_c"] = int(au.present)
    return row


def openface_rows(result: ImageResult) -> list[dict[str, Any]]:
    """The OpenFace rows of one frame or photo: one per face; a frame without a face gives one row with
    ``success`` 0, as OpenFace writes it. Each row also carries ``source`` (not an OpenFace column; writers
    leave it out unless asked)."""
    if not result.faces:
        frame = result.frame_index if result.frame_index is not None else 0
        timestamp = result.timestamp_s if result.timestamp_s is not None else 0.0
        row = {"frame": frame + 1, "face_id": 0, "timestamp": timestamp, "confidence": 0.0, "success": 0}
        return [{"source": result.source, **row}]
    return [{"source": result.source, **face_row(face, result, i)} for i, face in enumerate(result.faces)]


def to_openface(results: Iterable[ImageResult]) -> pd.DataFrame:
    """A DataFrame in OpenFace's columns (:data:`COLUMNS`), one row per face per frame."""
    import pandas as pd

    rows = [row for result in results for row in openface_rows(result)]
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


def write_openface(results: Iterable[ImageResult], path: str | os.PathLike[str]) -> int:
    """Write an OpenFace CSV (streamed: an iterator of video frames is consumed as it goes); rows written."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for result in results:
            for row in openface_rows(result):
                writer.writerow(row)
                count += 1
    return count


def read_openface(path: str | os.PathLike[str]) -> pd.DataFrame:
    """An OpenFace 2.x CSV (OpenFace's own, or ``--format openface``) as a DataFrame with clean column names.

    OpenFace writes ``", "`` between fields; the spaces are dropped. A file of another kind (py-feat's,
    fea-agent's own table, not a table) is an :class:`~fea_agent.errors.InvalidInputError` that says what it is.
    ``frame.fex.aus`` and the other accessors (:mod:`fea_agent.interchange.fex`) compare it with fea-agent's or
    py-feat's output.
    """
    return read_table(path, kinds=("openface",), what="an OpenFace 2.x table")
