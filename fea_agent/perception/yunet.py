"""Face detection with YuNet (OpenCV's ``FaceDetectorYN``): boxes, 5 key points and a score per face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fea_agent.backends.base import Detection
from fea_agent.backends.context import BuildContext
from fea_agent.perception.resize import downscale


def load_yunet(ctx: BuildContext) -> YuNetDetector:
    from fea_agent.models.registry import model_path

    return YuNetDetector(
        model_path("yunet", folder=ctx.model_dir),
        score_threshold=ctx.detection_threshold,
        max_side=ctx.detection_max_side,
    )


#: Faces this small (pixels, at the coarse pass's scale) or smaller send the image to the full-size pass.
COARSE_MIN_FACE_PX = 48.0


class YuNetDetector:
    """YuNet on OpenCV's DNN module; large images are downscaled to ``max_side`` for detection.

    YuNet finds faces from about 10 px wide at its input resolution; downscaling a 1350 px photo to 640 px
    keeps any face bigger than about 20 px findable while cutting the detector's time by four.

    A portrait does not need even that: the image is first searched at ``coarse_side`` (less than half the
    cost of 512 px), and when a face there is at least ``portrait_share`` of the image's shorter side and
    every face found is at least ``COARSE_MIN_FACE_PX`` there (boxes and eyes as exact as at full size), those
    faces are the answer; otherwise (no face, small ones: a group, a crowd) the image is searched again at
    ``max_side``.
    """

    name = "yunet"
    device = "cpu"

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        max_side: int = 640,
        min_face_px: float = 8.0,
        coarse_side: int | None = 320,
        portrait_share: float = 0.15,
    ) -> None:
        self.score_threshold = score_threshold
        self.max_side = max_side
        self.min_face_px = min_face_px
        self.coarse_side = coarse_side
        self.portrait_share = portrait_share
        self._net = cv2.FaceDetectorYN.create(
            str(model_path), "", (320, 320), score_threshold, nms_threshold, top_k
        )
        self._size: tuple[int, int] = (320, 320)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        if self.coarse_side is not None and max(height, width) > self.coarse_side < self.max_side:
            found = self._detect(rgb, self.coarse_side)
            coarse_px = self.coarse_side / max(height, width)  # coarse pixels per image pixel
            if (
                found
                and found[0].box[2] >= self.portrait_share * min(height, width)
                and min(min(d.box[2], d.box[3]) for d in found) * coarse_px >= COARSE_MIN_FACE_PX
            ):
                return found
        return self._detect(rgb, self.max_side)

    def _detect(self, rgb: np.ndarray, max_side: int) -> list[Detection]:
        height, width = rgb.shape[:2]
        scale = min(1.0, max_side / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = downscale(rgb, size)
        else:
            small = rgb
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, faces = self._net.detect(bgr)
        if faces is None:
            return []
        found = []
        for row in faces:
            x, y, w, h = (float(v) / scale for v in row[:4])
            if min(w, h) < self.min_face_px:
                continue
            points = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
            found.append(Detection((x, y, w, h), float(np.clip(row[14], 0.0, 1.0)), points))
        found.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
        return found
