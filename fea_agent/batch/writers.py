"""Resumable output files for batch results: CSV, Parquet or JSON lines, chosen by the file's ending.

Every row has the columns of :mod:`fea_agent.video.dataframe` plus ``error`` (empty when the file was
analysed). A source's rows are written together, in one block, once it is done; on a new run,
:meth:`ResultWriter.done_sources` says which sources OUT already holds and the runner skips them.

Crash safety (``resume=True``, the batch):

- each source's block is written, then fsynced, and only then counts as done; a write that fails (a full
  disk, an I/O error) is cut off again (``ftruncate``) and raised as :class:`OutputWriteError`, so OUT never
  keeps part of a source or a cut line;
- ``OUT.in-progress`` exists (and is locked) while a run writes OUT. If a run dies (SIGKILL, power loss), it
  is still there at the next start, which then drops OUT's last block, the one source that may be part-written
  or cut mid-line, and analyses that source again. A torn or unreadable last line is dropped in any case, so
  rows are never glued onto it. Two runs on one OUT at once are refused.
- CSV and JSON lines are appended to. A Parquet file cannot be appended to, so blocks go to a journal beside
  it (``OUT.parquet.journal.jsonl``, safe as JSON lines are) and are merged into ``OUT.parquet`` when the
  writer closes: written to a temp file, fsynced, renamed over OUT, then the journal is removed. The merge
  takes only journal sources OUT does not hold yet, so a kill anywhere in it (even between the rename and
  the journal's removal) never doubles a row, and a merge that failed is done by the next run.

Video and live runs (``resume=False``) start OUT afresh and flush each frame's rows without fsync.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fea_agent.errors import FEAError, InvalidInputError
from fea_agent.video.dataframe import COLUMNS

#: The columns of a batch output, in order.
BATCH_COLUMNS: tuple[str, ...] = (*COLUMNS[:1], "error", *COLUMNS[1:])
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
#: Beside OUT while a run writes it; left behind by a run that died.
MARKER_SUFFIX = ".in-progress"


class OutputWriteError(FEAError):
    """OUT could not be written (a full disk, an I/O error, a read-only file system); OUT is left whole."""


def output_format(path: str | os.PathLike[str]) -> str:
    """'csv', 'parquet' or 'jsonl' from the file name; a clear error for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInputError(
            f"{path}: output must end in .csv, .parquet or .jsonl (got {suffix or 'no ending'!r})"
        )
    return FORMATS[suffix]


def source_key(text: str) -> str:
    """A source as OUT stores it: text that encodes as UTF-8 (a file name that is not valid UTF-8 keeps its
    odd bytes as ``\\xNN``), so every format can hold it and resuming matches it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return source_key(value)
    return value


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EIO:
        return "an I/O error"
    return exc.strerror or str(exc)


def _fsync_dir(path: Path) -> None:
    """Make a created, renamed or removed name durable (best effort: some file systems refuse it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _replace_file(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` afterwards, or what it held before: a temp file, fsync, rename, never half."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path)


class ResultWriter:
    """Appends rows to OUT; ``with ResultWriter(path) as w: w.write_source(rows)``.

    Raises :class:`OutputWriteError` when OUT cannot be written (also when it cannot be opened) and
    :class:`~fea_agent.errors.InvalidInputError` when OUT is not one of ours (other columns, not Parquet).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, resume: bool = True, columns: tuple[str, ...] = BATCH_COLUMNS
    ) -> None:
        self.path = Path(path)
        self.columns = columns
        self.format = output_format(self.path)
        self.journal = self.path.with_name(self.path.name + ".journal.jsonl")
        self.marker = self.path.with_name(self.path.name + MARKER_SUFFIX)
        self.durable = resume
        target = self.journal if self.format == "parquet" else self.path
        self._fd = self._marker_fd = -1
        self._consistent = True  # False once a failed write could not be cut off again
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if resume:
                died = self._take_marker()
            else:
                died = False
                for p in (self.path, self.journal):
                    p.unlink(missing_ok=True)
            self._done = self._done_in_parquet()
            if self.format == "csv" and not self.path.exists():
                _replace_file(self.path, self._header())
            self._fd = os.open(target, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            self._done |= self._recover(target, died)
            if self.format == "csv" and self._end == 0:
                self._start_csv()
            _fsync_dir(target)
        except OSError as exc:
            self._release()
            raise OutputWriteError(f"cannot write {target}: {_describe(exc)}") from None
        except BaseException:
            self._release()
            raise

    # -- opening ----------------------------------------------------------------------------------------

    def _take_marker(self) -> bool:
        """Create and lock OUT.in-progress; True if it was there already (a run died writing OUT)."""
        import fcntl

        try:
            fd = os.open(self.marker, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
            died = False
        except FileExistsError:
            fd = os.open(self.marker, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
            died = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InvalidInputError(
                f"{self.path}: another batch run is writing it ({self.marker} is locked); wait for it to end, "
                "or write to another file"
            ) from None
        self._marker_fd = fd
        return died

    def _done_in_parquet(self) -> set[str]:
        if self.format != "parquet" or not self.path.exists():
            return set()
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(self.path, columns=["source"])
        except Exception as exc:
            raise InvalidInputError(
                f"{self.path}: exists but is not a readable Parquet file ({exc})"
            ) from None
        return {s for s in table.column("source").to_pylist() if s}

    def _recover(self, target: Path, died: bool) -> set[str]:
        """Sources in the appended file; cuts it after its last whole record, and, when the last run died,
        before its last block."""
        size = os.fstat(self._fd).st_size
        with open(os.dup(self._fd), "rb") as f:
            records = _csv_records(f, self.columns, target) if self.format == "csv" else _jsonl_records(f)
            done: set[str] = set()
            block: str | None = None
            block_start = end = 0
            for start, stop, source in records:
                end = stop
                if source is None:  # the CSV header
                    continue
                if source != block:
                    if block is not None:
                        done.add(block)
                    block, block_start = source, start
        if block is not None and died:
            end = block_start  # the last block may be part of a source: it is analysed again
        elif block is not None:
            done.add(block)
        if end < size:
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        os.lseek(self._fd, end, os.SEEK_SET)
        self._end = end
        return done

    def _start_csv(self) -> None:
        """A new CSV is its header, made whole before OUT has the name (an empty CSV is not readable)."""
        _replace_file(self.path, self._header())
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        self._end = os.lseek(self._fd, 0, os.SEEK_END)

    # -- writing ----------------------------------------------------------------------------------------

    def done_sources(self) -> set[str]:
        """Sources OUT already holds (analysed or failed)."""
        return set(self._done)

    def write_source(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write every row of one source as one block (fsynced when resuming), or none of them."""
        rows = list(rows)
        if not rows:
            return
        if self.format == "csv":
            data = self._csv_bytes([{k: _clean(v) for k, v in row.items()} for row in rows])
        else:
            data = b"".join(_json_line({k: _clean(row.get(k)) for k in self.columns}) for row in rows)
        self._append(data)
        self._done.update(source_key(str(row["source"])) for row in rows if "source" in row)

    def _append(self, data: bytes) -> None:
        start = self._end
        try:
            _write_all(self._fd, data)
            if self.durable:
                os.fsync(self._fd)
        except BaseException as exc:
            self._cut(start)
            if isinstance(exc, OSError):
                raise OutputWriteError(f"cannot write {self._target_name()}: {_describe(exc)}") from None
            raise
        self._end = start + len(data)

    def _cut(self, start: int) -> None:
        """Undo a failed write. Shrinking needs no space; if even that fails, the marker stays and the next
        run drops the block."""
        try:
            os.ftruncate(self._fd, start)
            os.lseek(self._fd, start, os.SEEK_SET)
            if self.durable:
                os.fsync(self._fd)
        except OSError:
            self._consistent = False

    def _target_name(self) -> Path:
        return self.journal if self.format == "parquet" else self.path

    def _header(self) -> bytes:
        return self._csv_bytes([dict(zip(self.columns, self.columns, strict=True))])

    def _csv_bytes(self, rows: list[dict[str, Any]]) -> bytes:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns, extrasaction="ignore")
        writer.writerows(rows)
        return text.getvalue().encode("utf-8")

    # -- closing ----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close OUT (for Parquet: merge the journal into it), then remove the marker."""
        if self._fd < 0:
            return
        try:
            os.close(self._fd)
            self._fd = -1
            if self.format == "parquet" and self._consistent:
                self._merge_parquet()
        finally:
            self._release()

    def _release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        if self._marker_fd >= 0:
            if self._consistent:
                with contextlib.suppress(OSError):
                    os.unlink(self.marker)
                    _fsync_dir(self.marker)
            os.close(self._marker_fd)  # releases the lock
            self._marker_fd = -1

    def _merge_parquet(self) -> None:
        if not self.journal.exists():
            return
        import pandas as pd

        have = self._done_in_parquet()  # sources a merge killed before the journal's removal already moved
        with self.journal.open("rb") as f:
            new = [r for r in _jsonl_rows(f) if r.get("source") not in have]
        if new or not self.path.exists():
            frames = [pd.read_parquet(self.path)] if self.path.exists() else []
            frames.append(pd.DataFrame.from_records(new, columns=list(self.columns)))
            self._replace_parquet(
                _typed(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
            )
        os.unlink(self.journal)
        _fsync_dir(self.journal)

    def _replace_parquet(self, table: Any) -> None:
        """OUT is the old file or the new one, never half of either: temp file, fsync, rename."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), buffer)
        try:
            _replace_file(self.path, buffer.getvalue().to_pybytes())
        except OSError as exc:
            raise OutputWriteError(
                f"cannot write {self.path}: {_describe(exc)}; its rows are kept in {self.journal}"
            ) from None

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, allow_nan=False, default=str) + "\n").encode("utf-8")


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


def _lines(f: io.BufferedReader) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` for each whole line (ending in a newline); stops at a cut last line."""
    offset = 0
    for line in f:
        if not line.endswith(b"\n"):
            return
        yield offset, line
        offset += len(line)


def _jsonl_records(f: io.BufferedReader) -> Iterator[tuple[int, int, str]]:
    """``(start, end, source)`` of each whole JSON line; stops at the first line that is not one."""
    for offset, line in _lines(f):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short and glued, NUL bytes after a crash: the end of what is good
            return
        if not isinstance(record, dict) or not isinstance(record.get("source"), str):
            return
        yield offset, offset + len(line), record["source"]


def _jsonl_rows(f: io.BufferedReader) -> Iterator[dict[str, Any]]:
    """The rows of a journal that :meth:`ResultWriter._recover` has already cut to whole lines."""
    for _, line in _lines(f):
        if line.strip():
            yield json.loads(line)


def _csv_records(
    f: io.BufferedReader, columns: tuple[str, ...], path: Path
) -> Iterator[tuple[int, int, str]]:
    """``(start, end, source)`` of each whole CSV record after the header; stops at the first broken one.
    The header must be ``columns`` (an OUT of another format or version is refused)."""
    position = 0

    def text_lines() -> Iterator[str]:
        nonlocal position
        for offset, line in _lines(f):
            position = offset + len(line)
            yield line.decode("utf-8")

    reader = csv.reader(text_lines(), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error, UnicodeDecodeError):
        return  # empty, or a header cut short: OUT holds no rows yet and is started again
    if tuple(header) != columns:
        raise InvalidInputError(
            f"{path}: its columns are not those of this run ({len(header)} columns, starting "
            f"{', '.join(header[:3])}); write to a new file, or use the --format it was written with"
        )
    yield 0, position, None
    # Tables without a source column (a video's OpenFace export) are one source: the file itself.
    source_at = columns.index("source") if "source" in columns else None
    while True:
        start = position
        try:
            fields = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError):
            return
        if len(fields) != len(columns):
            return
        yield start, position, fields[source_at] if source_at is not None else str(path)
