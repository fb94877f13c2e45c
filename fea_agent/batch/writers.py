"""Resumable output files for batch results: CSV, Parquet or JSON lines, chosen by the file's ending.

Every row has the columns of :mod:`fea_agent.video.dataframe` plus ``error`` (empty when the file was
analysed). A source's rows are written together once it is done, so OUT never holds half a source; on a new
run, :meth:`ResultWriter.done_sources` says which sources OUT already holds and the runner skips them.

CSV and JSON lines are appended to and flushed after each source. A Parquet file cannot be appended to, so
rows go to a journal next to it (``OUT.parquet.journal.jsonl``, crash-safe like JSON lines) and are merged
into the Parquet file when the writer closes; a run that died is resumed from the Parquet file and the journal.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fea_agent.errors import InvalidInputError
from fea_agent.video.dataframe import COLUMNS

#: The columns of a batch output, in order.
BATCH_COLUMNS: tuple[str, ...] = (*COLUMNS[:1], "error", *COLUMNS[1:])
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}


def output_format(path: str | os.PathLike[str]) -> str:
    """'csv', 'parquet' or 'jsonl' from the file name; a clear error for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInputError(
            f"{path}: output must end in .csv, .parquet or .jsonl (got {suffix or 'no ending'!r})"
        )
    return FORMATS[suffix]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class ResultWriter:
    """Appends rows to OUT; ``with ResultWriter(path) as w: w.write_source(rows)``."""

    def __init__(
        self, path: str | os.PathLike[str], *, resume: bool = True, columns: tuple[str, ...] = BATCH_COLUMNS
    ) -> None:
        self.path = Path(path)
        self.columns = columns
        self.format = output_format(self.path)
        self.journal = self.path.with_name(self.path.name + ".journal.jsonl")
        if not resume:
            for p in (self.path, self.journal):
                p.unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._done = self._read_done()
        target = self.journal if self.format == "parquet" else self.path
        new_file = not target.exists() or target.stat().st_size == 0
        self._file = target.open("a", newline="", encoding="utf-8")
        self._csv = None
        if self.format == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
            if new_file:
                self._csv.writeheader()
                self._file.flush()

    def _read_done(self) -> set[str]:
        done: set[str] = set()
        if self.format == "csv" and self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as f:
                done.update(row["source"] for row in csv.DictReader(f) if row.get("source"))
        if self.format == "jsonl" and self.path.exists():
            done.update(_jsonl_sources(self.path))
        if self.format == "parquet":
            if self.path.exists():
                import pyarrow.parquet as pq

                try:
                    table = pq.read_table(self.path, columns=["source"])
                except Exception as exc:
                    raise InvalidInputError(
                        f"{self.path}: exists but is not a readable Parquet file ({exc})"
                    ) from None
                done.update(s for s in table.column("source").to_pylist() if s)
            if self.journal.exists():
                done.update(_jsonl_sources(self.journal))
        return done

    def done_sources(self) -> set[str]:
        """Sources OUT already holds (analysed or failed)."""
        return set(self._done)

    def write_source(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write every row of one source at once, then flush."""
        rows = list(rows)
        for row in rows:
            if self._csv is not None:
                self._csv.writerow({k: _clean(v) for k, v in row.items()})
            else:
                record = {k: _clean(row.get(k)) for k in self.columns}
                self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._done.add(row["source"])
        self._file.flush()

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.close()
        if self.format == "parquet":
            self._merge_parquet()

    def _merge_parquet(self) -> None:
        if not self.journal.exists():
            return
        import pandas as pd

        new = pd.read_json(self.journal, lines=True, dtype=False) if self.journal.stat().st_size else None
        frames = []
        if self.path.exists():
            frames.append(pd.read_parquet(self.path))
        if new is not None and len(new):
            frames.append(new.reindex(columns=list(self.columns)))
        if frames:
            table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            table = _typed(table)
            tmp = self.path.with_name(self.path.name + ".tmp")
            table.to_parquet(tmp, index=False)
            os.replace(tmp, self.path)  # atomic: OUT is either the old or the new file
        self.journal.unlink()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _typed(table: Any) -> Any:
    """Stable column types, so appended runs concatenate: text, nullable ints, floats, nullable bool."""
    text = {"source", "error", "expression", "reasoning"}
    for column in table.columns:
        if column in text:
            table[column] = table[column].astype("string")
        elif column in ("frame", "face_id", "face_count"):
            table[column] = table[column].astype("Int64")
        elif column == "usable":
            table[column] = table[column].astype("boolean")
        else:
            table[column] = table[column].astype("float64")
    return table


def _jsonl_sources(path: Path) -> set[str]:
    done = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                source = json.loads(line).get("source")
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: that source is simply done again
            if source:
                done.add(source)
    return done
