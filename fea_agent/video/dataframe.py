"""Flat rows, one per face per frame (or per image), and the pandas DataFrame built from them.

Columns, in order (the same for video, batch, CSV, Parquet and JSON lines):

- ``source``, ``frame`` (index in the file; 0 for a photo), ``timestamp`` (seconds; 0 for a photo),
  ``face_id`` (identity across frames; for a photo the face's index), ``face_count``
- the box ``x``, ``y``, ``width``, ``height`` (pixels), ``score`` (detector, 0-1), ``usable``
- head pose ``yaw``, ``pitch``, ``roll`` (degrees)
- ``AU01``, ``AU02``, ... (intensity 0-5, as py-feat users name them) and ``AU01_prob``, ... (probability 0-1);
  with a baseline also ``AU01_change``, ... (intensity minus the face's neutral level)
- ``expression`` (the final label; empty when the answer fell below ``min_confidence``) and one probability
  column per label: ``neutral``, ``happiness``, ...
- ``reasoning`` (the reasoner's label-first text) and ``confidence``

A frame or image without a face gives one row with the face columns empty, so a timeline shows the gap.

A video's episodes (:mod:`fea_agent.video.episodes`) make a second, smaller table, one row an episode:
``source``, ``face_id`` (empty for a span with no face at all), then :data:`EPISODE_COLUMNS`' episode fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fea_agent.facs.catalogue import REPORTED_AUS
from fea_agent.results import EXPRESSION_LABELS, Episode, ImageResult, VideoSummary

if TYPE_CHECKING:
    import pandas as pd

AU_CODES = REPORTED_AUS

#: Every column a row can have, in order (``*_change`` columns only appear with a baseline).
COLUMNS: tuple[str, ...] = (
    "source",
    "frame",
    "timestamp",
    "face_id",
    "face_count",
    "x",
    "y",
    "width",
    "height",
    "score",
    "usable",
    "yaw",
    "pitch",
    "roll",
    *AU_CODES,
    *(f"{code}_prob" for code in AU_CODES),
    "expression",
    *EXPRESSION_LABELS,
    "reasoning",
    "confidence",
)
CHANGE_COLUMNS: tuple[str, ...] = tuple(f"{code}_change" for code in AU_CODES)
#: The columns of the episodes table.
EPISODE_COLUMNS: tuple[str, ...] = ("source", "face_id", *Episode.model_fields)


def frame_rows(result: ImageResult) -> list[dict[str, Any]]:
    """The rows of one frame or image: one per face, or a single face-less row."""
    base: dict[str, Any] = {
        "source": result.source,
        "frame": result.frame_index if result.frame_index is not None else 0,
        "timestamp": result.timestamp_s if result.timestamp_s is not None else 0.0,
        "face_count": len(result.faces),
    }
    if not result.faces:
        return [{**base, "face_id": None}]
    rows = []
    for i, face in enumerate(result.faces):
        row = {
            **base,
            "face_id": face.face_id if face.face_id is not None else i,
            "x": face.bbox.x,
            "y": face.bbox.y,
            "width": face.bbox.width,
            "height": face.bbox.height,
            "score": face.score,
            "usable": face.quality.usable,
        }
        if face.head_pose is not None:
            row.update(yaw=face.head_pose.yaw, pitch=face.head_pose.pitch, roll=face.head_pose.roll)
        # An abstained face gets no AU or expression values that would look trustworthy.
        for au in face.aus if face.quality.usable else []:
            row[au.code] = au.intensity
            row[f"{au.code}_prob"] = au.probability
            if au.change_from_baseline is not None:
                row[f"{au.code}_change"] = au.change_from_baseline
        if face.expression is not None and face.expression.probabilities:
            # Below min_confidence the expression cell stays empty (no label) and the probabilities stay.
            if face.expression.label is not None:
                row["expression"] = face.expression.label
            row.update(face.expression.probabilities)
        if face.reasoning is not None:
            row["reasoning"] = face.reasoning.text
            row["confidence"] = face.reasoning.confidence
        rows.append(row)
    return rows


def to_dataframe(results: Iterable[ImageResult | Exception]) -> pd.DataFrame:
    """A pandas DataFrame with one row per face per frame, columns as listed in this module's docstring.

    ``results`` may be a list or the iterator ``analyze_video`` returns (consumed as it goes). An input that
    failed (``analyze_many`` puts its error in its place) becomes one row with an ``error`` column saying why.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, Exception):
            rows.append({"source": getattr(result, "source", None), "error": str(result)})
        else:
            rows.extend(frame_rows(result))
    columns = list(COLUMNS)
    if any(f"{AU_CODES[0]}_change" in row for row in rows):
        columns += CHANGE_COLUMNS
    extra = sorted({key for row in rows for key in row} - set(columns))
    frame = pd.DataFrame.from_records(rows, columns=columns + extra)
    frame["face_id"] = frame["face_id"].astype("Int64")
    return frame


def episode_rows(summary: VideoSummary) -> list[dict[str, Any]]:
    """One row per episode, face by face in onset order, then the spans with no face at all."""
    rows = [
        {"source": summary.source, "face_id": face.face_id, **episode.model_dump()}
        for face in summary.faces
        for episode in face.episodes
    ]
    rows += [{"source": summary.source, "face_id": None, **e.model_dump()} for e in summary.no_face]
    return rows


def episodes_dataframe(summary: VideoSummary) -> pd.DataFrame:
    """The episodes of a :class:`~fea_agent.results.VideoSummary` as a DataFrame, one row an episode
    (columns :data:`EPISODE_COLUMNS`)."""
    import pandas as pd

    frame = pd.DataFrame.from_records(episode_rows(summary), columns=list(EPISODE_COLUMNS))
    frame["face_id"] = frame["face_id"].astype("Int64")
    return frame
