"""Batch analysis of photos and videos into one resumable CSV, Parquet or JSON-lines file, locally or on Ray."""

from __future__ import annotations

from fea_agent.batch.runner import BatchReport, find_media, run_batch
from fea_agent.batch.source import analyse_source
from fea_agent.batch.writers import BATCH_COLUMNS, OutputWriteError, ResultWriter, output_format

__all__ = [
    "BATCH_COLUMNS",
    "BatchReport",
    "OutputWriteError",
    "ResultWriter",
    "analyse_source",
    "find_media",
    "output_format",
    "run_batch",
]
