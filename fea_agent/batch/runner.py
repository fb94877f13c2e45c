"""Batch analysis of folders of photos and videos into one resumable output file.

``run_batch("photos/", "out.csv")`` finds the images and videos, skips those OUT already holds, analyses the
rest (locally with one pipeline, or on Ray with one pipeline per worker), writes each file's rows with a
``source`` and an ``error`` column, and returns a :class:`BatchReport`. A file that cannot be analysed is
recorded with its error and the run goes on. A write error (a full disk) or Ctrl-C stops the run cleanly:
OUT keeps every file written so far, whole, and the same call resumes it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from fea_agent.batch.source import analyse_source
from fea_agent.batch.writers import BATCH_COLUMNS, OutputWriteError, ResultWriter, source_key
from fea_agent.errors import InvalidInputError
from fea_agent.io.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


class BatchReport(BaseModel):
    """What a batch run did."""

    out: str
    found: int = Field(description="Image and video files matched.")
    skipped: int = Field(description="Already in OUT from an earlier run: not analysed again.")
    analysed: int = Field(description="Files analysed without error in this run.")
    failed: list[str] = Field(default_factory=list, description="Files that failed in this run.")
    rows: int = Field(description="Rows written in this run.")
    seconds: float
    engine: str
    stopped: str | None = Field(
        None, description="Why the run stopped before the end (OUT could not be written); None if it did not."
    )
    interrupted: bool = Field(False, description="Stopped by Ctrl-C or SIGTERM before the end.")

    @property
    def ok(self) -> bool:
        return not self.failed and self.complete

    @property
    def complete(self) -> bool:
        """Every file found is in OUT (run again to resume when not)."""
        return self.stopped is None and not self.interrupted


def find_media(spec: str | os.PathLike[str]) -> list[str]:
    """Image and video files under a folder (recursively) or matching a glob pattern, sorted.

    Files with other endings (notes, CSVs) are left out; a matched file with a media ending that is not
    decodable is kept, so it is reported as failed.
    """
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        candidates = (str(p) for p in path.rglob("*") if p.is_file())
    elif path.is_file():
        candidates = iter([text])
    elif glob.has_magic(text):
        candidates = (p for p in glob.glob(text, recursive=True) if Path(p).is_file())
    else:
        raise InvalidInputError(f"{text}: no such file or folder, and not a glob pattern")
    return sorted(p for p in candidates if Path(p).suffix.lower() in MEDIA_EXTENSIONS)


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, disable=not enabled, dynamic_ncols=True)


def run_batch(
    inputs: str | os.PathLike[str] | list[str],
    out: str | os.PathLike[str],
    *,
    engine: Literal["local", "ray"] = "local",
    workers: int = 2,
    address: str | None = None,
    pipeline_options: dict[str, Any] | None = None,
    video_options: dict[str, Any] | None = None,
    progress: bool = True,
    pipeline: Any | None = None,
    on_result: Callable[[str, list[dict[str, Any]]], None] | None = None,
    row_format: Literal["fea-agent", "openface"] = "fea-agent",
) -> BatchReport:
    """Analyse every image and video in ``inputs`` (folder, glob, or list of paths) into ``out``.

    Args:
        inputs: a folder (searched recursively), a glob pattern, or a list of files.
        out: the output file (.csv, .parquet or .jsonl); sources it already holds are skipped.
        engine: 'local' (one pipeline in this process) or 'ray' (Ray Data, one pipeline per worker).
        workers: Ray workers (ignored by 'local').
        address: Ray cluster address ('auto', 'ray://host:10001'); None starts a local Ray.
        pipeline_options: options of :class:`~fea_agent.pipeline.PipelineOptions` for every pipeline.
        video_options: keyword options of ``analyze_video`` (``stride``, ``smooth``, ...).
        progress: show a progress bar on stderr.
        pipeline: an existing pipeline for the local engine (not rebuilt).
        on_result: called with each source and its rows as they are written.
        row_format: 'fea-agent' columns, or 'openface' (OpenFace 2's, after ``source`` and ``error``).
    """
    started = time.perf_counter()
    files = list(inputs) if isinstance(inputs, list) else find_media(inputs)
    columns = BATCH_COLUMNS
    if row_format == "openface":
        from fea_agent.interchange.openface import COLUMNS as OPENFACE_COLUMNS

        columns = ("source", "error", *OPENFACE_COLUMNS)
    if engine not in ("local", "ray"):
        raise InvalidInputError(f"unknown engine {engine!r}: use 'local' or 'ray'")
    failed: list[str] = []
    rows_written = analysed = 0
    todo: list[str] = []
    skipped = 0
    stopped: str | None = None
    interrupted = False
    try:
        with ResultWriter(out, columns=columns) as writer:
            done = writer.done_sources()
            todo = [f for f in files if source_key(f) not in done]
            skipped = len(files) - len(todo)
            bar = _progress_bar(len(todo), progress and bool(todo))
            outcomes: Iterator[tuple[str, list[dict[str, Any]]]] = (o for o in ())
            try:
                if todo and engine == "ray":
                    from fea_agent.batch.ray_engine import run_on_ray

                    outcomes = run_on_ray(
                        todo,
                        workers=workers,
                        address=address,
                        pipeline_options=pipeline_options or {},
                        video_options=video_options or {},
                        row_format=row_format,
                    )
                elif todo:
                    outcomes = _run_local(
                        todo, pipeline, pipeline_options or {}, video_options or {}, row_format
                    )
                with contextlib.closing(outcomes):  # type: ignore[type-var]  # the engine stops on any exit
                    for source, rows in outcomes:
                        writer.write_source(rows)
                        rows_written += len(rows)
                        if any(row.get("error") for row in rows):
                            failed.append(source)
                        else:
                            analysed += 1
                        if on_result is not None:
                            on_result(source, rows)
                        bar.update(1)
            except KeyboardInterrupt:
                interrupted = True  # OUT is closed (and a Parquet journal merged) below, as at the end
            finally:
                bar.close()
    except OutputWriteError as exc:
        stopped = str(exc)
    return BatchReport(
        out=str(out),
        found=len(files),
        skipped=skipped,
        analysed=analysed,
        failed=failed,
        rows=rows_written,
        seconds=round(time.perf_counter() - started, 2),
        engine=engine,
        stopped=stopped,
        interrupted=interrupted,
    )


def _run_local(
    files: list[str],
    pipeline: Any | None,
    pipeline_options: dict[str, Any],
    video_options: dict[str, Any],
    row_format: str,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    from fea_agent.pipeline import FEAPipeline

    own = pipeline is None
    pipeline = pipeline if pipeline is not None else FEAPipeline(**pipeline_options)
    try:
        for source in files:
            yield source, analyse_source(pipeline, source, video_options, row_format)
    finally:
        if own:
            pipeline.close()
