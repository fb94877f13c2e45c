"""Live input: a camera, a stream or a file analysed as it plays, never falling behind.

A reader thread pulls frames from OpenCV into a one-frame slot; the analysis loop takes whatever frame is in
the slot when it is ready for the next one. A frame the reader puts in the slot before the last one was taken
replaces it and counts as dropped. So the analysed frame is at most one frame interval plus one analysis old,
however slow the analysis: latency stays bounded and frames are dropped instead.

A file is played at its own frame rate (as a camera would deliver it) and ends at its last frame; a camera
or a stream runs until it stops delivering or the caller stops it.

    from fea_agent import FEAPipeline
    from fea_agent.video.live import LiveSession

    with FEAPipeline() as pipeline:
        stats = LiveSession("0", pipeline).run(lambda result: print(result.faces))
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from fea_agent._native import quiet_stderr
from fea_agent.errors import InvalidInputError
from fea_agent.io.files import describe_os_error, expand_path, open_regular
from fea_agent.io.video import Frame, container_of
from fea_agent.results import ImageResult
from fea_agent.video.episodes import EpisodeEvent, EpisodeOptions, EpisodeTracker

#: Frame interval assumed for a camera or stream that does not report its frame rate.
DEFAULT_FPS = 30.0


@dataclass
class LiveStats:
    """What a live run did: frames analysed, frames dropped to keep up, and for how long it ran."""

    frames: int = 0
    dropped: int = 0
    seconds: float = 0.0
    #: Seconds from a frame's arrival to the end of its analysis, worst case.
    max_latency_s: float = 0.0
    #: Stopped by Ctrl-C (the usual way to end a camera run).
    interrupted: bool = False

    def line(self) -> str:
        return f"{self.frames} frames, {self.dropped} dropped"


#: Stream URL schemes read (``file://`` is not one: a file is given by its path, and checked).
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "rtp", "srt", "tcp"})
#: What FFmpeg may open for a stream URL, nested opens included: an HLS playlist fetched over HTTP may name
#: ``file:`` segments, which would read this machine's files; without ``file`` here, FFmpeg refuses them.
STREAM_PROTOCOLS = "http,https,tls,tcp,udp,rtp,srtp,rtsp,rtsps,rtmp,rtmps,rtmpt,srt,crypto,hls"
#: The major device number of Video4Linux devices (cameras, /dev/video*).
_V4L2_MAJOR = 81


def parse_source(text: str) -> int | str:
    """A camera index (``"0"``), a camera device (``/dev/video0``), a stream URL (``rtsp://``,
    ``http://``, ...) or a video file, checked: a file must be a regular file that starts like a video
    container, so a FIFO (which would block the reader for ever), another device, or a playlist or list of
    other files is refused by name."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in STREAM_SCHEMES:
            raise InvalidInputError(
                f"{text}: {scheme}:// is not a stream source; use {', '.join(sorted(STREAM_SCHEMES))}, "
                "or give a file by its path"
            )
        return text
    path = expand_path(text)
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise InvalidInputError(f"{text}: no such file, and not a camera index or a stream URL") from None
        raise InvalidInputError(f"{text}: {describe_os_error(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInputError(f"{text}: is a folder, not a video")
    if stat.S_ISCHR(info.st_mode) and os.major(info.st_rdev) == _V4L2_MAJOR:
        return str(path)  # a camera
    with open_regular(path, label=text, max_bytes=1 << 50) as (fd, _size):
        head = os.pread(fd, 256, 0)
    if container_of(head) is None:
        raise InvalidInputError(
            f"{text}: not a video (the file does not start like a video container; playlists and still "
            "images are refused)"
        )
    return str(path)


def _open_capture(source: int | str) -> cv2.VideoCapture:
    """OpenCV's capture of ``source``; for a stream URL, FFmpeg limited to network protocols."""
    if not (isinstance(source, str) and "://" in source):
        return cv2.VideoCapture(source)
    key = "OPENCV_FFMPEG_CAPTURE_OPTIONS"  # read by OpenCV when it opens a capture
    before = os.environ.get(key)
    os.environ[key] = f"protocol_whitelist;{STREAM_PROTOCOLS}"
    try:
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG)
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


@dataclass
class _Slot:
    """The latest frame the reader delivered and not yet taken, with its arrival time."""

    frame: Frame | None = None
    arrived: float = 0.0
    dropped: int = 0
    finished: bool = False


class LiveFrames:
    """A :class:`~fea_agent.io.video.FrameSource` that never falls behind: a reader thread pulls frames from
    OpenCV into a one-frame slot, and iteration takes whatever frame is in the slot when it is ready for the
    next one. A frame that arrives before the last one was taken replaces it and counts as dropped."""

    #: Frames arrive in real time: VIDEO mode takes each as it comes, without waiting for the next.
    live = True
    expected_frames: int | None = None

    def __init__(self, capture: cv2.VideoCapture, label: str, fps: float, *, paced: bool) -> None:
        self._capture = capture
        self.label = label
        self.frame_gap_s = 1.0 / fps
        self._paced = paced  # a file delivers frame i at i / fps, as a camera would
        self._slot = _Slot()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: The frame iteration gave last, and its arrival time (time.monotonic).
        self.last: Frame | None = None
        self.arrived = 0.0

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    def stop(self) -> None:
        """End iteration after the frame being analysed."""
        self._stop.set()
        with self._ready:
            self._ready.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        self._thread = threading.Thread(target=self._read, name="fea-live-reader", daemon=True)
        self._thread.start()
        while True:
            with self._ready:
                while self._slot.frame is None and not self._slot.finished and not self._stop.is_set():
                    self._ready.wait(0.5)
                frame, self._slot.frame = self._slot.frame, None
                self.last, self.arrived = frame, self._slot.arrived
            if frame is None or self._stop.is_set():
                return
            yield frame

    def close(self) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._capture.release()

    def _read(self) -> None:
        """Reader thread: deliver frames into the slot, a file at its own frame rate."""
        started = time.monotonic()
        index = 0
        try:
            while not self._stop.is_set():
                if self._paced:
                    delay = started + index * self.frame_gap_s - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                ok, bgr = self._capture.read()
                if not ok:
                    break
                now = time.monotonic()
                timestamp = index * self.frame_gap_s if self._paced else now - started
                frame = Frame(index, timestamp, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                with self._ready:
                    if self._slot.frame is not None:
                        self._slot.dropped += 1
                    self._slot.frame, self._slot.arrived = frame, now
                    self._ready.notify_all()
                index += 1
        finally:
            with self._ready:
                self._slot.finished = True
                self._ready.notify_all()


def preview_unavailable() -> str | None:
    """Why a preview window cannot open here, or None. Checked before anything is opened: OpenCV's Qt aborts
    the whole process (SIGABRT, exit 134) when it finds no display, after the output file was created."""
    gui = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), flags=re.M)
    if gui is not None and gui.group(1).upper() == "NONE":
        return (
            "--preview needs a window, and this OpenCV has no GUI (a headless build); run without --preview"
        )
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return (
            "--preview needs a display, and there is none ($DISPLAY and $WAYLAND_DISPLAY are unset); "
            "run without --preview, or from a desktop session or with X forwarding (ssh -X)"
        )
    return None


class LiveSession:
    """One live source analysed by one pipeline in VIDEO mode (faces tracked, each with its ``face_id``);
    :meth:`run` blocks until the source ends or :meth:`stop`.

    Args:
        source: camera index, stream URL or video file (a string, as on the command line, or an int).
        pipeline: a :class:`~fea_agent.pipeline.FEAPipeline`; its :meth:`~fea_agent.pipeline.FEAPipeline.run_video`
            analyses the frames.
        preview: show the annotated frames in a window (needs a display: without one, :class:`InvalidInputError`
            from :func:`preview_unavailable` before anything is opened; off by default, so it runs headless).
        max_frames: stop after this many analysed frames.
    """

    def __init__(
        self, source: int | str, pipeline: Any, *, preview: bool = False, max_frames: int | None = None
    ) -> None:
        if preview and (reason := preview_unavailable()) is not None:
            raise InvalidInputError(reason)
        self.source = parse_source(source) if isinstance(source, str) else source
        self.pipeline = pipeline
        self.preview = preview
        self.max_frames = max_frames
        self.is_file = isinstance(self.source, str) and "://" not in self.source
        with quiet_stderr():
            capture = _open_capture(self.source)
        if not capture.isOpened():
            capture.release()
            raise InvalidInputError(f"{self.source}: OpenCV cannot open it as a camera, stream or video")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and 1 <= fps <= 240 else DEFAULT_FPS
        self._size = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or 640,
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or 480,
        )
        self._frames = LiveFrames(capture, str(self.source), self.fps, paced=self.is_file)

    def stop(self) -> None:
        """Ask :meth:`run` to finish after the frame it is analysing."""
        self._frames.stop()

    def run(
        self,
        on_result: Callable[[ImageResult], None] | None = None,
        on_event: Callable[[EpisodeEvent], None] | None = None,
        episodes: EpisodeOptions | None = None,
    ) -> LiveStats:
        """Analyse frames until the source ends, ``max_frames`` or :meth:`stop`; ``on_result`` gets each
        result (with ``frame_index``, ``timestamp_s`` and each face's ``face_id``) as soon as it is ready.

        ``on_event`` gets each episode's start and end (:class:`~fea_agent.video.episodes.EpisodeEvent`) as
        soon as it is known: a start ``min_duration_s`` after the onset, an end ``merge_gap_s`` after the
        offset (video time; ``episodes`` sets them), plus the smoothing's lag; the episodes still open are
        ended when the run ends."""
        tracker = EpisodeTracker(episodes, on_event) if on_event is not None else None
        stats = LiveStats()
        # The first analysis initialises the models' runtimes: do it before the clock starts.
        width, height = self._size
        self.pipeline.analyze(np.zeros((height, width, 3), np.uint8), source="warm-up")
        started = time.monotonic()
        results = self.pipeline.run_video(self._frames)
        try:
            for result in results:
                stats.frames += 1
                stats.max_latency_s = max(stats.max_latency_s, time.monotonic() - self._frames.arrived)
                if on_result is not None:
                    on_result(result)
                if tracker is not None:
                    tracker.add(result)
                if self.preview and self._show(result):
                    break
                if self.max_frames is not None and stats.frames >= self.max_frames:
                    break
        except KeyboardInterrupt:
            stats.interrupted = True
        finally:
            results.close()  # closes the frames too (and a pipeline that never started them: close here)
            self._frames.close()
            if self.preview:
                cv2.destroyAllWindows()
            if tracker is not None:
                tracker.finish()
        stats.dropped = self._frames.dropped
        stats.seconds = time.monotonic() - started
        return stats

    def _show(self, result: ImageResult) -> bool:
        """Draw the frame in a window; True when the user pressed q or Esc."""
        from fea_agent.render import annotate

        assert self._frames.last is not None  # the frame this result is of
        shown = annotate(self._frames.last.rgb, result, landmarks=False)
        frame = cv2.cvtColor(np.asarray(shown), cv2.COLOR_RGB2BGR)
        cv2.imshow("fea-agent live (q to quit)", frame)
        return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)


def frame_line(result: ImageResult) -> str:
    """One readable line per analysed frame: time, and per face its expression and strongest AUs."""
    head = f"{result.frame_index:>6} {result.timestamp_s or 0.0:8.2f}s"
    if not result.faces:
        return f"{head}  no face"
    parts = []
    for i, face in enumerate(result.faces):
        label = (face.expression.label if face.expression is not None else None) or "?"
        prob = face.expression.probabilities.get(label, 0.0) if face.expression is not None else 0.0
        if not face.quality.usable:
            parts.append(f"face {i}: abstain ({'; '.join(face.quality.issues)})")
            continue
        strongest = sorted((a for a in face.aus if a.present), key=lambda a: -a.intensity)[:3]
        aus = " ".join(f"{a.code} {a.intensity:.1f}" for a in strongest) or "no AU present"
        if face.expression is not None and face.expression.uncertain_between is not None:
            p = face.expression.probabilities
            a, b = face.expression.uncertain_between
            parts.append(
                f"face {i}: uncertain between {a} {p.get(a, 0.0):.2f} and {b} {p.get(b, 0.0):.2f}, {aus}"
            )
            continue
        parts.append(f"face {i}: {label} {prob:.2f}, {aus}")
    return f"{head}  " + "; ".join(parts)
