"""Reading video frames one at a time (OpenCV ``VideoCapture``), so memory stays flat however long the video.

Every failure is an :class:`~fea_agent.errors.InvalidInputError` that names the file and the problem: a missing
file, a folder or special file, a file that is not a video container (an image, a text file, a playlist), a
video OpenCV cannot decode (a truncated container), one above the pixel limit, a video with no frames.

Only files that start like a video container reach FFmpeg (see :func:`container_of`): FFmpeg picks its
demuxer from the content, not the name, and its playlist and list demuxers (HLS ``.m3u8``, ``ffconcat``,
DASH, SDP) open the files and URLs the text names, which would read outside the folder an MCP server allows.
The file is opened once, checked on the open descriptor and held open; FFmpeg reads it through the descriptor
(:class:`~fea_agent.io.files.HeldFile`), so a file swapped in at the same path after the check is never read.

A video that decodes only in part says so (a warning logged, and :attr:`VideoReader.warnings`): decoding that
stops well before the frame count the header announces (a damaged index, a cut file), and timestamps that
jump back (streams joined one after the other; OpenCV scales a change of frame size there to the first size).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from fea_agent._native import quiet_stderr
from fea_agent.errors import InvalidInputError
from fea_agent.io.files import HeldFile
from fea_agent.io.images import MAX_PIXELS

log = logging.getLogger(__name__)

#: Video files are not read into memory, so their size is not limited (FFmpeg streams them).
_ANY_SIZE = 1 << 50

#: Box types an MP4 / QuickTime / 3GP file starts with (after the 4-byte box size).
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")

#: File name endings treated as video by the batch runner and the CLI.
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts"}
)

#: File name endings of still images (refused as video; the batch runner analyses them as photos).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".gif",
        ".jfif",
        ".ppm",
        ".pgm",
        ".pbm",
        ".avif",
    }
)


def container_of(head: bytes) -> str | None:
    """The video container a file's first bytes announce (mp4, matroska, avi, ...), or None for anything
    else: still images, text, playlists and lists of other files."""
    if head[4:8] in _MP4_BOXES:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "mpeg"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    if len(head) > 196 and head[4] == 0x47 and head[196] == 0x47:
        return "m2ts"
    return None


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the file (0-based), its time in seconds and the RGB uint8 pixels."""

    index: int
    timestamp_s: float
    rgb: np.ndarray


@runtime_checkable
class FrameSource(Protocol):
    """What VIDEO mode (:meth:`FEAPipeline.run_video <fea_agent.pipeline.FEAPipeline.run_video>`) reads:
    frames in time order, and the few facts about them it needs."""

    #: Written as each frame result's ``source``.
    label: str

    @property
    def frame_gap_s(self) -> float:
        """Seconds between two frames it yields (the stride over the frame rate; a live source's interval)."""
        ...

    @property
    def expected_frames(self) -> int | None:
        """How many frames it will yield, when known (for progress)."""
        ...

    @property
    def live(self) -> bool:
        """True when frames arrive in real time (a camera): each is analysed as it comes, never waiting for
        the next one to look ahead."""
        ...

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class VideoReader:
    """Frames of a video file, decoded lazily: ``for frame in VideoReader(path, stride=2): ...``.

    Args:
        path: the video file.
        stride: analyse every ``stride``-th frame (1 = every frame); skipped frames are grabbed, not converted.
        max_frames: stop after yielding this many frames (None: the whole video).
        prefetch: frames decoded ahead in a background thread (0: decode in the caller's thread).
        max_pixels: refuse videos whose frames have more pixels than this (as images).
    """

    live = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        stride: int = 1,
        max_frames: int | None = None,
        prefetch: int = 4,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        if stride < 1:
            raise InvalidInputError(f"stride must be 1 or more, got {stride}")
        if max_frames is not None and max_frames < 1:
            raise InvalidInputError(f"max_frames must be 1 or more, got {max_frames}")
        self.path = Path(path)
        self.label = str(path)
        self.stride = stride
        self.max_frames = max_frames
        self.prefetch = prefetch
        if self.path.suffix.lower() in IMAGE_EXTENSIONS:
            raise InvalidInputError(f"{self.path}: is a still image, not a video; analyse it with analyze()")
        self._decoders: list[tuple[threading.Event, threading.Thread]] = []
        #: What went wrong while decoding (also logged): the video was analysed only in part.
        self.warnings: list[str] = []
        self._file = HeldFile(self.path, label=str(path), max_bytes=_ANY_SIZE)
        try:
            self._probe(path, max_pixels)
        except BaseException:
            self._file.close()
            raise

    def _probe(self, path: str | os.PathLike[str], max_pixels: int) -> None:
        """Check that the held file is a decodable video within the pixel limit; read its header fields."""
        self.path = self._file.path
        if container_of(self._file.head(256)) is None:
            raise InvalidInputError(
                f"{path}: not a video (the file does not start like an MP4, MOV, MKV/WebM, AVI, MPEG, "
                "FLV, WMV or Ogg container; playlists and still images are refused)"
            )
        # FFmpeg complains on stderr about files that are not video; the error below says it in one line.
        with quiet_stderr():
            capture = cv2.VideoCapture(self._file.reader_path, cv2.CAP_FFMPEG)
            try:
                opened = capture.isOpened()
                self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0) if opened else 0.0
                count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if opened else 0
                self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0) if opened else 0
                self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0) if opened else 0
                too_big = self.width * self.height > max_pixels
                first_ok = opened and not too_big and capture.read()[0]
            finally:
                capture.release()
        if not opened:
            raise InvalidInputError(f"{path}: not a video, or a format OpenCV cannot decode")
        if too_big:
            raise InvalidInputError(
                f"{path}: video frames are {self.width}x{self.height} = {self.width * self.height:,} pixels, "
                f"above the limit of {max_pixels:,}; downscale it first"
            )
        if self.fps <= 0 or self.fps > 1000:
            raise InvalidInputError(f"{path}: not a video (no frame rate); analyse images with analyze()")
        if not first_ok:
            raise InvalidInputError(f"{path}: the video has no frames that can be decoded")
        #: Frames in the container as its header says (None when it does not say); may be slightly off.
        self.frame_count: int | None = count if count > 0 else None

    def close(self) -> None:
        """Stop the decoding threads and close the held file (also done when the reader is garbage-collected).

        A decoding thread left running at interpreter exit would be torn down inside FFmpeg's C++ code,
        which aborts the process ("FATAL: exception not rethrown")."""
        for stop, thread in list(self._decoders):
            stop.set()
            thread.join(timeout=5)
        self._file.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def frame_gap_s(self) -> float:
        return self.stride / self.fps

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
        self._decoders.append((stop, thread))
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
            self._decoders.remove((stop, thread))

    def _decode(self, stop: threading.Event) -> Iterator[Frame]:
        capture = cv2.VideoCapture(self._file.reader_path, cv2.CAP_FFMPEG)
        if not capture.isOpened():
            raise InvalidInputError(f"{self.path}: not a video, or a format OpenCV cannot decode")
        try:
            index = yielded = 0
            ended = False  # by the stream, not by max_frames or the consumer
            last_ms = -1.0
            jumped = False
            while (self.max_frames is None or yielded < self.max_frames) and not stop.is_set():
                if index % self.stride:
                    if not capture.grab():
                        ended = True
                        break
                else:
                    ok, bgr = capture.read()
                    if not ok or bgr is None:
                        ended = True
                        break
                    yield Frame(index, index / self.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                    yielded += 1
                at_ms = float(capture.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
                if at_ms + 500.0 / self.fps < last_ms and not jumped:
                    jumped = True  # once: a stream of many joined parts is one finding
                    self._warn(
                        f"{self.path}: the stream starts again at frame {index} (its timestamps jump back from "
                        f"{last_ms / 1000:.2f} s to {at_ms / 1000:.2f} s): streams joined one after another; a "
                        "change of frame size there is scaled to the first size"
                    )
                last_ms = at_ms
                index += 1
            if index == 0:
                raise InvalidInputError(f"{self.path}: the video has no frames that can be decoded")
            expected = self.frame_count
            if ended and expected and index < expected - max(2, expected // 100):
                self._warn(
                    f"{self.path}: decoding stopped at frame {index} of the {expected} its header announces (a "
                    "damaged index or a cut file); the rest of the video is not analysed"
                )
        finally:
            capture.release()

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning(message)
