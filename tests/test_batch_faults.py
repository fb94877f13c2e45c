"""Batch output that survives a full disk, a kill and a backend's crash: each source's rows are in OUT whole or
not at all, OUT stays readable, and the same command resumes with every source exactly once.

The sweeps (a SIGKILL before every write boundary, inside every write, ENOSPC at every write; CSV, JSON lines
and Parquet; local and Ray) are ``tools/batch_faults.py``; the slow tests here run parts of them."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import ASTRONAUT, NO_FACE, SERVER_ENV, VIDEO, needs_shared

from fea_agent import InvalidInputError
from fea_agent.batch import OutputWriteError, ResultWriter, run_batch
from fea_agent.batch.writers import MARKER_SUFFIX

FORMATS = ["csv", "jsonl", "parquet"]


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True)


def rows(source: str, n: int, **extra) -> list[dict]:
    return [{"source": source, "error": None, "frame": i, "AU12": 0.5, **extra} for i in range(n)]


@pytest.fixture
def photos(tmp_path: Path) -> list[str]:
    """Two real photos and a corrupt one (in the repository's samples: no ../shared needed)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").symlink_to(ASTRONAUT)
    (folder / "b.jpg").symlink_to(NO_FACE)
    (folder / "c.jpg").write_bytes(ASTRONAUT.read_bytes()[:2000])
    return sorted(str(p) for p in folder.iterdir())


def _target(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl") if out.suffix == ".parquet" else out


# -- the writer ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("cut", "kept"), [(1500, {"a.jpg", "b.mp4"}), (5, {"a.jpg"})], ids=["rows", "line"])
def test_a_run_that_died_loses_its_last_block_and_a_cut_line_is_never_glued_to(
    tmp_path: Path, fmt: str, cut: int, kept: set[str]
):
    out = tmp_path / f"out.{fmt}"
    columns = ("source", "error", "frame", "AU12")
    with ResultWriter(out, columns=columns) as writer:
        writer.write_source(rows("a.jpg", 2))
    target = _target(out)
    with ResultWriter(out, columns=columns) as writer:
        writer.write_source(rows("b.mp4", 3))
        # what a SIGKILL inside the next write leaves: the marker, and a video's rows cut after some whole
        # lines (1500 bytes) or inside its first line (5)
        whole = target.read_bytes()
        writer.write_source(rows("c.mp4", 98))
        target.write_bytes(target.read_bytes()[: len(whole) + cut])
        os.close(os.open(writer.marker, os.O_CREAT | os.O_WRONLY))
        writer._consistent = False  # the killed process removes nothing
    assert writer.marker.exists()
    with ResultWriter(out, columns=columns) as writer:
        # the last block (c.mp4's whole lines, or b.mp4 when c.mp4 has none) may be part of a source: done again
        assert writer.done_sources() == kept
        for source, n in (("b.mp4", 3), ("c.mp4", 98)):
            if source not in kept:
                writer.write_source(rows(source, n))
    assert not writer.marker.exists() and not target.with_name(target.name + ".tmp").exists()
    assert Counter(read(out)["source"]) == {"a.jpg": 2, "b.mp4": 3, "c.mp4": 98}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_cut_last_line_without_a_marker_is_dropped_too(tmp_path: Path, fmt: str):
    out = tmp_path / f"out.{fmt}"
    with ResultWriter(out) as writer:
        writer.write_source(rows("a.jpg", 1))
        writer.write_source(rows("b.jpg", 1))
    out.write_bytes(out.read_bytes()[:-40])  # an edit, a copy cut short: no marker, a broken last line
    with ResultWriter(out) as writer:
        assert writer.done_sources() == {"a.jpg"}
        writer.write_source(rows("b.jpg", 1))
    assert list(read(out)["source"]) == ["a.jpg", "b.jpg"]


def test_a_parquet_merge_killed_after_its_rename_does_not_double_a_row(tmp_path: Path):
    out = tmp_path / "out.parquet"
    journal = _target(out)
    with ResultWriter(out) as writer:
        writer.write_source(rows("a.jpg", 2))
        writer.write_source(rows("b.mp4", 98))
        kept = journal.read_bytes()
    # the state a SIGKILL between os.replace and the journal's removal leaves
    journal.write_bytes(kept)
    out.with_name(out.name + MARKER_SUFFIX).touch()
    for _ in range(2):  # and the next run, and the one after it
        with ResultWriter(out) as writer:
            assert writer.done_sources() == {"a.jpg", "b.mp4"}
        assert Counter(read(out)["source"]) == {"a.jpg": 2, "b.mp4": 98}
        assert not journal.exists()


def test_two_runs_on_one_out_and_an_out_of_other_columns_are_refused(tmp_path: Path):
    out = tmp_path / "out.csv"
    with ResultWriter(out), pytest.raises(InvalidInputError, match="another batch run is writing it"):
        ResultWriter(out)
    with pytest.raises(InvalidInputError, match="columns are not those of this run"):
        ResultWriter(out, columns=("source", "error", "frame"))
    assert not out.with_name(out.name + MARKER_SUFFIX).exists()


def test_an_out_that_cannot_be_created_is_a_clear_error(tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write to a read-only folder (root)")
        with pytest.raises(OutputWriteError, match="permission denied"):
            ResultWriter(locked / "out.csv")
    finally:
        locked.chmod(0o700)


def test_odd_file_names_are_written_readably_and_resume(tmp_path: Path):
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes in a name: not UTF-8
    for fmt in FORMATS:
        out = tmp_path / f"out.{fmt}"
        for _ in range(2):
            with ResultWriter(out) as writer:
                if name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") in (
                    writer.done_sources()
                ):
                    continue
                writer.write_source(rows(name, 1))
        assert list(read(out)["source"]) == ["caf\\xe9.jpg"], fmt


# -- full disk, in process ----------------------------------------------------------------------------------


def _full_disk_at(monkeypatch: pytest.MonkeyPatch, folder: Path, nth: int) -> list[int]:
    """os.write into ``folder`` writes half and fails with ENOSPC from its ``nth`` call on."""
    real = os.write
    calls = [0]

    def write(fd: int, data) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
            return real(fd, data)
        calls[0] += 1
        if calls[0] >= nth:
            if calls[0] == nth:
                real(fd, memoryview(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    return calls


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_disk_stops_the_run_cleanly_and_the_next_run_resumes(
    pipeline, photos: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
):
    folder = tmp_path / "out"
    out = folder / f"out.{fmt}"
    with monkeypatch.context() as patch:
        # CSV: the header is write 1, so write 3 is the second photo's rows; JSON lines: the third photo's
        _full_disk_at(patch, folder, 3)
        report = run_batch(photos, out, pipeline=pipeline, progress=False)
    assert report.stopped is not None and "no space left on the device" in report.stopped
    assert not report.complete and report.analysed + len(report.failed) == (1 if fmt == "csv" else 2)
    kept = read(out) if fmt != "parquet" else pd.read_json(_target(out), lines=True)
    assert len(kept) == report.rows  # the cut block was removed again: whole rows only
    assert not out.with_name(out.name + MARKER_SUFFIX).exists()
    again = run_batch(photos, out, pipeline=pipeline, progress=False)
    assert again.complete and again.skipped == report.analysed + len(report.failed)
    assert Counter(read(out)["source"]) == Counter(photos)  # one row each: two photos of one face or none
    assert list(folder.iterdir()) == [out]


def test_a_full_disk_at_the_parquet_merge_keeps_the_journal_and_the_next_run_merges(
    pipeline, photos: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "out" / "out.parquet"
    with monkeypatch.context() as patch:
        _full_disk_at(patch, out.parent, 4)  # writes 1-3 are the journal's; 4 is the merged file
        report = run_batch(photos, out, pipeline=pipeline, progress=False)
    assert report.stopped is not None and "its rows are kept in" in report.stopped
    assert not out.exists() and len(pd.read_json(_target(out), lines=True)) == 3
    again = run_batch(photos, out, pipeline=pipeline, progress=False)
    assert (again.complete, again.skipped, again.rows) == (True, 3, 0)
    assert sorted(read(out)["source"]) == photos and list(out.parent.iterdir()) == [out]


def test_a_batch_goes_on_after_a_backend_raises_runtime_error(
    pipeline, photos: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    real = pipeline.detector.detect
    calls = [0]

    def flaky(rgb):
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("onnxruntime: bad allocation")
        return real(rgb)

    monkeypatch.setattr(pipeline.detector, "detect", flaky)
    out = tmp_path / "out.csv"
    report = run_batch(photos, out, pipeline=pipeline, progress=False)
    assert report.complete and len(report.failed) == 2  # the crash and the corrupt file
    df = read(out)
    assert df.loc[df["source"] == photos[0], "error"].iloc[0] == "RuntimeError: onnxruntime: bad allocation"
    assert df.loc[df["source"] == photos[1], "error"].isna().all()  # the next photo is analysed


# -- the command line ---------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_shared
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_batch_exits_130_with_the_resume_hint_and_resumes(tmp_path: Path, how: int):
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "fea_agent", "batch", str(ASTRONAUT), str(VIDEO), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.1)  # the photo is written; the clip (472 frames) is under way
    proc.send_signal(how)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted; 1 of 2 files not done yet. Run the same command again to resume" in stderr
    assert "Traceback" not in stderr and "1 analysed" in stdout
    assert list(read(out)["source"]) == [str(ASTRONAUT)]
    assert not out.with_name(out.name + MARKER_SUFFIX).exists()
    again = subprocess.run(
        [*cmd, "--no-progress", "--stride", "48"], capture_output=True, text=True, timeout=240
    )
    assert again.returncode == 0 and "1 already in" in again.stdout, again.stderr
    assert Counter(read(out)["source"]) == {str(ASTRONAUT): 1, str(VIDEO): 10}


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


@pytest.mark.slow
@needs_shared
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_real_full_tmpfs_stops_the_cli_with_exit_3_and_the_resume_finishes(tmp_path: Path, fmt: str):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "256k"):
        pytest.skip("cannot mount a tmpfs here (not root); the injected ENOSPC tests cover this")
    try:
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (256 * 1024 - 40 * 1024))  # leaves about 40 kB: the photo, not the clip
        out = disk / f"out.{fmt}"
        cmd = [sys.executable, "-m", "fea_agent", "batch", str(ASTRONAUT), str(VIDEO), "--out", str(out)]
        cmd += ["--no-progress", "--stride", "4"]  # 118 rows of the clip: about 150 kB
        full = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=SERVER_ENV)
        assert full.returncode == 3, full.stderr
        assert "no space left on the device" in full.stderr and "Traceback" not in full.stderr
        assert "Run the same command again to resume" in full.stderr
        if out.exists():
            assert set(read(out)["source"]) <= {str(ASTRONAUT)}
        filler.unlink()
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=SERVER_ENV)
        assert again.returncode == 0, again.stderr
        assert Counter(read(out)["source"]) == {str(ASTRONAUT): 1, str(VIDEO): 118}
        assert sorted(p.name for p in disk.iterdir()) == [out.name]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.slow
@needs_shared
@pytest.mark.parametrize("fmt", FORMATS)
def test_kills_at_write_boundaries_lose_and_double_nothing_locally(tmp_path: Path, fmt: str):
    import batch_faults as tool

    inputs = tool.default_inputs(tmp_path / "in")
    # every third boundary and every write here; the tool sweeps them all
    results = tool.sweep(inputs, fmt, "local", ("kill",), every=3, work=tmp_path)
    results += tool.sweep(inputs, fmt, "local", ("torn", "enospc"), every=2, work=tmp_path)
    for result in results:
        assert result.runs >= 4 and result.ok, (result.line(), result.findings[:5])


@pytest.mark.slow
@needs_shared
@pytest.mark.parametrize("fmt", FORMATS)
def test_kills_while_ray_delivers_lose_and_double_nothing(tmp_path: Path, fmt: str):
    pytest.importorskip("ray")
    import batch_faults as tool

    inputs = tool.default_inputs(tmp_path / "in")
    # the third source's block: cut inside its write, and a kill after it before its fsync
    (torn,) = tool.sweep(inputs, fmt, "ray", ("torn",), only=[3], work=tmp_path)
    assert torn.ok, (torn.line(), torn.findings)
