"""MediaPipe's face landmark and blendshape models run directly with LiteRT: 478 landmarks, 52 blendshapes, pose.

The Face Landmarker bundle (``face_landmarker.task``, a zip) holds the models the Tasks API chains; this
module runs two of them itself, because the detector already says where the face is:

1. a rotated square region around the face (from the detector's box and eyes, or from the previous frame's
   landmarks in video), cut at 256x256 in one affine warp, RGB scaled to [0, 1];
2. ``face_landmarks_detector.tflite``: 478 points (x, y, z in crop pixels) and a face-presence logit;
3. ``face_blendshapes.tflite``: 52 scores from 146 of those points (x, y in pixels);
4. head pose from the canonical face in ``geometry_pipeline_metadata_landmarks.binarypb``
   (:mod:`fea_agent.perception.geometry`).

The region follows MediaPipe's graph: the eye line sets the rotation (landmarks 33 and 263 when tracking), the
region is 1.5 times the face, square. The Tasks backend (:mod:`fea_agent.perception.mediapipe_tasks`) stays the
reference the tests compare against.
"""

from __future__ import annotations

import math
import threading
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from fea_agent.backends.base import Detection, FaceMesh
from fea_agent.backends.context import BuildContext
from fea_agent.perception.gaze import gaze_from_landmarks
from fea_agent.perception.geometry import FaceGeometry, head_pose_from_matrix
from fea_agent.perception.resize import downscale

INPUT_SIDE = 256
#: MediaPipe's region: 1.5 times the face's extent, square.
ROI_SCALE = 1.5
#: Below this face-presence probability the model found no face in the region (MediaPipe's default).
MIN_PRESENCE = 0.5
#: Regions are seen at most this many pixels wide before the warp to 256: the size the Tasks backend's crop
#: (1.8 times the box, at most 256 pixels) gives MediaPipe's region (1.2 times the box), 256 * 1.2 / 1.8.
DETAIL_SIDE = 171
#: From a detector's box (YuNet's: forehead to chin) to the region MediaPipe's own detector would give: its
#: side is this many times the box's longer side, its centre this share of the box height lower (measured on
#: the shared photos against BlazeFace run inside the Tasks backend's crop).
BOX_SCALE = 1.2
BOX_SHIFT_DOWN = 0.08
#: The Tasks backend's crop in units of the landmarks' region (see :func:`pose_frame`).
POSE_FRAME_SCALE = 1.36
POSE_FRAME_SHIFT_UP = 0.043
#: Landmarks whose line sets the region's rotation when tracking: the outer eye corners.
EYE_LINE = (33, 263)
#: The 146 landmarks the blendshape model reads (MediaPipe's face_blendshapes_graph.cc, in order).
BLENDSHAPE_LANDMARKS = np.array(
    [
        0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67,
        70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146,
        148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181,
        185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293,
        295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361,
        362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398,
        400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
    ]
)  # fmt: skip
#: The blendshape model's 52 outputs, in order.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)  # fmt: skip


@dataclass(frozen=True)
class Roi:
    """A rotated square region of the image: centre and side in pixels, rotation in radians (clockwise)."""

    cx: float
    cy: float
    side: float
    angle: float

    def to_crop(self) -> np.ndarray:
        """The 2x3 affine map from image pixels to the 256x256 crop (OpenCV's pixel-centre convention)."""
        s = INPUT_SIDE / self.side
        c, n = math.cos(self.angle) * s, math.sin(self.angle) * s
        # crop = R(-angle) * (image - centre) * s + 128, with both sides shifted by half a pixel.
        tx = -(c * (self.cx - 0.5) + n * (self.cy - 0.5)) + INPUT_SIDE / 2 - 0.5
        ty = -(-n * (self.cx - 0.5) + c * (self.cy - 0.5)) + INPUT_SIDE / 2 - 0.5
        return np.array([[c, n, tx], [-n, c, ty]], dtype=np.float64)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop coordinates (N, 3), x and y in [0, 256), back to image pixels; z scaled like x."""
        s = self.side / INPUT_SIDE
        c, n = math.cos(self.angle), math.sin(self.angle)
        x = points[:, 0] - INPUT_SIDE / 2
        y = points[:, 1] - INPUT_SIDE / 2
        out = np.empty_like(points)
        out[:, 0] = (c * x - n * y) * s + self.cx
        out[:, 1] = (n * x + c * y) * s + self.cy
        out[:, 2] = points[:, 2] * s
        return out


def _eye_angle(start: np.ndarray, end: np.ndarray) -> float:
    return math.atan2(float(end[1] - start[1]), float(end[0] - start[0]))


def roi_from_detection(detection: Detection) -> Roi:
    """The region the landmark model expects around a detected face: the box, turned with the eyes."""
    x, y, w, h = detection.box
    angle = _eye_angle(detection.keypoints[0], detection.keypoints[1])
    down = BOX_SHIFT_DOWN * h  # along the face's own vertical, which the eye line turns
    cx, cy = x + w / 2 - math.sin(angle) * down, y + h / 2 + math.cos(angle) * down
    return Roi(cx, cy, max(w, h) * BOX_SCALE, angle)


def roi_from_landmarks(landmarks: np.ndarray) -> Roi:
    """MediaPipe's region for the next frame: the landmarks' extent along the eye line, 1.5 times, square."""
    angle = _eye_angle(landmarks[EYE_LINE[0]], landmarks[EYE_LINE[1]])
    c, n = math.cos(angle), math.sin(angle)
    xy = landmarks[:, :2]
    u = xy[:, 0] * c + xy[:, 1] * n  # coordinates along and across the eye line
    v = -xy[:, 0] * n + xy[:, 1] * c
    mu, mv = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
    side = max(u.max() - u.min(), v.max() - v.min()) * ROI_SCALE
    return Roi(float(mu * c - mv * n), float(mu * n + mv * c), float(side), angle)


def pose_frame(landmarks: np.ndarray) -> tuple[float, float, float]:
    """The square (x0, y0, side) in which the pose is measured: where the Tasks backend's crop would be.

    MediaPipe's pose depends on where the face sits in the image it ran on (a perspective camera); the
    Tasks backend runs on a square of 1.8 times the detector's box around the box's centre. In units of the
    landmarks' region, that square is 1.36 times as large and its centre 0.043 higher (measured on the
    shared photos), which keeps the pose the same whether a detector's box or a previous frame placed it.
    """
    roi = roi_from_landmarks(landmarks)
    up = POSE_FRAME_SHIFT_UP * roi.side
    cx, cy = roi.cx + math.sin(roi.angle) * up, roi.cy - math.cos(roi.angle) * up
    side = roi.side * POSE_FRAME_SCALE
    return cx - side / 2, cy - side / 2, side


def load_mediapipe_face_mesh(ctx: BuildContext) -> MediaPipeFaceMesh:
    from fea_agent.models.registry import model_path

    return MediaPipeFaceMesh(model_path("face_landmarker", folder=ctx.model_dir))


class MediaPipeFaceMesh:
    """The bundle's landmark and blendshape models on LiteRT, one face region at a time."""

    name = "mediapipe"
    device = "cpu"

    def __init__(self, bundle: Path, *, num_threads: int = 1, min_presence: float = MIN_PRESENCE) -> None:
        # One thread: a second gains at most 1.2x on an idle 2-core machine, loses on a busy one (15 against
        # 19 ms a face at a load of 12 here) and, in video, the second core finishes the previous frame.
        with zipfile.ZipFile(bundle) as archive:
            landmarks_model = archive.read("face_landmarks_detector.tflite")
            blendshapes_model = archive.read("face_blendshapes.tflite")
            geometry = archive.read("geometry_pipeline_metadata_landmarks.binarypb")
        self.min_presence = min_presence
        self._mesh = Interpreter(model_content=landmarks_model, num_threads=num_threads)
        self._mesh.allocate_tensors()
        self._mesh_in = self._mesh.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self._mesh.get_output_details()}
        self._points_out, self._presence_out = outputs["Identity"], outputs["Identity_1"]
        self._blend = Interpreter(model_content=blendshapes_model, num_threads=1)
        self._blend.allocate_tensors()
        self._blend_in = self._blend.get_input_details()[0]["index"]
        self._blend_out = self._blend.get_output_details()[0]["index"]
        self._geometry = FaceGeometry(geometry)
        # One interpreter serves every face and the trackers' look-ahead thread: one call at a time.
        self._mesh_lock = threading.Lock()
        self._ahead: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Stop the look-ahead thread (the interpreters go with the object)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.shutdown(wait=True)

    def landmarks_ahead(self, rgb: np.ndarray, roi: Roi) -> Future[tuple[np.ndarray, float]]:
        """:meth:`landmarks` started on the backend's second thread (LiteRT lets go of the GIL while it runs)."""
        if self._ahead is None:
            self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-mesh-ahead")
        return self._ahead.submit(self.landmarks, rgb, roi)

    def run_box(self, rgb: np.ndarray, detection: Detection) -> FaceMesh | None:
        """The mesh of the detected face, or None when the model finds no face in its region."""
        return self.run_roi(rgb, roi_from_detection(detection))

    def run_roi(self, rgb: np.ndarray, roi: Roi) -> FaceMesh | None:
        """The mesh of the face in ``roi``, in image pixels; None when its presence is below the bar."""
        points, presence = self.landmarks(rgb, roi)
        if presence < self.min_presence:
            return None
        return self.mesh(points, presence, roi)

    def landmarks(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """The landmark model on the region: (478, 3) points in image pixels and the face presence."""
        tensor = (self.crop(rgb, roi).astype(np.float32) * (1.0 / 255.0))[None]
        with self._mesh_lock:
            self._mesh.set_tensor(self._mesh_in, tensor)
            self._mesh.invoke()
            points = self._mesh.get_tensor(self._points_out).reshape(-1, 3)
            logit = float(self._mesh.get_tensor(self._presence_out).reshape(-1)[0])
        presence = 1.0 / (1.0 + math.exp(-logit)) if logit > -50 else 0.0
        return roi.to_image(points.astype(np.float64)).astype(np.float32), presence

    @staticmethod
    def crop(rgb: np.ndarray, roi: Roi) -> np.ndarray:
        """The region as the model's 256x256 input, black beyond the image.

        A region larger than ``DETAIL_SIDE`` pixels is first shrunk to that (area-averaged) and the warp
        brings it up to 256: the Tasks backend's 256-pixel crop holds the region at about that size, and
        the blendshapes follow the detail the model sees (eye squint reads 0.03 higher, brows 0.02 lower,
        at full detail). Only the part of the image the region covers is shrunk.
        """
        affine = roi.to_crop()
        if roi.side > DETAIL_SIDE * 1.05:
            height, width = rgb.shape[:2]
            scale = DETAIL_SIDE / roi.side
            factor = max(1, int(1 / scale))  # the integer part of the shrink, area-averaged exactly
            # Half the turned square's bounding box, and a margin for the bilinear taps at its edge.
            half = roi.side / 2 * (abs(math.cos(roi.angle)) + abs(math.sin(roi.angle))) + 2 * factor
            x0 = max(0, int(roi.cx - half) // factor * factor)
            y0 = max(0, int(roi.cy - half) // factor * factor)
            x1 = min(width, math.ceil(roi.cx + half))
            y1 = min(height, math.ceil(roi.cy + half))
            x1 -= (x1 - x0) % factor
            y1 -= (y1 - y0) % factor
            if x1 > x0 and y1 > y0:
                size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
                rgb = downscale(rgb[y0:y1, x0:x1], size)
                sx, sy = (x1 - x0) / size[0], (y1 - y0) / size[1]
                # image index = (small index + 0.5) * step - 0.5 + origin, per axis
                to_image = np.array(
                    [[sx, 0.0, 0.5 * sx - 0.5 + x0], [0.0, sy, 0.5 * sy - 0.5 + y0], [0, 0, 1]]
                )
                affine = affine @ to_image
        return cv2.warpAffine(
            rgb, affine, (INPUT_SIDE, INPUT_SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )

    def mesh(self, points: np.ndarray, presence: float, roi: Roi) -> FaceMesh:
        """Blendshapes and head pose for landmarks the model found, as one :class:`FaceMesh`."""
        self._blend.set_tensor(self._blend_in, points[None, BLENDSHAPE_LANDMARKS, :2].astype(np.float32))
        self._blend.invoke()
        scores = self._blend.get_tensor(self._blend_out).reshape(-1)
        blendshapes = {name: float(s) for name, s in zip(BLENDSHAPE_NAMES, scores, strict=True)}
        pose = head_pose_from_matrix(self._geometry.transform(points, pose_frame(points)))
        gaze = gaze_from_landmarks(points, pose[:2]) if pose is not None else None
        return FaceMesh(points, blendshapes, pose, presence, gaze=gaze)

    def tracker(self) -> FaceMeshTracker:
        """A tracker for one face in video: each frame's region comes from the previous frame's landmarks."""
        return FaceMeshTracker(self)


class FaceMeshTracker:
    """Follows one face through video frames without the detector: the last landmarks place the next region.

    The first call (and the first after the face is lost) starts from the detection it is given; a frame whose
    face presence is below the backend's bar loses the face (returns None) until the next detection.

    Told the next frame with :meth:`prefetch`, the tracker starts the landmark model on it on the backend's
    second thread as soon as this frame's landmarks have placed its region, so that it runs while the rest of
    this frame (blendshapes, pose, AUs, expression, the result) is computed; the next :meth:`run` on that same
    frame picks it up. The results are the same as without: only the order of the work changes.
    """

    def __init__(self, backend: MediaPipeFaceMesh) -> None:
        self.backend = backend
        self.roi: Roi | None = None
        self._next: np.ndarray | None = None
        self._ahead: tuple[np.ndarray, Roi, Future[tuple[np.ndarray, float]]] | None = None

    def prefetch(self, rgb: np.ndarray) -> None:
        """The frame the next :meth:`run` will be given (video readers know it one frame early)."""
        self._next = rgb

    def run(self, rgb: np.ndarray, detection: Detection, timestamp_ms: int) -> FaceMesh | None:
        roi = self.roi if self.roi is not None else roi_from_detection(detection)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] is rgb and ahead[1] == roi:
            points, presence = ahead[2].result()
        else:
            if ahead is not None:
                ahead[2].result()  # a guess that missed (the face was lost meanwhile): let it finish unused
            points, presence = self.backend.landmarks(rgb, roi)
        upcoming, self._next = self._next, None
        if presence < self.backend.min_presence:
            self.roi = None
            return None
        self.roi = roi_from_landmarks(points)
        if upcoming is not None and upcoming is not rgb:
            self._ahead = (upcoming, self.roi, self.backend.landmarks_ahead(upcoming, self.roi))
        return self.backend.mesh(points, presence, roi)

    def close(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead[2].result()
        self.roi = None
