"""Reading video frames one at a time (OpenCV ``VideoCapture``), so memory stays flat however long the video.

Every failure is an :class:`~fea_agent.errors.InvalidInputError` that names the file and the problem: a missing
file, a folder, a file OpenCV cannot open as video (an image, a text file, a truncated container), a video
with no frames.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fea_agent._native import quiet_stderr
from fea_agent.errors import InvalidInputError

#: File name endings treated as video by the batch runner and the CLI.
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts"}
)

#: File name endings of still images (refused as video; the batch runner analyses them as photos).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jfif", ".ppm", ".pgm"}
)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the file (0-based), its time in seconds and the RGB uint8 pixels."""

    index: int
    timestamp_s: float
    rgb: np.ndarray


class VideoReader:
    """Frames of a video file, decoded lazily: ``for frame in VideoReader(path, stride=2): ...``.

    Args:
        path: the video file.
        stride: analyse every ``stride``-th frame (1 = every frame); skipped frames are grabbed, not converted.
        max_frames: stop after yielding this many frames (None: the whole video).
        prefetch: frames decoded ahead in a background thread (0: decode in the caller's thread).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        stride: int = 1,
        max_frames: int | None = None,
        prefetch: int = 4,
    ) -> None:
        if stride < 1:
            raise InvalidInputError(f"stride must be 1 or more, got {stride}")
        if max_frames is not None and max_frames < 1:
            raise InvalidInputError(f"max_frames must be 1 or more, got {max_frames}")
        self.path = Path(path)
        self.stride = stride
        self.max_frames = max_frames
        self.prefetch = prefetch
        if not self.path.exists():
            raise InvalidInputError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise InvalidInputError(f"{self.path}: is a directory, not a video file")
        if self.path.suffix.lower() in IMAGE_EXTENSIONS:
            raise InvalidInputError(f"{self.path}: is a still image, not a video; analyse it with analyze()")
        if self.path.stat().st_size == 0:
            raise InvalidInputError(f"{self.path}: file is empty (0 bytes)")
        # FFmpeg complains on stderr about files that are not video; the error below says it in one line.
        with quiet_stderr():
            capture = cv2.VideoCapture(str(self.path))
            try:
                opened = capture.isOpened()
                self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0) if opened else 0.0
                count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if opened else 0
                self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0) if opened else 0
                self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0) if opened else 0
                first_ok = opened and capture.read()[0]
            finally:
                capture.release()
        if not opened:
            raise InvalidInputError(f"{self.path}: not a video, or a format OpenCV cannot decode")
        # A still image opens as a one-frame "video" with OpenCV's image backend; refuse it by its frame rate.
        if self.fps <= 0 or self.fps > 1000:
            raise InvalidInputError(
                f"{self.path}: not a video (no frame rate); analyse images with analyze()"
            )
        if not first_ok:
            raise InvalidInputError(f"{self.path}: the video has no frames that can be decoded")
        #: Frames in the container as its header says (None when it does not say); may be slightly off.
        self.frame_count: int | None = count if count > 0 else None

    @property
    def duration_s(self) -> float | None:
        return self.frame_count / self.fps if self.frame_count else None

    @property
    def expected_frames(self) -> int | None:
        """How many frames iterating will yield, from the header (None when unknown)."""
        if self.frame_count is None:
            return self.max_frames
        n = math.ceil(self.frame_count / self.stride)
        return min(n, self.max_frames) if self.max_frames is not None else n

    def __iter__(self) -> Iterator[Frame]:
        """Frames in order. Decoding runs a few frames ahead in a thread, overlapping the models' work;
        the queue is bounded (``prefetch`` frames), so memory stays flat."""
        if self.prefetch <= 0:
            yield from self._decode(threading.Event())
            return
        frames: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def produce() -> None:
            try:
                for frame in self._decode(stop):
                    while not stop.is_set():
                        try:
                            frames.put(frame, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                item: Frame | BaseException | None = None
            except BaseException as exc:  # handed to the consumer, raised there
                item = exc
            while not stop.is_set():
                try:
                    frames.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        thread = threading.Thread(target=produce, name="fea-video-decode", daemon=True)
        thread.start()
        try:
            while True:
                item = frames.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=5)

    def _decode(self, stop: threading.Event) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise InvalidInputError(f"{self.path}: not a video, or a format OpenCV cannot decode")
        try:
            index = yielded = 0
            while (self.max_frames is None or yielded < self.max_frames) and not stop.is_set():
                if index % self.stride:
                    if not capture.grab():
                        break
                    index += 1
                    continue
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    break
                yield Frame(index, index / self.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                yielded += 1
                index += 1
            if index == 0:
                raise InvalidInputError(f"{self.path}: the video has no frames that can be decoded")
        finally:
            capture.release()
