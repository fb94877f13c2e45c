"""VIDEO mode: which faces are where from frame to frame, each face's own tracker, smoothing and baseline.

:meth:`FEAPipeline.run_video <fea_agent.pipeline.FEAPipeline.run_video>` drives one :class:`VideoFaces` per
video. With tracking (the default, when the landmarks backend can follow a face), the detector runs on the first
frame, then about once a second to pick up new faces, and whenever a face is lost; in between, each face's own
tracker follows it from where it was in the previous frame. Everything after the landmarks (AUs, head pose,
appearance, quality, reasoning) is the image pipeline's code, so a frame's result means exactly what a photo's
does. Without tracking, every frame is detected and perceived as a photo and ``face_id`` comes from box matching.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from fea_agent.backends.base import Detection, FaceMesh, LandmarksBackend, TrackingLandmarksBackend
from fea_agent.io.video import Frame
from fea_agent.perception.occlusion import CoverWatch
from fea_agent.perception.quality import with_cover
from fea_agent.pipeline.analysis import Analysis
from fea_agent.pipeline.baseline import apply_baseline
from fea_agent.pipeline.smoothing import DEFAULT_ALPHA, smooth_face
from fea_agent.pipeline.tracking import FaceTracker, Track, box_from_landmarks, keypoints_from_landmarks
from fea_agent.results import Face

#: Seconds between detector runs while faces are followed (new faces are found at least this often).
DETECT_EVERY_S = 1.0
#: A face unseen for longer than this gets a new ``face_id`` when it comes back.
LOST_TIMEOUT_S = 1.0


def smoothing_weight(smooth: float | bool | None) -> float | None:
    """``smooth`` as the EMA weight of the new frame (True: the default), None for raw per-frame values."""
    alpha = DEFAULT_ALPHA if smooth is True else (float(smooth) if smooth else None)
    if alpha is not None and not 0 < alpha <= 1:
        raise ValueError(f"smooth must be a weight in (0, 1], got {smooth}")
    return alpha


@dataclass
class Located:
    """One followed face in one frame: its track, where it is, and its mesh when VIDEO mode measured it."""

    track: Track
    detection: Detection
    mesh: FaceMesh | None


class VideoFaces:
    """The per-video state of VIDEO mode.

    ``frame_gap_s`` is the time between two frames the source yields: with a large stride a face must be
    allowed to miss a couple of them, and a face only the detector sees must outlive the gap between two
    detector runs, so the lost timeout is at least 2.5 frame gaps (plus ``detect_every_s`` with tracking).
    """

    def __init__(
        self,
        landmarks: LandmarksBackend | None,
        *,
        max_faces: int,
        frame_gap_s: float,
        tracking: bool = True,
        smooth: float | None = None,
        baseline: bool = False,
        detect_every_s: float = DETECT_EVERY_S,
        lost_timeout_s: float = LOST_TIMEOUT_S,
    ) -> None:
        self.landmarks = landmarks
        self.tracking = tracking and isinstance(landmarks, TrackingLandmarksBackend)
        self.smooth, self.baseline, self.detect_every_s = smooth, baseline, detect_every_s
        lost_timeout_s = max(
            lost_timeout_s, 2.5 * frame_gap_s, (detect_every_s + 2.5 * frame_gap_s) if self.tracking else 0
        )
        new_landmarker = landmarks.tracker if isinstance(landmarks, TrackingLandmarksBackend) else None
        self.tracker = FaceTracker(
            lost_timeout_s=lost_timeout_s,
            max_faces=max_faces,
            new_landmarker=new_landmarker if self.tracking else None,
        )
        self._last_detect_s = -float("inf")

    def locate(
        self,
        analysis: Analysis,
        detect: Callable[[], list[Detection]],
        upcoming: np.ndarray | None = None,
    ) -> list[Located]:
        """The faces of this frame. ``detect`` runs the pipeline's detector on it; ``upcoming`` is the next
        frame, which trackers that can start early are given while this one is finished."""
        t = analysis.timestamp_s or 0.0
        if not self.tracking:
            detections = detect()
            tracks = self.tracker.match(detections, t)
            return [Located(tr, d, None) for tr, d in zip(tracks, detections, strict=True) if tr is not None]
        detected: set[int] = set()
        need_detect = not self.tracker.active or t - self._last_detect_s >= self.detect_every_s
        if need_detect:
            detected = self._detect(detect, t)
        if upcoming is not None:
            for track in self.tracker.active:
                if track.landmarker is not None:
                    track.landmarker.prefetch(upcoming)
        followed, missed = self._follow(analysis, self.tracker.active)
        if missed and not need_detect:
            # A followed face slipped out of its crop: look for it with the detector in this frame. (A face
            # the tracker cannot follow at all waits for the next regular detection, so it does not cost a
            # detector run on every frame.)
            detected = self._detect(detect, t)
            done = {located.track.face_id for located in followed}
            more, missed = self._follow(
                analysis, [tr for tr in self.tracker.active if tr.face_id not in done]
            )
            followed += more
        # A face the detector saw in this frame but no tracker could read is still reported, as a photo's
        # would be: box, expression, and quality saying the landmarks are missing.
        return followed + [located for located in missed if located.track.face_id in detected]

    def label(self, located: list[Located], faces: list[Face], analysis: Analysis) -> list[Face]:
        """The perceived faces with their ``face_id``, checked for a covered lower face against their own
        earlier frames, smoothed and compared with their baseline as asked, in ``face_id`` order."""
        out = []
        t = analysis.timestamp_s or 0.0
        for where, face in sorted(zip(located, faces, strict=True), key=lambda p: p[0].track.face_id):
            face = face.model_copy(update={"face_id": where.track.face_id})
            if face.landmarks:
                watch = where.track.state.setdefault("cover", CoverWatch())
                if watch.covered(analysis.rgb, np.asarray(face.landmarks), t, unsure=face.quality.occluded):
                    face.quality = with_cover(face.quality)
            if self.smooth is not None:
                face = smooth_face(face, where.track.state, self.smooth)
            if self.baseline:
                face = apply_baseline(face, where.track.state)
            out.append(face)
        return out

    def close(self) -> None:
        self.tracker.close()

    def _detect(self, detect: Callable[[], list[Detection]], t: float) -> set[int]:
        self._last_detect_s = t
        return {track.face_id for track in self.tracker.match(detect(), t) if track is not None}

    def _follow(self, analysis: Analysis, tracks: list[Track]) -> tuple[list[Located], list[Located]]:
        """Each track's mesh in its own crop: (followed, missed). A missed track is marked lost; when its
        tracker misses (a half-hidden face, or one cut by the frame's edge), the landmarks backend tries the
        face as it would on a photo first."""
        followed, missed = [], []
        t = analysis.timestamp_s or 0.0
        started = time.perf_counter()
        for track in tracks:
            detection = Detection(track.box, track.score, track.keypoints)
            assert track.landmarker is not None  # every track has one while tracking
            mesh = track.landmarker.run(analysis.rgb, detection, track.next_timestamp_ms(t))
            if mesh is None and self.landmarks is not None:
                mesh = self.landmarks.run_box(analysis.rgb, detection)
            if mesh is None:
                track.lost = True
                missed.append(Located(track, detection, None))
                continue
            track.box = box_from_landmarks(mesh.landmarks)
            track.keypoints = keypoints_from_landmarks(mesh.landmarks)
            track.last_seen_s = t
            followed.append(Located(track, Detection(track.box, track.score, track.keypoints), mesh))
        analysis.add_time("landmarks", started)
        return followed, missed


def with_next(frames: Iterable[Frame]) -> Iterator[tuple[Frame, Frame | None]]:
    """Each frame with the one after it (None for the last): one frame more in memory, no more."""
    previous: Frame | None = None
    for frame in frames:
        if previous is not None:
            yield previous, frame
        previous = frame
    if previous is not None:
        yield previous, None
