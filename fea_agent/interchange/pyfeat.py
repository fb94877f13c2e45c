"""py-feat's CSV files (``Fex.to_csv``): read them into a DataFrame the ``.fex`` accessor understands.

py-feat's columns: ``FaceRectX/Y/Width/Height`` and ``FaceScore`` (the box), ``x_0..x_67``/``y_0..y_67``
(iBUG 68 landmarks, pixels), ``Pitch, Roll, Yaw`` (degrees, from img2pose), ``AU01..AU43`` (0-1),
``anger, disgust, fear, happiness, sadness, surprise, neutral`` (0-1), ``input``, ``frame`` and, for video,
``approx_time``. The mapping to fea-agent's columns is in ``docs/interchange.md``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: py-feat's default AU set (xgb and svm AU models).
AU_CODES: tuple[str, ...] = tuple(
    f"AU{n:02d}" for n in (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 17, 20, 23, 24, 25, 26, 28, 43)
)
BOX_COLUMNS: tuple[str, ...] = ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore")
POSE_COLUMNS: tuple[str, ...] = ("Pitch", "Roll", "Yaw")


def read_pyfeat(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A py-feat CSV as a DataFrame; a saved pandas index (an unnamed first column) is dropped."""
    import pandas as pd

    frame = pd.read_csv(path)
    first = str(frame.columns[0]) if len(frame.columns) else ""
    if first == "" or first.startswith("Unnamed: 0"):
        frame = frame.drop(columns=frame.columns[0])
    return frame
