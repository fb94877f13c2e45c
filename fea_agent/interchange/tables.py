"""Which tool wrote a table, told from its columns, and reading a CSV of an expected kind, with a refusal that
names what the file is for any other.

The kinds (the values of ``frame.fex.source``):

- ``fea-agent``: fea-agent's own rows (``fea-agent video|batch --out``, :func:`fea_agent.video.to_dataframe`):
  ``face_count``, ``AU01_prob``, ...;
- ``openface``: OpenFace 2.x (``FeatureExtraction``, or ``--format openface``): ``AU01_r``/``AU01_c``,
  ``pose_Rx``, ``gaze_0_x`` or ``gaze_angle_x``;
- ``pyfeat-2``: py-feat 2.x (``Detectorv2``, ``MPDetector``): ``FaceRectX`` with the emotions ``Neutral, Happy,
  ...``, the 478-point ``mesh_x_*``, ``gaze_pitch`` or the 6-D pose ``X, Y, Z``;
- ``pyfeat-1``: py-feat 0.x/1.x: ``FaceRectX`` with none of those (emotions ``anger, ..., neutral``).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from fea_agent.errors import InvalidInputError
from fea_agent.io.files import read_file, short_label

if TYPE_CHECKING:
    import pandas as pd

#: What each kind is, in words, and the reader for it.
KINDS: dict[str, tuple[str, str]] = {
    "fea-agent": ("fea-agent's own table", "pandas.read_csv"),
    "openface": ("an OpenFace 2.x table", "fea_agent.interchange.read_openface"),
    "pyfeat-1": ("a py-feat 0.x/1.x table", "fea_agent.interchange.read_pyfeat"),
    "pyfeat-2": ("a py-feat 2.x table", "fea_agent.interchange.read_pyfeat"),
}

#: py-feat 2.x's emotion columns and fea-agent's names for them.
PYFEAT2_EMOTIONS: dict[str, str] = {
    "Neutral": "neutral",
    "Happy": "happiness",
    "Sad": "sadness",
    "Surprise": "surprise",
    "Fear": "fear",
    "Disgust": "disgust",
    "Anger": "anger",
}

_OPENFACE_AU = re.compile(r"^AU\d\d_[rc]$")
_OURS_AU = re.compile(r"^AU\d\d_prob$")


def detect(columns: Iterable[object]) -> str | None:
    """The kind of table these columns make (see the module docstring), or None for none of them."""
    names = {str(c).strip() for c in columns}
    if {"pose_Rx", "gaze_angle_x", "gaze_0_x"} & names or any(_OPENFACE_AU.match(c) for c in names):
        return "openface"
    if "FaceRectX" in names:
        if set(PYFEAT2_EMOTIONS) & names or {"mesh_x_0", "gaze_pitch"} & names or {"X", "Y", "Z"} <= names:
            return "pyfeat-2"
        return "pyfeat-1"
    if "face_count" in names or any(_OURS_AU.match(c) for c in names):
        return "fea-agent"
    return None


def read_table(path: str | os.PathLike[str], *, kinds: tuple[str, ...], what: str) -> pd.DataFrame:
    """A CSV of one of ``kinds`` (``what``, in words) as a DataFrame: column names stripped (OpenFace writes ``", "``), a saved
    pandas index (an unnamed first column) dropped. Anything else is an :class:`InvalidInputError` that names
    the file and what it is, and the reader that takes it."""
    import pandas as pd

    label = short_label(str(path))
    data = read_file(path, label=label)
    try:
        frame = pd.read_csv(io.BytesIO(data), skipinitialspace=True, low_memory=False)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise InvalidInputError(f"{label}: not a CSV table ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame.columns) and (frame.columns[0] == "" or frame.columns[0].startswith("Unnamed: 0")):
        frame = frame.drop(columns=frame.columns[0])
    kind = detect(frame.columns)
    if kind in kinds:
        return frame
    if kind is None:
        shown = ", ".join(list(frame.columns)[:6]) + (", ..." if len(frame.columns) > 6 else "")
        raise InvalidInputError(f"{label}: not {what}: none of its columns ({shown}) are theirs")
    actual, reader = KINDS[kind]
    raise InvalidInputError(f"{label}: this is {actual}, not {what}; read it with {reader}")
