"""MediaPipe Face Landmarker on face crops: 478 landmarks, 52 blendshapes and the head pose.

The landmarker's own detector is short-range (it missed most faces of a group photo), so it is run on a
square crop around each face the detector found: the face then fills the crop the way the model expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions, RunningMode

from fea_agent._native import close_at_exit
from fea_agent.backends.base import Detection, FaceMesh
from fea_agent.backends.context import BuildContext
from fea_agent.perception.gaze import gaze_from_landmarks
from fea_agent.perception.geometry import head_pose_from_matrix
from fea_agent.perception.resize import downscale

#: The crop is this many times the detector's box, centred on it.
CROP_SCALE = 1.8
#: Crops are resized so their side is at most this (the landmark model itself works at 256 px).
CROP_MAX_SIDE = 256
#: Tried when the landmarker finds no face in the first crop (a face looking down fills the box oddly).
RETRY_CROP_SCALES = (2.4,)
#: Below this side, crops are upscaled so the landmarker's detector can still find the face.
CROP_MIN_SIDE = 192


@dataclass(frozen=True)
class Crop:
    """A square crop of the image and how to map its pixels back."""

    image: np.ndarray
    x0: float
    y0: float
    scale: float  # crop pixels per image pixel


def square_crop(
    rgb: np.ndarray, box: tuple[float, float, float, float], crop_scale: float = CROP_SCALE
) -> Crop:
    """Cut a square of ``crop_scale`` times the box around its centre, padding with black beyond the image."""
    x, y, w, h = box
    side = max(w, h) * crop_scale
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    side_px = max(1, round(side))
    # A side that is an exact multiple of the shrink factor keeps downscale() on its fast, untrimmed path.
    while side_px >= 2 * CROP_MAX_SIDE and side_px % (side_px // CROP_MAX_SIDE):
        side_px += 1
    height, width = rgb.shape[:2]
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(width, x0 + side_px), min(height, y0 + side_px)
    patch = rgb[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) != (x0, y0, x0 + side_px, y0 + side_px):
        padded = np.zeros((side_px, side_px, 3), dtype=np.uint8)
        padded[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = patch
        patch = padded
    target = min(max(side_px, CROP_MIN_SIDE), CROP_MAX_SIDE)
    scale = target / side_px
    if target != side_px:
        patch = downscale(patch, (target, target))
    return Crop(np.ascontiguousarray(patch), float(x0), float(y0), scale)


def load_mediapipe_landmarker(ctx: BuildContext) -> MediaPipeLandmarker:
    from fea_agent.models.registry import model_path

    return MediaPipeLandmarker(model_path("face_landmarker", folder=ctx.model_dir))


class MediaPipeLandmarker:
    """MediaPipe's Face Landmarker task in IMAGE mode (one face per crop) or VIDEO mode (tracked frames)."""

    name = "mediapipe-tasks"
    device = "cpu"

    def __init__(self, model_path: Path, *, video: bool = False, min_confidence: float = 0.5) -> None:
        self.video = video
        self.model_path = model_path  # video makes one VIDEO-mode sibling per tracked face from it
        options = FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=RunningMode.VIDEO if video else RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._task: FaceLandmarker | None = FaceLandmarker.create_from_options(options)
        close_at_exit(self)

    def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        try:
            task.close()
        except RuntimeError:  # its thread pool is already gone at interpreter exit; the OS frees the rest
            task._handle = None  # stops MediaPipe's own finaliser from trying again

    def tracker(self) -> MediaPipeTracker:
        """A VIDEO-mode landmarker that follows one face (MediaPipe keeps its own state between frames)."""
        return MediaPipeTracker(self.model_path)

    def run_box(
        self, rgb: np.ndarray, detection: Detection, timestamp_ms: int | None = None
    ) -> FaceMesh | None:
        """Landmarks for the detected face, trying a wider crop if the first finds none."""
        box = detection.box
        mesh = self.run(square_crop(rgb, box), timestamp_ms)
        if mesh is None and not self.video:
            for scale in RETRY_CROP_SCALES:
                mesh = self.run(square_crop(rgb, box, scale))
                if mesh is not None:
                    break
        return mesh

    def run(self, crop: Crop, timestamp_ms: int | None = None) -> FaceMesh | None:
        """Landmarks of the face filling ``crop``, mapped back to the full image; None if none is found."""
        if self._task is None:
            raise RuntimeError("the landmarker was closed")
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=crop.image)
        if self.video:
            if timestamp_ms is None:
                raise ValueError("VIDEO mode needs a timestamp in milliseconds")
            result = self._task.detect_for_video(image, timestamp_ms)
        else:
            result = self._task.detect(image)
        if not result.face_landmarks:
            return None
        side = crop.image.shape[0]
        points = np.array([(p.x, p.y, p.z) for p in result.face_landmarks[0]], dtype=np.float32)
        points *= side / crop.scale
        points[:, 0] += crop.x0
        points[:, 1] += crop.y0
        blendshapes = (
            {c.category_name: float(c.score) for c in result.face_blendshapes[0]}
            if result.face_blendshapes
            else {}
        )
        pose = (
            head_pose_from_matrix(np.asarray(result.facial_transformation_matrixes[0]))
            if result.facial_transformation_matrixes
            else None
        )
        presence = [p.presence for p in result.face_landmarks[0][:1] if p.presence is not None]
        return FaceMesh(
            points,
            blendshapes,
            pose,
            float(presence[0]) if presence else 1.0,
            gaze=gaze_from_landmarks(points, pose[:2]) if pose is not None else None,
        )


class MediaPipeTracker:
    """One face followed through a video by the Face Landmarker in VIDEO mode, on a crop around where it
    was last seen (cut in one affine warp, cheaper than ``square_crop`` when the crop runs past the edge)."""

    def __init__(self, model_path: Path) -> None:
        from fea_agent._native import quiet_stderr

        with quiet_stderr():  # MediaPipe prints banners when a graph starts
            self._landmarker = MediaPipeLandmarker(model_path, video=True)

    def run(self, rgb: np.ndarray, detection: Detection, timestamp_ms: int) -> FaceMesh | None:
        return self._landmarker.run(fast_square_crop(rgb, detection.box), timestamp_ms)

    def prefetch(self, rgb: np.ndarray) -> None:
        """Nothing to start early: the Tasks graph runs one frame at a time."""

    def close(self) -> None:
        self._landmarker.close()


def fast_square_crop(rgb: np.ndarray, box: tuple[float, float, float, float]) -> Crop:
    """The landmarker's square crop (same scale, size and mapping as ``square_crop``) in one affine warp.

    ``square_crop`` pads and resizes in separate steps, about 4 ms a frame here when the crop runs past the
    frame's edge (as it does for a close face in 640x360); one ``warpAffine`` does both in well under 1 ms.
    """
    x, y, w, h = box
    side = max(w, h) * CROP_SCALE
    x0, y0 = round(x + w / 2 - side / 2), round(y + h / 2 - side / 2)
    side_px = max(1, round(side))
    target = min(max(side_px, CROP_MIN_SIDE), CROP_MAX_SIDE)
    scale = target / side_px
    matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], dtype=np.float64)
    patch = cv2.warpAffine(rgb, matrix, (target, target), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    return Crop(patch, float(x0), float(y0), scale)
