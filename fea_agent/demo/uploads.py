"""Uploads that leave nothing behind, whatever a visitor does next.

Gradio stores every upload in its cache folder before a handler sees it, and the browser names that file again
on every later event that takes the component as input. Face photos are biometric data, so:

- events that take an upload get it raw (``preprocess=False``, :func:`upload_ref`), never decoded by Gradio;
- a photo is read into memory once and its file deleted at once (:func:`read_uploads`); the page then clears
  its input (the photo lives on in the session's memory), so nothing ever names the deleted file again;
- a video, which a visitor may analyse again with another stride, stays in the app's private cache while its
  session holds it (:class:`HeldFiles`): it is deleted when the visitor replaces or clears it, closes the tab,
  after 30 minutes idle, or when the app stops;
- the app points Gradio at a private cache folder (mode 0700, ``fea-agent-demo-*`` in the temp dir) that is
  removed when the process exits, on SIGTERM and SIGHUP too, and on the next start after a SIGKILL
  (:func:`private_cache_dir`, :func:`remove_cache_on_exit`). Photos sent to the MCP endpoint as data URIs are
  written by Gradio into that folder (not ``/tmp/gradio``) and deleted once read, with the copy Gradio makes.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import glob
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

#: The name of the app's private cache folders in the temp dir; the prefix identifies leftovers of a killed run.
CACHE_PREFIX = "fea-agent-demo-"
#: Held by a running app for as long as it lives (the kernel drops the lock when the process dies, SIGKILL too).
LOCK_NAME = ".lock"

_PRIVATE_CACHE: Path | None = None
_LOCK_FD: int | None = None

#: Gradio modules that copy ``GRADIO_TEMP_DIR`` into a constant when imported (``import gradio`` imports
#: them), so setting the variable later misses them: the MCP endpoint would save photos to /tmp/gradio.
_GRADIO_TEMP_DIR_CONSTANTS = (
    "gradio.mcp",
    "gradio.route_utils",
    "gradio.routes",
    "gradio.screen_recording_utils",
)


@dataclass(frozen=True)
class Upload:
    """An uploaded file's bytes, held in memory only, and the name the user gave it."""

    data: bytes
    name: str


@dataclass(frozen=True)
class UploadRef:
    """An upload as a handler receives it: where Gradio stored it, not yet read."""

    path: str
    name: str


def private_cache_dir() -> Path:
    """A cache folder for Gradio, readable by this user only and removed at exit (unless one is configured).

    Gradio reads ``GRADIO_TEMP_DIR`` when it builds components and the server, so call this before both. The
    first call also removes the folders that killed runs of the app left behind (:func:`remove_stale_caches`).
    """
    global _PRIVATE_CACHE, _LOCK_FD
    configured = os.environ.get("GRADIO_TEMP_DIR")
    if configured:
        folder = Path(configured)
    else:
        if _PRIVATE_CACHE is None:
            remove_stale_caches()
            _PRIVATE_CACHE = Path(tempfile.mkdtemp(prefix=CACHE_PREFIX))  # mode 0700
            _LOCK_FD = _lock(_PRIVATE_CACHE)
            atexit.register(shutil.rmtree, _PRIVATE_CACHE, ignore_errors=True)
        folder = _PRIVATE_CACHE
        os.environ["GRADIO_TEMP_DIR"] = str(folder)
    for name in _GRADIO_TEMP_DIR_CONSTANTS:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "DEFAULT_TEMP_DIR"):
            module.DEFAULT_TEMP_DIR = str(folder)
    return folder


def _lock(folder: Path) -> int:
    """Lock ``folder`` as in use by this process; the descriptor stays open until the process ends."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def remove_stale_caches(root: Path | None = None) -> list[Path]:
    """Remove the private cache folders of app runs that died without cleaning up (a SIGKILL mid-analysis
    leaves the uploaded video there). Only folders named ``fea-agent-demo-*``, owned by this user, not links,
    that hold a lock file no live process holds; a folder without one (an app starting right now, or a
    version before the lock) is left alone. Returns the folders removed."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    for folder in root.glob(f"{CACHE_PREFIX}*"):
        with contextlib.suppress(OSError):
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or folder == _PRIVATE_CACHE:
                continue
            if _abandoned(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # no lock file (or not a plain one): not ours to judge
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a running app holds it
    finally:
        os.close(fd)
    return True


def remove_cache_on_exit(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """Remove the private cache folder when the process is told to stop by a signal (atexit handlers do not
    run then), and then stop as the signal would have. Only from the main thread, where Python takes signals."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in signals:
        previous = signal.getsignal(signum)

        def handler(received: int, frame: Any, previous: Any = previous) -> None:
            if _PRIVATE_CACHE is not None:
                shutil.rmtree(_PRIVATE_CACHE, ignore_errors=True)
            if callable(previous):
                previous(received, frame)
                return
            if previous == signal.SIG_IGN:
                return
            signal.signal(received, signal.SIG_DFL)
            os.kill(os.getpid(), received)

        signal.signal(signum, handler)


def discard(path: str | os.PathLike[str] | None) -> None:
    """Delete an uploaded file and its per-upload folder (Gradio makes one folder per upload)."""
    if not path:
        return
    file = Path(path)
    with contextlib.suppress(OSError):
        file.unlink()
    with contextlib.suppress(OSError):
        file.parent.rmdir()  # only succeeds when empty, so nothing else is lost


def read_uploads(*refs: UploadRef | None) -> tuple[Upload | None, ...]:
    """Read uploads into memory and delete their files (and Gradio's copies) at once.

    The same file named twice (one photo as both A and B: Gradio stores uploads by content, so both name one
    path) is read once. A file that is gone (an API client re-sending a path it already used) is a message
    asking for the upload again."""
    read: dict[str, Upload] = {}
    out: list[Upload | None] = []
    for ref in refs:
        if ref is None:
            out.append(None)
            continue
        if ref.path not in read:
            read[ref.path] = _read_and_discard(ref)
        out.append(read[ref.path])
    return tuple(out)


def _read_and_discard(ref: UploadRef) -> Upload:
    path = Path(ref.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise gr.Error(
            f"the upload {ref.name!r} could not be read ({exc.strerror or exc}); please upload it again"
        ) from None
    finally:
        discard(path)
    _discard_copies(path, data)
    return Upload(data=data, name=ref.name)


def _discard_copies(path: Path, data: bytes) -> None:
    """Delete other copies of an upload in the cache folder. A photo sent to the MCP endpoint as a data URI
    is saved by Gradio under a hash of the text, then copied under a hash of the bytes; the handler gets the
    copy. Copies sit one folder deep under the cache root, with the same name and the same bytes."""
    root = path.parent.parent
    cache = os.environ.get("GRADIO_TEMP_DIR")
    if not cache or root.resolve() != Path(cache).resolve():  # only ever inside Gradio's cache folder
        return
    with contextlib.suppress(OSError):
        for candidate in root.glob(f"*/{glob.escape(path.name)}"):
            with contextlib.suppress(OSError):
                if candidate.stat().st_size == len(data) and candidate.read_bytes() == data:
                    discard(candidate)


@dataclass(frozen=True)
class Held:
    """A session's hold on an uploaded file (the value of its ``gr.State``)."""

    path: str
    name: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


class HeldFiles:
    """Uploaded files that sessions keep using, deleted when their last holder lets go.

    Gradio stores uploads by content, so two visitors who upload the same clip share one file: it is counted
    per holder. A held file is kept out of Gradio's cache sweep (the component's ``keep_in_cache``), which would
    otherwise delete it after a few minutes under a visitor who comes back to it."""

    def __init__(self, component: gr.components.Component) -> None:
        self._component = component
        self._holders: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def hold(self, ref: UploadRef) -> Held:
        held = Held(ref.path, ref.name)
        with self._lock:
            self._holders.setdefault(held.path, set()).add(held.token)
            self._component.keep_in_cache.add(held.path)
        return held

    def release(self, held: Held | None) -> None:
        """Let go of ``held`` (safe to call twice); the file is deleted when no session holds it any more."""
        if not isinstance(held, Held):
            return
        with self._lock:
            holders = self._holders.get(held.path)
            if holders is None or held.token not in holders:
                return
            holders.discard(held.token)
            if holders:
                return
            del self._holders[held.path]
            self._component.keep_in_cache.discard(held.path)
        discard(held.path)

    def is_held(self, path: str) -> bool:
        with self._lock:
            return path in self._holders


def upload_ref(payload: Any) -> UploadRef | None:
    """The upload an event received raw (``preprocess=False``): a ``gr.Image`` or ``gr.Video`` payload, as a
    dict or a :class:`FileData`, or None when the input is empty.

    Events that take an upload must pass ``preprocess=False``: Gradio's own preprocessing decodes the file and
    leaves it on disk (and may write a converted copy), and patching a component's ``preprocess`` does not
    hold, since Gradio rebuilds a session's components from their arguments (the webcam does)."""
    if isinstance(payload, dict) and "video" in payload:
        payload = payload["video"]
    else:
        payload = getattr(payload, "video", payload)
    if payload is None:
        return None
    if isinstance(payload, FileData):
        path, name = payload.path, payload.orig_name
    elif isinstance(payload, dict):
        path, name = payload.get("path"), payload.get("orig_name")
    else:
        raise gr.Error(f"not an upload: {type(payload).__name__}")
    if not path:
        return None
    return UploadRef(path=str(path), name=name or Path(path).name)
