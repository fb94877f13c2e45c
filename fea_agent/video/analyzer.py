"""Video analysis: frames streamed, faces tracked, each frame analysed by the pipeline's own stages.

With tracking (the default), YuNet runs on the first frame, then about once a second to pick up new faces, and
whenever a face is lost; in between, each face's own Face Landmarker in MediaPipe's VIDEO mode follows it in
a crop centred on where it was in the previous frame. Everything after the landmarks (AUs, head pose,
appearance expression, quality, reasoning) is the image pipeline's code, so a frame's result means exactly
what a photo's does. Without tracking, every frame is analysed as an independent photo and ``face_id`` comes
from box matching alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from fea_agent.backends.base import Detection, TrackingLandmarksBackend
from fea_agent.io.images import LoadedImage
from fea_agent.results import BoundingBox, Face, ImageResult
from fea_agent.video.baseline import apply_baseline
from fea_agent.video.frames import Frame, VideoReader
from fea_agent.video.smoothing import DEFAULT_ALPHA, smooth_face
from fea_agent.video.tracker import FaceTracker, Track, box_from_landmarks, keypoints_from_landmarks

if TYPE_CHECKING:
    from fea_agent.pipeline import Analysis, FEAPipeline

Progress = Callable[[int, "int | None"], None]


class _TrackLandmarks:
    """Gives the pipeline's perceive stage a track's own tracker with this frame's timestamp.

    When it misses (a half-hidden face, or one cut by the frame's edge), the pipeline's landmarks backend
    tries the face as it would on a photo (MediaPipe's with a wider crop).
    """

    def __init__(self, track: Track, timestamp_ms: int, fallback: Any | None) -> None:
        self.track, self.timestamp_ms, self.fallback = track, timestamp_ms, fallback

    def run_box(self, rgb: np.ndarray, detection: Detection) -> Any:
        mesh = self.track.landmarker.run(rgb, detection, self.timestamp_ms)
        if mesh is None and self.fallback is not None:
            mesh = self.fallback.run_box(rgb, detection)
        return mesh


def analyze_video(
    pipeline: FEAPipeline,
    path: str | os.PathLike[str],
    *,
    stride: int = 1,
    tracking: bool = True,
    progress: Progress | None = None,
    smooth: float | bool | None = None,
    baseline: bool = False,
    max_frames: int | None = None,
    detect_every_s: float = 1.0,
    lost_timeout_s: float = 1.0,
) -> Iterator[ImageResult]:
    """Analyse a video frame by frame, yielding one :class:`ImageResult` per analysed frame.

    Each result has ``frame_index`` (in the file), ``timestamp_s`` and faces carrying ``face_id``.
    Frames are decoded one at a time, so memory does not grow with the video's length.

    Args:
        pipeline: the pipeline whose models and reasoner analyse the frames.
        path: a video file (anything OpenCV decodes: MP4, MOV, AVI, MKV, WebM, ...).
        stride: analyse every ``stride``-th frame.
        tracking: follow faces with the landmarker's VIDEO mode between detector runs (faster, steadier);
            False analyses every frame as an independent photo.
        progress: called as ``progress(done_frames, total_frames_or_None)`` after each frame.
        smooth: exponential moving average of AUs and expression probabilities; the weight of the new frame
            in (0, 1] (True: 0.5). None or False: raw per-frame values.
        baseline: add ``change_from_baseline`` to each AU, relative to the face's own most neutral frames.
        max_frames: stop after this many analysed frames.
        detect_every_s: with tracking, run the detector at least this often (seconds) to find new faces.
        lost_timeout_s: a face unseen for longer than this gets a new ``face_id`` when it comes back (at
            least 2.5 analysed frames, and with tracking at least ``detect_every_s`` plus that, so neither a
            large stride nor a face only the detector can see is split into many ids).

    Raises:
        InvalidInputError: the file is missing, not a video, or has no frames.
    """
    alpha = DEFAULT_ALPHA if smooth is True else (float(smooth) if smooth else None)
    if alpha is not None and not 0 < alpha <= 1:
        raise ValueError(f"smooth must be a weight in (0, 1], got {smooth}")
    # Opened here, not in the generator, so a missing or broken file fails at the call, not at the first frame.
    reader = VideoReader(path, stride=stride, max_frames=max_frames)
    return _frames(
        pipeline, reader, str(path), tracking, progress, alpha, baseline, detect_every_s, lost_timeout_s
    )


def _frames(
    pipeline: FEAPipeline,
    reader: VideoReader,
    source: str,
    tracking: bool,
    progress: Progress | None,
    alpha: float | None,
    baseline: bool,
    detect_every_s: float,
    lost_timeout_s: float,
) -> Iterator[ImageResult]:
    total = reader.expected_frames
    backend = pipeline.landmarks
    new_landmarker = backend.tracker if tracking and isinstance(backend, TrackingLandmarksBackend) else None
    # With a large stride, frames lie far apart: a face must be allowed to miss a couple of them; and a face
    # only the detector sees must outlive the gap between two detector runs.
    frame_gap_s = reader.stride / reader.fps
    lost_timeout_s = max(
        lost_timeout_s, 2.5 * frame_gap_s, (detect_every_s + 2.5 * frame_gap_s) if tracking else 0
    )
    tracker = FaceTracker(
        lost_timeout_s=lost_timeout_s, max_faces=pipeline.options.max_faces, new_landmarker=new_landmarker
    )
    last_detect_s = -float("inf")
    done = 0
    try:
        for frame, upcoming in _with_next(reader):
            t = frame.timestamp_s
            analysis = pipeline.start(
                LoadedImage(frame.rgb, source), frame_index=frame.index, timestamp_s=round(t, 4)
            )
            if new_landmarker is not None:
                detected: set[int] = set()
                need_detect = not tracker.active or t - last_detect_s >= detect_every_s
                if need_detect:
                    detected = _ids(tracker.match(pipeline.detect(analysis), t))
                    last_detect_s = t
                if upcoming is not None:
                    # Trackers that can start on the next frame early do, while this one is finished.
                    for track in tracker.active:
                        hint = getattr(track.landmarker, "upcoming", None)
                        if hint is not None:
                            hint(upcoming.rgb)
                pairs, missed = _track_faces(pipeline, analysis, tracker, t)
                if missed and not need_detect:
                    # A followed face slipped out of its crop: look for it with the detector in this frame.
                    # (A face the landmarker cannot follow at all waits for the next regular detection, so
                    # it does not cost a detector run on every frame.)
                    detected = _ids(tracker.match(pipeline.detect(analysis), t))
                    last_detect_s = t
                    done_ids = {track.face_id for track, _ in pairs}
                    retry = [track for track in tracker.active if track.face_id not in done_ids]
                    more, missed = _track_faces(pipeline, analysis, tracker, t, only=retry)
                    pairs += more
                # A face the detector saw in this frame but the landmarker could not read is still reported,
                # as a photo's would be: box, expression, and quality saying the landmarks are missing.
                pairs += [(track, face) for track, face in missed if track.face_id in detected]
            else:
                detections = pipeline.detect(analysis)
                faces = pipeline.perceive(analysis)
                tracks = tracker.match(detections, t)
                pairs = [(tr, face) for tr, face in zip(tracks, faces, strict=True) if tr is not None]
            faces = []
            for track, face in sorted(pairs, key=lambda p: p[0].face_id):
                face = face.model_copy(update={"face_id": track.face_id})
                if alpha is not None:
                    face = smooth_face(face, track.state, alpha)
                if baseline:
                    face = apply_baseline(face, track.state)
                faces.append(face)
            analysis.faces = faces
            pipeline.reason(analysis)
            done += 1
            yield pipeline.finish(analysis)
            if progress is not None:
                progress(done, total)
    finally:
        tracker.close()
        reader.close()


def _with_next(frames: Iterable[Frame]) -> Iterator[tuple[Frame, Frame | None]]:
    """Each frame with the one after it (None for the last): one frame more in memory, no more."""
    previous: Frame | None = None
    for frame in frames:
        if previous is not None:
            yield previous, frame
        previous = frame
    if previous is not None:
        yield previous, None


def _ids(tracks: list[Track | None]) -> set[int]:
    return {track.face_id for track in tracks if track is not None}


def _track_faces(
    pipeline: FEAPipeline,
    analysis: Analysis,
    tracker: FaceTracker,
    timestamp_s: float,
    only: list[Track] | None = None,
) -> tuple[list[tuple[Track, Face]], list[tuple[Track, Face]]]:
    """Landmarks for each active track in its own crop: (followed, missed). A missed track is marked lost."""
    followed, missed = [], []
    for track in tracker.active if only is None else only:
        det = Detection(track.box, track.score, track.keypoints)
        runner = _TrackLandmarks(track, track.next_timestamp_ms(timestamp_s), pipeline.landmarks)
        (face,) = pipeline.perceive(analysis, [det], landmarks=[runner])
        if not face.landmarks:
            track.lost = True
            missed.append((track, face))
            continue
        track.box = box_from_landmarks(face.landmarks)
        track.keypoints = keypoints_from_landmarks(face.landmarks)
        track.last_seen_s = timestamp_s
        x, y, w, h = track.box
        bbox = BoundingBox(x=round(x, 1), y=round(y, 1), width=round(w, 1), height=round(h, 1))
        followed.append((track, face.model_copy(update={"bbox": bbox})))
    return followed, missed
