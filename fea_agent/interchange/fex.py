"""A py-feat-style view of any table of results: ``frame.fex.aus``, ``.emotions``, ``.landmarks``, ``.poses``,
``.gazes``, on fea-agent's own columns, OpenFace's or py-feat's.

Importing :mod:`fea_agent.interchange` registers the accessor. Each property returns a DataFrame with the same
index as the table and columns named the same whichever tool wrote it, so two tables line up::

    ours, theirs = read_openface("ours.csv"), read_openface("clip_openface.csv")
    ours.fex.aus.corrwith(theirs.fex.aus)   # per AU, frame by frame

Units stay each tool's own where a conversion would guess: AU values are 0-5 intensities from fea-agent and
OpenFace but 0-1 from py-feat (correlations do not mind). Angles become degrees in fea-agent's convention
(yaw > 0 towards the image's right, pitch > 0 up) where the source's convention is documented (OpenFace); py-feat's
``Pitch, Roll, Yaw`` are passed through as they are.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from fea_agent.results import EXPRESSION_LABELS

_AU = re.compile(r"^(AU\d\d)(_r)?$")


def _source(frame: pd.DataFrame) -> str:
    columns = set(frame.columns)
    if {"pose_Rx", "gaze_angle_x"} & columns or any(str(c).endswith("_r") for c in columns):
        return "openface"
    if "FaceRectX" in columns or "Pitch" in columns:
        return "pyfeat"
    return "fea-agent"


@pd.api.extensions.register_dataframe_accessor("fex")
class FexAccessor:
    """py-feat's ``Fex`` attributes for any results table (see the module docstring)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    @property
    def source(self) -> str:
        """Which tool's columns the table has: 'fea-agent', 'openface' or 'pyfeat'."""
        return _source(self._frame)

    @property
    def aus(self) -> pd.DataFrame:
        """AU intensities, columns ``AU01, AU02, ...`` (OpenFace's ``AU01_r`` renamed; no ``_c``/``_prob``)."""
        picked = {c: _AU.match(str(c)).group(1) for c in self._frame.columns if _AU.match(str(c))}
        return self._frame[list(picked)].rename(columns=picked)

    @property
    def emotions(self) -> pd.DataFrame:
        """Expression probabilities, one column per label the table has (py-feat uses the same names)."""
        return self._frame[[c for c in EXPRESSION_LABELS if c in self._frame.columns]]

    @property
    def landmarks(self) -> pd.DataFrame:
        """The 68 landmarks, ``x_0..x_67`` then ``y_0..y_67`` (pixels); empty when the table has none."""
        columns = [f"{axis}_{i}" for axis in "xy" for i in range(68)]
        return self._frame[[c for c in columns if c in self._frame.columns]]

    @property
    def poses(self) -> pd.DataFrame:
        """Head pose in degrees, columns ``pitch, roll, yaw``."""
        f = self._frame
        if "pose_Rx" in f.columns:
            return pd.DataFrame(
                {
                    "pitch": -f["pose_Rx"].map(math.degrees),
                    "roll": f["pose_Rz"].map(math.degrees),
                    "yaw": -f["pose_Ry"].map(math.degrees),
                },
                index=f.index,
            )
        if "Pitch" in f.columns:
            return f[["Pitch", "Roll", "Yaw"]].rename(columns=str.lower)
        return f[[c for c in ("pitch", "roll", "yaw") if c in f.columns]]

    @property
    def gazes(self) -> pd.DataFrame:
        """Gaze in degrees, columns ``gaze_yaw, gaze_pitch``; empty when the table has none."""
        f = self._frame
        if "gaze_angle_x" in f.columns:
            return pd.DataFrame(
                {
                    "gaze_yaw": f["gaze_angle_x"].map(math.degrees),
                    "gaze_pitch": -f["gaze_angle_y"].map(math.degrees),
                },
                index=f.index,
            )
        return f[[c for c in ("gaze_yaw", "gaze_pitch") if c in f.columns]]
