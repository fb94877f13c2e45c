"""Uploads that leave nothing behind: the demo's image and video inputs delete the uploaded file once read.

Gradio stores every upload in its cache folder before a handler sees it. Face photos are biometric data, so
the image input reads the bytes into memory and deletes the file at once (its own preprocessing would also
write a converted copy), and the video input hands over a path that the handler deletes with :func:`discard`
as soon as the frames are analysed. The app also points Gradio at a private cache folder that is swept while
it runs and removed when the process exits, on SIGTERM and SIGHUP too (:func:`private_cache_dir`,
:func:`remove_cache_on_exit`). Photos sent to the MCP endpoint as data URIs are written by Gradio into that
folder (not ``/tmp/gradio``) and deleted by the image input once read.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

_PRIVATE_CACHE: Path | None = None

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


def private_cache_dir() -> Path:
    """A cache folder for Gradio, readable by this user only and removed at exit (unless one is configured).

    Gradio reads ``GRADIO_TEMP_DIR`` when it builds components and the server, so call this before both.
    """
    global _PRIVATE_CACHE
    configured = os.environ.get("GRADIO_TEMP_DIR")
    if configured:
        folder = Path(configured)
    else:
        if _PRIVATE_CACHE is None:
            _PRIVATE_CACHE = Path(tempfile.mkdtemp(prefix="fea-agent-demo-"))  # mode 0700
            atexit.register(shutil.rmtree, _PRIVATE_CACHE, ignore_errors=True)
        folder = _PRIVATE_CACHE
        os.environ["GRADIO_TEMP_DIR"] = str(folder)
    for name in _GRADIO_TEMP_DIR_CONSTANTS:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "DEFAULT_TEMP_DIR"):
            module.DEFAULT_TEMP_DIR = str(folder)
    return folder


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


def _payload_path(payload: Any) -> str | None:
    if payload is None:
        return None
    if isinstance(payload, FileData):
        return payload.path
    if isinstance(payload, dict):
        return payload.get("path")
    return getattr(payload, "path", None)


def _read_and_discard(payload: Any) -> Upload | None:
    path = _payload_path(payload)
    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise gr.Error(
            f"the upload could not be read ({exc.strerror or exc}); please upload it again"
        ) from None
    finally:
        discard(path)
    _discard_copies(Path(path), data)
    name = getattr(payload, "orig_name", None) or Path(path).name
    return Upload(data=data, name=name)


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


def _video_path(payload: Any) -> str | None:
    return _payload_path(getattr(payload, "video", payload))


# Instances are patched rather than subclassed: Gradio writes a .pyi stub next to any module that subclasses
# a component, which would litter the installed package.
def ephemeral_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` whose handler receives an :class:`Upload` (bytes in memory); the upload is deleted at
    once. Decoding is left to :func:`fea_agent.io.images.load_image`, so a bad file gets fea-agent's clear
    message instead of a Pillow traceback."""
    component = gr.Image(**kwargs)
    component.preprocess = _read_and_discard  # type: ignore[method-assign]
    return component


def ephemeral_video(**kwargs: Any) -> gr.Video:
    """A ``gr.Video`` that passes the uploaded file's path unconverted; the handler must :func:`discard` it."""
    component = gr.Video(**kwargs)
    component.preprocess = _video_path  # type: ignore[method-assign]
    return component
