"""Quieting the native libraries (OpenCV, MediaPipe, LiteRT), which log to the process's stderr from C++."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterator
from typing import Protocol

# Read by OpenCV and glog-style loggers when they initialise: set before they are imported.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Hold back what native code writes to file descriptor 2; replay it only if the block raises.

    Model loading prints banners (XNNPACK delegate, feedback manager) that would mix into a CLI's or an
    MCP stdio server's output. Set FEA_AGENT_NATIVE_LOGS=1 to see them.
    """
    if os.environ.get("FEA_AGENT_NATIVE_LOGS"):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a descriptor
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        except BaseException:
            os.dup2(saved, fd)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, fd)
            os.close(saved)


class _Closable(Protocol):
    def close(self) -> None: ...


# MediaPipe closes a task through a thread pool, which is gone once the interpreter shuts down; close open
# tasks before that pool stops (threading's exit hooks run before atexit's, last registered first).
_open: weakref.WeakSet[_Closable] = weakref.WeakSet()


def close_at_exit(task: _Closable) -> None:
    """Close ``task`` (a MediaPipe task wrapper) before the interpreter's thread pools stop."""
    _open.add(task)


def _close_all() -> None:
    for task in list(_open):
        task.close()


getattr(threading, "_register_atexit", atexit.register)(_close_all)
