"""Fault injection for ``fea-agent batch``: a kill or a full disk at every write boundary, then a resume.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/batch_faults.py [--formats csv,jsonl,parquet]
        [--engines local,ray] [--kinds kill,torn,enospc] [--every 1]

A boundary is each ``os.open``, ``os.write``, ``os.fsync``, ``os.ftruncate``, ``os.replace`` and ``os.unlink`` the
batch makes in OUT's folder (the writer makes these calls itself, so each is one). A clean run counts them;
then, for each boundary N (each write N for ``torn`` and ``enospc``) and each kind, a fresh run in a fresh
folder:

- ``kill``: SIGKILL just before call N;
- ``torn``: call N, a write, writes half its bytes and the process is SIGKILLed (a kill inside the syscall);
- ``enospc``: write N writes half its bytes and fails with ENOSPC, and so does every later write (a disk
  that stays full); the run must stop by itself, exit 3 with the resume hint and no traceback.

Then the same command runs again with no fault and must finish. Checked: after the fault, OUT (when there) is
readable unless the kill was inside a write, and no process the killed run started (Ray's) outlives it by
20 s; after the resume, every source is in OUT exactly once with the rows of the clean run, OUT is readable,
and no journal, temp file or marker is left. Prints one line per
(format, engine, kind) and exits 1 on any finding.

``python tools/batch_faults.py --child KIND N FOLDER -- ARGS`` is the faulty process itself (used by the above).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _paths import EDGE, ROOT, VIDEO

HOOKED = ("open", "write", "fsync", "ftruncate", "replace", "unlink")
MARKER = "FEA_AGENT_FAULT_TRIAL"


# -- the faulty child --------------------------------------------------------------------------------------


def _install(kind: str, n: int, folder: str) -> None:
    """Wrap the os calls that touch ``folder``; act at the ``n``-th one (``torn``, ``enospc``: the ``n``-th
    write); ``n`` 0 only counts, printed at exit."""
    real = {name: getattr(os, name) for name in HOOKED}
    calls = writes = 0
    full = False

    def inside(target: object) -> bool:
        try:
            path = os.readlink(f"/proc/self/fd/{target}") if isinstance(target, int) else os.fspath(target)
        except (OSError, TypeError):
            return False
        path = os.path.abspath(path)
        return path == folder or path.startswith(folder + os.sep)

    def wrap(name: str):
        def call(*args, **kwargs):
            nonlocal calls, writes, full
            if not inside(args[0]):
                return real[name](*args, **kwargs)
            calls += 1
            writes += name == "write"
            if name == "write" and full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if kind == "kill" and calls == n:
                os.kill(os.getpid(), signal.SIGKILL)
            if name == "write" and kind in ("torn", "enospc") and writes == n:
                data = memoryview(args[1])
                real["write"](args[0], data[: max(1, len(data) // 2)])
                if kind == "torn":
                    os.kill(os.getpid(), signal.SIGKILL)
                full = True
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real[name](*args, **kwargs)

        return call

    for name in HOOKED:
        setattr(os, name, wrap(name))
    if n == 0:
        import atexit

        atexit.register(lambda: print(f"boundaries: {calls} writes: {writes}", file=sys.stderr))


def child(argv: list[str]) -> int:
    kind, n, folder = argv[0], int(argv[1]), os.path.abspath(argv[2])
    _install(kind, n, folder)
    from fea_agent.cli import main

    return main(argv[argv.index("--") + 1 :])


# -- the sweep ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    fmt: str
    engine: str
    kind: str
    boundaries: int = 0
    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_rows: int = 0
    unreadable_after_fault: int = 0
    unreadable_after_resume: int = 0
    leftovers: int = 0
    orphans: int = 0
    tracebacks: int = 0
    bad_exits: int = 0
    seconds: float = 0.0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.wrong_rows
            or self.unreadable_after_fault
            or self.unreadable_after_resume
            or self.leftovers
            or self.orphans
            or self.tracebacks
            or self.bad_exits
        )

    def line(self) -> str:
        return (
            f"{self.fmt:8} {self.engine:5} {self.kind:6} {self.boundaries:3} boundaries, {self.runs:3} runs: "
            f"{self.lost} lost, {self.duplicated} duplicated, {self.wrong_rows} with other rows, "
            f"{self.unreadable_after_fault}/{self.unreadable_after_resume} unreadable after the fault/resume, "
            f"{self.leftovers} leftovers, {self.orphans} with orphan processes, {self.tracebacks} tracebacks, "
            f"{self.bad_exits} bad exit codes "
            f"({self.seconds:.0f} s)"
        )


def read_out(path: Path):
    """OUT as a DataFrame (None when there is no OUT); raises when it is not readable."""
    import pandas as pd

    if not path.exists():
        return None
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True)


def _batch_args(inputs: list[str], out: Path, engine: str, stride: int) -> list[str]:
    args = ["batch", *inputs, "--out", str(out), "--no-progress", "--stride", str(stride), "--engine", engine]
    return [*args, "--workers", "1"] if engine == "ray" else args


def _run(
    kind: str, n: int, folder: Path, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(n), str(folder), "--", *args]
    # every process the run starts (Ray's too) inherits the marker, so survivors of a kill can be found
    marked = {**env, MARKER: str(folder)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=marked)


def survivors(folder: Path, wait_s: float = 20.0) -> list[int]:
    """Processes a killed run started that are still alive after ``wait_s`` (found by the marker); ended."""
    needle = f"{MARKER}={folder}".encode()
    deadline = time.monotonic() + wait_s
    while True:
        alive = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if needle in (entry / "environ").read_bytes().split(b"\0"):
                        alive.append(int(entry.name))
                except OSError:
                    continue
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for pid in alive:  # started by this tool's run: ended by id
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return alive


def sweep(
    inputs: list[str],
    fmt: str,
    engine: str,
    kinds: tuple[str, ...],
    *,
    stride: int = 48,
    every: int = 1,
    only: list[int] | None = None,
    work: Path | None = None,
) -> list[Result]:
    """One :class:`Result` per kind for ``inputs`` written as ``fmt`` by ``engine``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    work = Path(tempfile.mkdtemp(prefix="fea-faults-", dir=work))
    try:
        clean_dir = work / "clean"
        clean_dir.mkdir()
        out = clean_dir / f"out.{fmt}"
        clean = _run("count", 0, clean_dir, _batch_args(inputs, out, engine, stride), env)
        if clean.returncode not in (0, 1) or "boundaries: " not in clean.stderr:
            raise RuntimeError(f"the clean run failed ({clean.returncode}): {clean.stderr[-2000:]}")
        counted = clean.stderr.rsplit("boundaries: ", 1)[1].split()
        boundaries, writes = int(counted[0]), int(counted[2])
        expected = Counter(read_out(out)["source"])
        results = []
        for kind in kinds:
            total = boundaries if kind == "kill" else writes
            result = Result(fmt, engine, kind, boundaries=total)
            started = time.monotonic()
            for n in only if only is not None else range(1, total + 1, every):
                folder = work / f"{kind}-{n}"
                folder.mkdir()
                out = folder / f"out.{fmt}"
                args = _batch_args(inputs, out, engine, stride)
                faulty = _run(kind, n, folder, args, env)
                result.runs += 1
                _check_fault(result, kind, n, faulty, out)
                if faulty.returncode == -signal.SIGKILL and (left := survivors(folder)):
                    result.orphans += 1
                    result.findings.append(f"{kind} at {n}: {len(left)} processes outlived the killed run")
                again = _run("count", -1, folder, args, env)
                result.runs += 1
                _check_resume(result, n, again, out, expected)
                shutil.rmtree(folder, ignore_errors=True)
            result.seconds = time.monotonic() - started
            results.append(result)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_fault(result: Result, kind: str, n: int, faulty: subprocess.CompletedProcess, out: Path) -> None:
    if "Traceback" in faulty.stderr:
        result.tracebacks += 1
        result.findings.append(f"{kind} at {n}: traceback: {faulty.stderr[-600:]}")
    killed = faulty.returncode == -signal.SIGKILL
    if kind == "enospc" and not killed and faulty.returncode != 3 and faulty.returncode not in (0, 1):
        result.bad_exits += 1
        result.findings.append(f"enospc at {n}: exit {faulty.returncode}: {faulty.stderr[-300:]}")
    if (
        kind == "enospc"
        and faulty.returncode == 3
        and "run the same command again" not in faulty.stderr.lower()
    ):
        result.bad_exits += 1
        result.findings.append(f"enospc at {n}: no resume hint: {faulty.stderr[-300:]}")
    if kind == "torn" and killed:
        return  # a kill inside a write may leave a cut line until the next run removes it
    try:
        read_out(out)
    except Exception as exc:
        result.unreadable_after_fault += 1
        result.findings.append(f"{kind} at {n}: OUT unreadable after the fault: {type(exc).__name__}: {exc}")


def _check_resume(
    result: Result, n: int, again: subprocess.CompletedProcess, out: Path, expected: Counter
) -> None:
    where = f"{result.kind} at {n}"
    if again.returncode not in (0, 1) or "Traceback" in again.stderr:
        result.bad_exits += 1
        result.findings.append(f"{where}: the resume exited {again.returncode}: {again.stderr[-600:]}")
    try:
        table = read_out(out)
    except Exception as exc:
        result.unreadable_after_resume += 1
        result.findings.append(f"{where}: OUT unreadable after the resume: {type(exc).__name__}: {exc}")
        return
    got = Counter(table["source"]) if table is not None else Counter()
    for source, rows in expected.items():
        if source not in got:
            result.lost += 1
            result.findings.append(f"{where}: {source} lost")
        elif got[source] != rows:
            # a source twice has twice its rows; a part-kept one has fewer
            if got[source] % rows == 0:
                result.duplicated += 1
            else:
                result.wrong_rows += 1
            result.findings.append(f"{where}: {source} has {got[source]} rows, the clean run {rows}")
    leftovers = [p.name for p in out.parent.iterdir() if p.name != out.name]
    if leftovers:
        result.leftovers += 1
        result.findings.append(f"{where}: left beside OUT: {leftovers}")


def default_inputs(folder: Path) -> list[str]:
    """A photo, a photo with five faces, a corrupt JPEG and the shared clip (linked into ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    links = {
        "astronaut.png": EDGE / "skimage_astronaut.png",
        "group.jpeg": EDGE / "pexels_group.jpeg",
        "clip.mp4": VIDEO,
    }
    for name, target in links.items():
        if not (folder / name).exists():
            (folder / name).symlink_to(target)
    (folder / "broken.jpg").write_bytes((EDGE / "pexels_angry.jpg").read_bytes()[:3000])
    return sorted(str(folder / name) for name in [*links, "broken.jpg"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--formats", default="csv,jsonl,parquet")
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--kinds", default="kill,torn,enospc")
    parser.add_argument("--every", type=int, default=1, help="test every N-th boundary (1: all)")
    parser.add_argument("--stride", type=int, default=48, help="the clip's frame stride (48: 10 frames)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fea-faults-inputs-") as folder:
        inputs = default_inputs(Path(folder))
        results = []
        for engine in args.engines.split(","):
            for fmt in args.formats.split(","):
                for result in sweep(
                    inputs, fmt, engine, tuple(args.kinds.split(",")), stride=args.stride, every=args.every
                ):
                    print(result.line(), flush=True)
                    for finding in result.findings[:5]:
                        print("    " + finding, flush=True)
                    results.append(result)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ | {"ok": r.ok} for r in results], indent=1))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
