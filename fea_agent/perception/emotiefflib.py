"""EmotiEffLib (ex-HSEmotion) ONNX models as an appearance backend, on onnxruntime.

The preprocessing and label order are upstream's (``emotiefflib/facial_analysis.py``,
``EmotiEffLibRecognizerOnnx``): the face crop, RGB, resized with OpenCV's bilinear ``cv2.resize`` to the model's
side, scaled to [0, 1], then normalised with the model's mean and std, as NCHW float32 under the input name
the graph declares (upstream: ``input``). The 8-class models answer in the order Anger, Contempt, Disgust,
Fear, Happiness, Neutral, Sadness, Surprise (7-class: without Contempt); the ``*_va_mtl`` models add valence
and arousal as the last two outputs. Upstream softmaxes the class logits only; so does this module.
The crop is the detector's box as is, as in upstream's examples (a face detector's box, no margin).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fea_agent.backends.base import AppearanceOutput, Detection
from fea_agent.backends.context import BuildContext
from fea_agent.errors import ModelFileError
from fea_agent.perception.crop import crop_box

#: The model ``emotiefflib`` loads: 8 AffectNet expressions plus valence and arousal, EfficientNet-B0.
DEFAULT_MODEL = "enet_b0_8_va_mtl"
MODEL_NAMES: tuple[str, ...] = (
    "enet_b0_8_best_vgaf",
    "enet_b0_8_best_afew",
    "enet_b0_8_va_mtl",
    "enet_b2_8",
    "enet_b2_7",
    "mbf_va_mtl",
    "mobilevit_va_mtl",
)
LABELS_8: tuple[str, ...] = (
    "anger",
    "contempt",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
)
LABELS_7: tuple[str, ...] = tuple(label for label in LABELS_8 if label != "contempt")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    side: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def preprocessing(model_name: str) -> Preprocessing:
    """Upstream's table: 112 px and mean/std 0.5 for ``mbf_``; 260 px for ``_b2_``; else 224 px, ImageNet."""
    if "mbf_" in model_name:
        return Preprocessing(112, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    side = 260 if "_b2_" in model_name else 112 if "ddamfnet" in model_name else 224
    return Preprocessing(side, IMAGENET_MEAN, IMAGENET_STD)


def labels(model_name: str) -> tuple[str, ...]:
    """The model's class order, as this package's label words."""
    return LABELS_7 if "_7" in model_name else LABELS_8


def load_emotiefflib(ctx: BuildContext) -> EmotiEffLibClassifier:
    from fea_agent.models.registry import model_path

    return EmotiEffLibClassifier(
        model_path(f"emotiefflib_{DEFAULT_MODEL}", folder=ctx.model_dir), DEFAULT_MODEL
    )


class EmotiEffLibClassifier:
    """An EmotiEffLib ONNX model on onnxruntime; every face of an image runs as one batch."""

    name = "emotiefflib"

    def __init__(self, path: Path, model_name: str, *, providers: list[str] | None = None) -> None:
        import onnxruntime

        from fea_agent.devices import onnx_providers

        self.model_name = model_name
        self.labels = labels(model_name)
        self.pre = preprocessing(model_name)
        self.has_va = model_name.endswith("_va_mtl")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), options, providers=providers or onnx_providers()
            )
        except Exception as exc:  # onnxruntime raises its own types for a corrupt or foreign file
            raise ModelFileError(f"{path} is not a loadable ONNX model: {exc}") from None
        self.device = "cuda" if self._session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        graph_input = self._session.get_inputs()[0]
        self._input = graph_input.name
        # a graph exported with batch size 1 takes the faces one at a time
        self._batched = not isinstance(graph_input.shape[0], int) or graph_input.shape[0] != 1
        width = self._session.get_outputs()[0].shape[-1]
        expected = len(self.labels) + (2 if self.has_va else 0)
        if isinstance(width, int) and width != expected:
            raise ModelFileError(
                f"{path} gives {width} outputs; {model_name} should give {expected} "
                f"({len(self.labels)} expressions{' + valence, arousal' if self.has_va else ''})"
            )

    def preprocess(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """(3, side, side) float32, as upstream's ``_preprocess``."""
        side, mean, std = self.pre.side, self.pre.mean, self.pre.std
        x = cv2.resize(crop_box(rgb, box), (side, side)).astype(np.float32) / 255.0
        x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
        return x.transpose(2, 0, 1)

    def scores(self, batch: np.ndarray) -> np.ndarray:
        if self._batched:
            return np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float64)
        return np.concatenate(
            [np.asarray(self._session.run(None, {self._input: x[None]})[0], dtype=np.float64) for x in batch]
        )

    def predict(self, rgb: np.ndarray, detections: list[Detection]) -> list[AppearanceOutput]:
        if not detections:
            return []
        raw = self.scores(np.stack([self.preprocess(rgb, d.box) for d in detections]))
        logits = raw[:, : len(self.labels)]
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        out = []
        for i in range(len(detections)):
            valence = arousal = None
            if self.has_va:
                valence, arousal = (float(np.clip(v, -1.0, 1.0)) for v in raw[i, -2:])
            probabilities = {label: float(p) for label, p in zip(self.labels, probs[i], strict=True)}
            out.append(AppearanceOutput(probabilities, valence=valence, arousal=arousal))
        return out
