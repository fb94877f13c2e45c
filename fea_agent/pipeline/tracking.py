"""Face identity across frames: each face keeps a ``face_id`` while it stays in view.

A track holds the face's last box and, while tracking runs, its own Face Landmarker in MediaPipe's VIDEO mode
(which follows the landmarks from frame to frame instead of re-detecting them). Detections are matched to
tracks greedily by box overlap (IoU), then by centre distance for fast movement; a track that goes unseen for
longer than ``lost_timeout_s`` is retired and its id is never reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]

#: Boxes overlapping at least this much are the same face.
MIN_IOU = 0.3
#: Or: centres closer than this many face widths.
MAX_CENTRE_DISTANCE = 0.6

# Face-mesh points for the detector-style 5 key points: eye corners (averaged), nose tip, mouth corners.
_RIGHT_EYE, _LEFT_EYE, _NOSE, _MOUTH_RIGHT, _MOUTH_LEFT = (33, 133), (263, 362), 1, 61, 291


def iou(a: Box, b: Box) -> float:
    ax1, ay1, ax2, ay2 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx1, by1, bx2, by2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    h = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: Box, b: Box) -> float:
    """Distance between the box centres in units of ``a``'s larger side."""
    dx = (a[0] + a[2] / 2) - (b[0] + b[2] / 2)
    dy = (a[1] + a[3] / 2) - (b[1] + b[3] / 2)
    return float(np.hypot(dx, dy)) / max(a[2], a[3], 1e-6)


#: The detector's box against the mesh's extent (mean over 24 faces in the clip and the photos): same width,
#: starting 0.14 mesh-heights higher (YuNet's box takes in more forehead) and 1.15 times as tall.
_DETECTOR_TOP, _DETECTOR_HEIGHT = 0.14, 1.15


def box_from_landmarks(landmarks: np.ndarray) -> Box:
    """A detector-style box from the face mesh, so tracked frames are framed (and cropped) as detected ones."""
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    h = float(y1 - y0)
    return float(x0), float(y0) - _DETECTOR_TOP * h, float(x1 - x0), _DETECTOR_HEIGHT * h


def keypoints_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The detector's 5 points (right eye, left eye, nose tip, right and left mouth corner) from the mesh."""
    xy = np.asarray(landmarks, dtype=np.float32)[:, :2]
    return np.stack(
        [
            xy[list(_RIGHT_EYE)].mean(axis=0),
            xy[list(_LEFT_EYE)].mean(axis=0),
            xy[_NOSE],
            xy[_MOUTH_RIGHT],
            xy[_MOUTH_LEFT],
        ]
    )


@dataclass
class Track:
    """One face followed through the video."""

    face_id: int
    box: Box
    score: float  # the detector's score when this face was last detected
    keypoints: np.ndarray
    last_seen_s: float
    landmarker: Any | None = None  # a MediaPipeLandmarker in VIDEO mode, owned by this track
    lost: bool = False  # the landmarker lost the face; wait for the detector to find it again
    last_timestamp_ms: int = -1
    state: dict[str, Any] = field(default_factory=dict)  # per-face smoothing / baseline state

    def next_timestamp_ms(self, timestamp_s: float) -> int:
        """MediaPipe's VIDEO mode needs strictly increasing timestamps per landmarker."""
        self.last_timestamp_ms = max(round(timestamp_s * 1000.0), self.last_timestamp_ms + 1)
        return self.last_timestamp_ms

    def close(self) -> None:
        if self.landmarker is not None:
            self.landmarker.close()
            self.landmarker = None


class FaceTracker:
    """Assigns ``face_id`` to detections and keeps the tracks; ``new_landmarker`` makes one per track."""

    def __init__(
        self,
        *,
        lost_timeout_s: float = 1.0,
        max_faces: int,
        new_landmarker: Callable[[], Any] | None = None,
    ) -> None:
        self.lost_timeout_s = lost_timeout_s
        self.max_faces = max_faces
        self.new_landmarker = new_landmarker
        self.tracks: list[Track] = []
        self._next_id = 0

    def match(self, detections: list[Any], timestamp_s: float) -> list[Track | None]:
        """Attach each detection to a track (existing or new); returns, for each detection in order, its
        track (None when ``max_faces`` tracks are already followed)."""
        self.expire(timestamp_s)
        pairs = []
        for ti, track in enumerate(self.tracks):
            for di, det in enumerate(detections):
                overlap = iou(track.box, det.box)
                distance = centre_distance(track.box, det.box)
                if overlap >= MIN_IOU or distance <= MAX_CENTRE_DISTANCE:
                    pairs.append((-overlap, distance, ti, di))
        pairs.sort()
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        seen: list[Track | None] = [None] * len(detections)
        for _, _, ti, di in pairs:
            if ti in used_tracks or di in used_dets:
                continue
            used_tracks.add(ti)
            used_dets.add(di)
            track, det = self.tracks[ti], detections[di]
            # The detection is of this frame; the track's box is from the last one: take the fresh one.
            track.box, track.keypoints, track.lost = det.box, det.keypoints, False
            track.score = det.score
            track.last_seen_s = timestamp_s
            seen[di] = track
        for di, det in enumerate(detections):
            if di in used_dets or len(self.tracks) >= self.max_faces:
                continue
            track = Track(
                face_id=self._next_id,
                box=det.box,
                score=det.score,
                keypoints=det.keypoints,
                last_seen_s=timestamp_s,
                landmarker=self.new_landmarker() if self.new_landmarker is not None else None,
            )
            self._next_id += 1
            self.tracks.append(track)
            seen[di] = track
        return seen

    def expire(self, timestamp_s: float) -> None:
        """Retire tracks unseen for longer than the timeout."""
        keep = []
        for track in self.tracks:
            if timestamp_s - track.last_seen_s > self.lost_timeout_s:
                track.close()
            else:
                keep.append(track)
        self.tracks = keep

    @property
    def active(self) -> list[Track]:
        return [t for t in self.tracks if not t.lost]

    def close(self) -> None:
        for track in self.tracks:
            track.close()
        self.tracks = []
