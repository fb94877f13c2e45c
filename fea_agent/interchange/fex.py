"""A py-feat-style view of any table of results: ``frame.fex.aus``, ``.emotions``, ``.landmarks``, ``.poses``,
``.gazes``, on fea-agent's own columns, OpenFace 2.x's or py-feat's (0.x/1.x and 2.x), in fea-agent's units and
signs.

Importing :mod:`fea_agent.interchange` registers the accessor. Which tool wrote the table is told from its
columns (``frame.fex.source``, :func:`fea_agent.interchange.tables.detect`). Each property returns a DataFrame
with the same index as the table and columns named the same whichever tool wrote it, so two tables line up::

    ours, theirs = read_openface("ours.csv"), read_openface("clip_openface.csv")
    ours.fex.aus.corrwith(theirs.fex.aus)   # per AU, frame by frame

Angles become degrees in fea-agent's convention: head yaw > 0 turned towards the image's right, pitch > 0 up,
roll > 0 clockwise in the image; gaze in the camera's frame, yaw > 0 towards the image's right, pitch > 0 up.
Emotions get fea-agent's names (py-feat 2.x's ``Happy`` is ``happiness``). AU values keep each tool's scale,
where a conversion would guess: 0-5 intensities from fea-agent and OpenFace, 0-1 probabilities from py-feat
(``.au_scale`` says which; correlations do not mind).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from fea_agent.interchange.tables import PYFEAT2_EMOTIONS, detect
from fea_agent.results import EXPRESSION_LABELS

_AU = re.compile(r"^(AU\d\d)(_r)?$")


@pd.api.extensions.register_dataframe_accessor("fex")
class FexAccessor:
    """py-feat's ``Fex`` attributes for any results table (see the module docstring)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    @property
    def source(self) -> str:
        """Which tool's columns the table has: 'fea-agent', 'openface', 'pyfeat-1', 'pyfeat-2' or 'unknown'."""
        return detect(self._frame.columns) or "unknown"

    @property
    def au_scale(self) -> str:
        """What ``.aus`` holds: 'intensity 0-5' (fea-agent, OpenFace) or 'probability 0-1' (py-feat)."""
        return "probability 0-1" if self.source.startswith("pyfeat") else "intensity 0-5"

    @property
    def aus(self) -> pd.DataFrame:
        """AU values, columns ``AU01, AU02, ...`` (OpenFace's ``AU01_r`` renamed; no ``_c``/``_prob``)."""
        picked = {c: _AU.match(str(c)).group(1) for c in self._frame.columns if _AU.match(str(c))}
        return self._frame[list(picked)].rename(columns=picked)

    @property
    def emotions(self) -> pd.DataFrame:
        """Expression probabilities in fea-agent's names and order, one column per label the table has."""
        f = self._frame
        if self.source == "pyfeat-2":
            f = f.rename(columns=PYFEAT2_EMOTIONS)
        return f[[c for c in EXPRESSION_LABELS if c in f.columns]]

    @property
    def landmarks(self) -> pd.DataFrame:
        """The 68 landmarks, ``x_0..x_67`` then ``y_0..y_67`` (pixels); empty when the table has none."""
        columns = [f"{axis}_{i}" for axis in "xy" for i in range(68)]
        return self._frame[[c for c in columns if c in self._frame.columns]]

    @property
    def poses(self) -> pd.DataFrame:
        """Head pose in degrees, fea-agent's signs, columns ``pitch, roll, yaw``."""
        f, source = self._frame, self.source
        if source == "openface" and "pose_Rx" in f.columns:
            # Right-handed camera frame (x right, y down, z away): Rx > 0 down, Ry > 0 towards the image's left.
            return pd.DataFrame(
                {
                    "pitch": -f["pose_Rx"].map(math.degrees),
                    "roll": f["pose_Rz"].map(math.degrees),
                    "yaw": -f["pose_Ry"].map(math.degrees),
                },
                index=f.index,
            )
        if source.startswith("pyfeat") and set(("Pitch", "Roll", "Yaw")) <= set(f.columns):
            # py-feat's yaw > 0 turns towards the subject's right, the image's left; 2.x writes radians.
            unit = math.degrees(1) if source == "pyfeat-2" else 1.0
            return pd.DataFrame(
                {"pitch": f["Pitch"] * unit, "roll": f["Roll"] * unit, "yaw": -f["Yaw"] * unit},
                index=f.index,
            )
        return f[[c for c in ("pitch", "roll", "yaw") if c in f.columns]]

    @property
    def gazes(self) -> pd.DataFrame:
        """Gaze in degrees in the camera's frame, columns ``gaze_yaw, gaze_pitch``; empty when the table has
        none."""
        f, source = self._frame, self.source
        if source == "openface":
            if "gaze_angle_x" in f.columns:
                x, y = f["gaze_angle_x"], f["gaze_angle_y"]
            elif {"gaze_0_x", "gaze_1_z"} <= set(f.columns):
                # OpenFace's own gaze_angle_x/y from the two eyes' unit vectors (x right, y down, z away).
                v = {a: (f[f"gaze_0_{a}"] + f[f"gaze_1_{a}"]) / 2 for a in "xyz"}
                x, y = np.arctan2(v["x"], -v["z"]), np.arctan2(v["y"], -v["z"])
            else:
                return f[[]]
            return pd.DataFrame({"gaze_yaw": np.degrees(x), "gaze_pitch": -np.degrees(y)}, index=f.index)
        if source == "pyfeat-2" and {"gaze_yaw", "gaze_pitch"} <= set(f.columns):
            # Radians relative to the head, yaw > 0 towards the subject's left (the image's right): the head's
            # yaw and pitch are added, as fea-agent's own estimate does.
            head = self.poses
            yaw, pitch = np.degrees(f["gaze_yaw"]), np.degrees(f["gaze_pitch"])
            if not head.empty:
                yaw, pitch = yaw + head["yaw"], pitch + head["pitch"]
            return pd.DataFrame({"gaze_yaw": yaw, "gaze_pitch": pitch}, index=f.index)
        if source.startswith("pyfeat"):
            return f[[]]
        return f[[c for c in ("gaze_yaw", "gaze_pitch") if c in f.columns]]
