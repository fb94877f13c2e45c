"""py-feat's CSV files (``Fex.to_csv``, 0.x to 2.x): read them into a DataFrame the ``.fex`` accessor converts.

The version is told from the columns (:func:`fea_agent.interchange.tables.detect`). The table keeps py-feat's
own columns and values; ``frame.fex`` gives them in fea-agent's names, units and signs:

- py-feat 0.x/1.x: ``FaceRectX/Y/Width/Height``, ``FaceScore``, ``x_0..x_67``/``y_0..y_67`` (pixels),
  ``Pitch, Roll, Yaw`` in degrees (img2pose), ``AU01..AU43`` (probabilities 0-1), ``anger, disgust, fear,
  happiness, sadness, surprise, neutral``, ``input``, ``frame``;
- py-feat 2.x: the same box and 68 points, the 478-point mesh, 52 blendshapes, ``Pitch, Roll, Yaw`` and
  ``X, Y, Z`` with the angles in radians, ``gaze_pitch, gaze_yaw`` (radians, relative to the head),
  ``Neutral, Happy, Sad, Surprise, Fear, Disgust, Anger``, ``FrameHeight, FrameWidth``, ``approx_time``.

py-feat's angles: pitch > 0 up and yaw > 0 turned towards the subject's right (its ``feat/detector_v2.py``,
which maps 2.x onto 1.x's convention), so yaw is negated into fea-agent's (> 0 towards the image's right); roll
is kept, since on py-feat's own ``single_face.jpg`` its ``Feat_Test.csv`` says roll -1.9 where fea-agent
measures -2.0 (and yaw 4.9 where fea-agent measures -6.9). Gaze: yaw > 0 towards the subject's left, pitch > 0
up, relative to the head. The mapping to fea-agent's columns is in ``docs/interchange.md``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fea_agent.interchange.tables import read_table

if TYPE_CHECKING:
    import pandas as pd

#: py-feat's AU set (1.x's xgb and svm models; 2.x's too).
AU_CODES: tuple[str, ...] = tuple(
    f"AU{n:02d}" for n in (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 17, 20, 23, 24, 25, 26, 28, 43)
)
BOX_COLUMNS: tuple[str, ...] = ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore")
POSE_COLUMNS: tuple[str, ...] = ("Pitch", "Roll", "Yaw")


def read_pyfeat(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A py-feat CSV (0.x/1.x or 2.x, told from its columns) as a DataFrame; ``frame.fex.source`` says which.

    A file of another kind (an OpenFace table, fea-agent's own, not a table) is an
    :class:`~fea_agent.errors.InvalidInputError` that says what it is and which reader takes it."""
    return read_table(path, kinds=("pyfeat-1", "pyfeat-2"), what="a py-feat table")
