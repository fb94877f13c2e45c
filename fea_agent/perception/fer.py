"""Appearance expression: the FER2013 mini-Xception CNN, run with LiteRT (no TensorFlow needed).

Besides the seven probabilities it gives its penultimate feature map, averaged over space (128 numbers): the
learned expression model reads that embedding, which carries more than the seven-way softmax.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from fea_agent.backends.base import AppearanceOutput, Detection
from fea_agent.backends.context import BuildContext
from fea_agent.perception.resize import downscale

#: The model's output order, mapped to this package's label words.
FER_LABELS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
INPUT_SIDE = 64
#: The model was trained on FER2013's loose crops; this many times YuNet's box, centred, matches them.
CROP_SCALE = 1.1


def load_fer(ctx: BuildContext) -> FERClassifier:
    from fea_agent.models.registry import model_path

    return FERClassifier(model_path("fer", folder=ctx.model_dir))


class FERClassifier:
    """7-class appearance classifier on a grey 64x64 face crop; returns label -> probability."""

    name = "fer"
    device = "cpu"

    def __init__(self, model_path: Path, *, num_threads: int = 1) -> None:
        with warnings.catch_warnings():  # "for debugging only": the model is 93 kB, its tensors a few kB
            warnings.simplefilter("ignore", UserWarning)
            self._interpreter = Interpreter(
                model_path=str(model_path), num_threads=num_threads, experimental_preserve_all_tensors=True
            )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._embedding = _penultimate(self._interpreter)

    @staticmethod
    def preprocess(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """Grey, square crop around the box, 64x64, scaled to [-1, 1] as the model was trained."""
        x, y, w, h = box
        side = max(w, h) * CROP_SCALE
        cx, cy = x + w / 2, y + h / 2
        height, width = rgb.shape[:2]
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
        patch = rgb[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else rgb
        gray = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
        gray = downscale(gray, (INPUT_SIDE, INPUT_SIDE))
        return ((gray.astype(np.float32) / 255.0 - 0.5) * 2.0)[None, :, :, None]

    def predict(self, rgb: np.ndarray, detections: list[Detection]) -> list[AppearanceOutput]:
        """The appearance expression and embedding of every detected face: the mean over the crop and its mirror
        image (two small model calls, 0.4 ms each here), so that the answer does not turn on which side of the
        face is lit or moves more (the CNN alone changed its label on 26% of faces mirrored)."""
        out = []
        for d in detections:
            crop = self.preprocess(rgb, d.box)
            views = [self._run(crop), self._run(crop[:, :, ::-1])]
            probabilities = (views[0][0] + views[1][0]) / 2
            embedding = None
            if views[0][1] is not None and views[1][1] is not None:
                embedding = (views[0][1] + views[1][1]) / 2
            out.append(AppearanceOutput(self._named(probabilities), features=embedding))
        return out

    def predict_box(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> dict[str, float]:
        """Label -> probability for the face in ``box`` (the crop as it is: one model call)."""
        return self._named(self._run(self.preprocess(rgb, box))[0])

    def _run(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities over FER_LABELS and the pooled embedding (None without one) of one preprocessed crop."""
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(crop))
        self._interpreter.invoke()
        scores = np.asarray(self._interpreter.get_tensor(self._output), dtype=np.float64).reshape(-1)
        if scores.min() < 0 or abs(scores.sum() - 1.0) > 1e-2:  # logits, not probabilities
            scores = np.exp(scores - scores.max())
        embedding = None
        if self._embedding is not None:
            embedding = np.asarray(self._interpreter.get_tensor(self._embedding), dtype=np.float32)
            embedding = embedding.reshape(-1, embedding.shape[-1]).mean(axis=0)
        return scores / scores.sum(), embedding

    @staticmethod
    def _named(scores: np.ndarray) -> dict[str, float]:
        return {label: float(p) for label, p in zip(FER_LABELS, scores, strict=False)}


def _penultimate(interpreter: Interpreter) -> int | None:
    """Index of the last 4-D float feature map before the classifier (mini-Xception's last residual sum)."""
    maps = [
        t["index"]
        for t in interpreter.get_tensor_details()
        if len(t["shape"]) == 4 and t["dtype"] == np.float32 and t["shape"][-1] > len(FER_LABELS)
    ]
    return max(maps) if maps else None
