"""The processes of a local Ray end with the batch run that started them, even when the run is SIGKILLed.

Ray's raylet and GCS die with their driver, but its node agents (``DashboardAgent``, ``RuntimeEnvAgent``) then
spend about 60 s trying to report the death to the dead GCS before they exit. A watchdog in its own session holds
the read end of a pipe whose write end only the run holds: when the run dies, however it dies, the pipe reaches
end of file and the watchdog kills the processes the run had started (each checked by its start time, so a
reused pid is never touched). Linux only (``/proc``); elsewhere nothing is watched.

This file is also the watchdog's program (run by path, so it imports only the standard library).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

PROC = Path("/proc")


def _start_time(pid: int) -> int | None:
    try:  # field 22 of stat, counted after the parenthesised command name, which may hold spaces
        return int((PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> list[tuple[int, int]]:
    """Every live descendant of ``pid`` as ``(pid, start time)``; empty where there is no ``/proc``."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found: list[tuple[int, int]] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and (started := _start_time(child)) is not None:
                found.append((child, started))
                frontier.append(child)
    return found


class FateShare:
    """Kill this process's descendants, as found now and less ``older``, once it is gone or :meth:`close` runs."""

    def __init__(self, older: Collection[tuple[int, int]] = ()) -> None:
        self._watchdog: subprocess.Popen[bytes] | None = None
        watched = [child for child in descendants(os.getpid()) if child not in older]
        if not watched:
            return
        self._watchdog = subprocess.Popen(
            [sys.executable, "-I", __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the run's process group must not end the watchdog first
        )
        assert self._watchdog.stdin is not None
        self._watchdog.stdin.write(json.dumps(watched).encode() + b"\n")
        self._watchdog.stdin.flush()

    def close(self) -> None:
        """End the watch: whatever of the watched processes is still alive is killed now."""
        if self._watchdog is None:
            return
        watchdog, self._watchdog = self._watchdog, None
        with contextlib.suppress(OSError):
            assert watchdog.stdin is not None
            watchdog.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            watchdog.wait(timeout=10)


def _watch() -> None:
    watched = json.loads(sys.stdin.buffer.readline() or b"[]")
    while sys.stdin.buffer.read(65536):  # nothing more is sent: this returns b"" when the run is gone
        pass
    for pid, started in watched:
        if _start_time(pid) == started:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch()
