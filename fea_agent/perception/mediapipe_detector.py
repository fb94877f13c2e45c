"""MediaPipe's own face detector (BlazeFace short-range, the one inside the Face Landmarker bundle).

It is read from the registered ``face_landmarker.task`` (no extra download). It works at 128x128 on the whole
image, so it finds faces that fill a good part of the frame (selfies, webcam, portraits) and misses small ones:
on the shared group photo it finds fewer faces than YuNet. Its six key points are the eyes, the nose tip, the
mouth centre and the ear tragions; the mouth corners this package's 5-point layout needs are placed on the
line through the mouth centre parallel to the eyes, at 0.4 of the eye distance each side (the mean of the
300-W annotations), so use YuNet when the exact mouth corners matter.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import FaceDetector, FaceDetectorOptions

from fea_agent._native import close_at_exit
from fea_agent.backends.base import Detection
from fea_agent.backends.context import BuildContext

#: Half the mouth width as a share of the distance between the eyes.
MOUTH_HALF_WIDTH = 0.4


def load_mediapipe_detector(ctx: BuildContext) -> MediaPipeDetector:
    from fea_agent.models.registry import model_path

    return MediaPipeDetector(
        model_path("face_landmarker", folder=ctx.model_dir), score_threshold=ctx.detection_threshold
    )


class MediaPipeDetector:
    """BlazeFace short-range through MediaPipe's Tasks API, in IMAGE mode."""

    name = "mediapipe"
    device = "cpu"

    def __init__(self, bundle: Path, *, score_threshold: float = 0.5) -> None:
        with zipfile.ZipFile(bundle) as archive:
            model = archive.read("face_detector.tflite")
        options = FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model), min_detection_confidence=score_threshold
        )
        self._task: FaceDetector | None = FaceDetector.create_from_options(options)
        close_at_exit(self)

    def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            try:
                task.close()
            except RuntimeError:  # interpreter exit: MediaPipe's thread pool is already gone
                task._handle = None

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        if self._task is None:
            raise RuntimeError("the detector was closed")
        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        found = []
        for d in self._task.detect(image).detections:
            b = d.bounding_box
            points = np.array([(k.x * width, k.y * height) for k in d.keypoints], dtype=np.float32)
            right_eye, left_eye, nose, mouth = points[0], points[1], points[2], points[3]
            half = (left_eye - right_eye) * MOUTH_HALF_WIDTH
            keypoints = np.stack([right_eye, left_eye, nose, mouth - half, mouth + half]).astype(np.float32)
            score = float(np.clip(d.categories[0].score if d.categories else 0.0, 0.0, 1.0))
            box = (float(b.origin_x), float(b.origin_y), float(b.width), float(b.height))
            found.append(Detection(box, score, keypoints))
        found.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
        return found
