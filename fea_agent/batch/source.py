"""One batch source (a photo or a video file) analysed into its rows: the unit both engines run.

Kept apart from the runner so that a Ray worker imports this small module, not the runner with its writer and
progress bar, and so that neither engine imports the other.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from fea_agent.errors import FEAError
from fea_agent.io.video import VIDEO_EXTENSIONS
from fea_agent.video.dataframe import frame_rows

log = logging.getLogger(__name__)


def analyse_source(
    pipeline: Any, source: str, video_options: dict[str, Any] | None = None, row_format: str = "fea-agent"
) -> list[dict[str, Any]]:
    """The rows for one file: per face (per frame for a video), or one row carrying the error.

    Any exception is that source's error, so one file that breaks a backend (a ``RuntimeError`` from
    onnxruntime, a ``MemoryError``) does not stop the batch; a video that fails part-way gives only its error
    row, never the frames before. Every row's ``source`` is ``source`` exactly as given (results may shorten
    a long path), which is what resuming matches on. ``row_format`` 'openface' gives OpenFace 2's columns
    (:mod:`fea_agent.interchange.openface`).
    """
    rows_of = frame_rows
    if row_format == "openface":
        from fea_agent.interchange.openface import openface_rows as rows_of
    try:
        if Path(source).suffix.lower() in VIDEO_EXTENSIONS:
            rows = []
            # closed on any exit (Ctrl-C too), so the video's decoding thread stops before the process ends
            with contextlib.closing(pipeline.analyze_video(source, **(video_options or {}))) as results:
                for result in results:
                    rows.extend(rows_of(result))
        else:
            rows = rows_of(pipeline.analyze(source))
    except Exception as exc:  # see the docstring: the batch goes on
        if not isinstance(exc, FEAError):
            log.info("%s: unexpected error", source, exc_info=True)
        return [{"source": source, "error": f"{type(exc).__name__}: {exc}"}]
    for row in rows:
        row["source"] = source
    return rows
