"""A local Ray's processes end with the batch run that started them: the watchdog in ``batch/fate.py``, on real
processes (a run SIGKILLed, a run that closes normally, a process that was there before and is left alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="the watchdog reads /proc (Linux)"
)

RUN = """
import subprocess, sys, time
from fea_agent.batch.fate import FateShare, descendants
before = subprocess.Popen(["sleep", "300"])
older = descendants(subprocess.os.getpid())
started = subprocess.Popen(["sleep", "300"])
fate = FateShare(older)
print(before.pid, started.pid, flush=True)
if sys.argv[1] == "close":
    fate.close()
    print("closed", flush=True)
time.sleep(300)
"""


def alive(pid: int) -> bool:
    try:  # a killed orphan may stay a zombie where nothing reaps it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def start(mode: str) -> tuple[subprocess.Popen[str], int, int]:
    run = subprocess.Popen([sys.executable, "-c", RUN, mode], stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    before, started = map(int, run.stdout.readline().split())
    return run, before, started


def test_what_a_killed_run_started_is_killed_and_what_it_found_is_left():
    run, before, started = start("wait")
    try:
        assert alive(started)
        run.send_signal(signal.SIGKILL)
        run.wait()
        assert gone_within(started, 5), "the watched process outlived the killed run"
        assert alive(before), "a process that existed before the watch began was killed"
    finally:
        for pid in (before, started):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_close_ends_the_watch_and_what_is_still_alive():
    run, before, started = start("close")
    try:
        assert run.stdout is not None and run.stdout.readline().strip() == "closed"
        assert not alive(started) and alive(before)
    finally:
        run.kill()
        run.wait()
        if alive(before):
            os.kill(before, signal.SIGKILL)
