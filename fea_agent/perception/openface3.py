"""OpenFace 3.0's multitask model as an action-unit backend (8 AUs and gaze) and an appearance backend.

Both stages share one loaded model per weights file and device, and the second stage to ask about the same
faces reuses the first one's forward pass, so ``--action-units openface3 --appearance openface3`` costs one
network call per batch of faces.

What the outputs mean (upstream documents little of it, so the choices are written down here):

- **Input**: the detector's box cropped as is (upstream crops RetinaFace's box without a margin), RGB, resized
  to 224x224 with antialiased bilinear (torchvision's ``Resize`` on tensors), ImageNet mean/std.
- **Expressions**: upstream's README order, which is AffectNet's: Neutral, Happy, Sad, Surprise, Fear, Disgust,
  Anger, Contempt, i.e. :data:`~fea_agent.results.EXPRESSION_LABELS` in the same order; softmax of the logits.
  (Upstream issue CMU-MultiComp-Lab/OpenFace-3.0#15 reports higher accuracy with Anger and Disgust swapped;
  this module keeps the documented order.)
- **AUs**: upstream publishes no order for its 8 outputs (issues #1, #9). The head is ME-GraphAU's, whose
  8-AU protocol is DISFA's AU1, 2, 4, 6, 9, 12, 25, 26: that order is :data:`AU_ORDER`. Each output is in
  [0, 1] (upstream calls it an intensity); it is reported as the probability and, times 5, as the 0-5
  intensity.
- **Gaze**: upstream returns (yaw, pitch), in radians judging by its examples, with no sign convention. This
  module assumes the normalised-camera convention of the gaze datasets (MPIIFaceGaze, ETH-XGaze: yaw > 0
  towards the image's left, pitch > 0 up) and converts to :class:`~fea_agent.results.Gaze` degrees (yaw > 0
  towards the image's right, pitch > 0 up). Check against real weights before relying on the yaw sign.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fea_agent.backends.base import AppearanceOutput, AUOutput, Detection, FaceMesh
from fea_agent.backends.context import BuildContext
from fea_agent.errors import ModelFileError
from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.perception.crop import crop_box
from fea_agent.results import EXPRESSION_LABELS, ActionUnit

#: The model's 8 AU outputs, in order (DISFA's 8-AU protocol; see the module docstring).
AU_ORDER: tuple[str, ...] = ("AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26")
#: The model's 8 expression outputs, in order, as this package's labels (AffectNet's order).
EXPRESSION_ORDER: tuple[str, ...] = EXPRESSION_LABELS
#: Multiply upstream's (yaw, pitch) in radians by these to get Gaze degrees (see the module docstring).
GAZE_SIGNS: tuple[float, float] = (-1.0, 1.0)
INPUT_SIDE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class OpenFace3Output:
    """One face's outputs: expression probabilities, AUs and gaze (yaw, pitch) in Gaze degrees."""

    probabilities: dict[str, float]
    aus: list[ActionUnit]
    gaze: tuple[float, float]


def action_units(values: np.ndarray) -> list[ActionUnit]:
    """AUs from the model's 8 outputs in [0, 1]."""
    out = []
    for code, value in zip(AU_ORDER, values, strict=True):
        p = float(np.clip(value, 0.0, 1.0))
        out.append(ActionUnit.measured(code, AU_CATALOGUE[code].name, probability=p, intensity=5.0 * p))
    return out


def gaze_degrees(yaw_pitch: np.ndarray) -> tuple[float, float]:
    return (
        GAZE_SIGNS[0] * math.degrees(float(yaw_pitch[0])),
        GAZE_SIGNS[1] * math.degrees(float(yaw_pitch[1])),
    )


class OpenFace3:
    """The loaded multitask model on one device; :meth:`run` takes every face of one image as one batch."""

    def __init__(self, weights: Path, *, device: str | None = None) -> None:
        from fea_agent.devices import best_device
        from fea_agent.perception.openface3_model import MTL

        self.device = device or best_device()
        self.net = MTL()
        self.net.load_state_dict(load_state_dict(weights, self.net.state_dict()))
        self.net.eval().to(self.device)
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(shape)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(shape)
        self._lock = threading.Lock()
        self._last: tuple[bytes, list[OpenFace3Output]] | None = None

    def preprocess(self, rgb: np.ndarray, detections: list[Detection]) -> torch.Tensor:
        """(N, 3, 224, 224) normalised crops of the detections' boxes."""
        crops = []
        for d in detections:
            crop = torch.from_numpy(np.ascontiguousarray(crop_box(rgb, d.box))).to(self.device)
            crop = crop.permute(2, 0, 1).unsqueeze(0).float() / 255.0
            crops.append(F.interpolate(crop, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", antialias=True))
        return (torch.cat(crops) - self._mean) / self._std

    @torch.inference_mode()
    def run(self, rgb: np.ndarray, detections: list[Detection]) -> list[OpenFace3Output]:
        if not detections:
            return []
        x = self.preprocess(rgb, detections)
        key = hashlib.blake2b(x.cpu().numpy().tobytes(), digest_size=16).digest()
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            emotion, gaze, aus = (t.float().cpu().numpy() for t in self.net(x))
            probs = np.exp(emotion - emotion.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            out = [
                OpenFace3Output(
                    {label: float(p) for label, p in zip(EXPRESSION_ORDER, probs[i], strict=True)},
                    action_units(aus[i]),
                    gaze_degrees(gaze[i]),
                )
                for i in range(len(detections))
            ]
            self._last = (key, out)
            return out


def load_state_dict(path: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors, checked against the architecture's names and shapes."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, not a pickle traceback
        raise ModelFileError(f"{path} is not an OpenFace 3.0 MTL_backbone.pth checkpoint: {exc}") from None
    state = {k.removeprefix("module."): v for k, v in state.get("state_dict", state).items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise ModelFileError(
            f"{path} does not fit OpenFace 3.0's MTL: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shapes {wrong[:5]}"
        )
    return state


@lru_cache(maxsize=4)
def shared_model(weights: Path, device: str | None = None) -> OpenFace3:
    """One model per weights file and device, shared by the AU and appearance stages."""
    return OpenFace3(weights, device=device)


def _weights(ctx: BuildContext) -> Path:
    from fea_agent.models.registry import model_path

    return model_path("openface3_mtl", folder=ctx.model_dir)


class OpenFace3ActionUnits:
    """:class:`~fea_agent.backends.base.ActionUnitBackend`: 8 AUs and gaze from the face crop."""

    name = "openface3"

    def __init__(self, model: OpenFace3) -> None:
        self.model = model
        self.device = model.device

    def predict(
        self, rgb: np.ndarray, detections: list[Detection], meshes: list[FaceMesh | None]
    ) -> list[AUOutput]:
        return [AUOutput(o.aus, o.gaze) for o in self.model.run(rgb, detections)]


class OpenFace3Appearance:
    """:class:`~fea_agent.backends.base.AppearanceBackend`: 8 AffectNet expressions from the face crop."""

    name = "openface3"

    def __init__(self, model: OpenFace3) -> None:
        self.model = model
        self.device = model.device

    def predict(self, rgb: np.ndarray, detections: list[Detection]) -> list[AppearanceOutput]:
        return [AppearanceOutput(o.probabilities) for o in self.model.run(rgb, detections)]


def load_openface3_aus(ctx: BuildContext) -> OpenFace3ActionUnits:
    return OpenFace3ActionUnits(shared_model(_weights(ctx)))


def load_openface3_appearance(ctx: BuildContext) -> OpenFace3Appearance:
    return OpenFace3Appearance(shared_model(_weights(ctx)))
