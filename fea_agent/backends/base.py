"""The small protocols every backend implements, and the per-face values they pass on.

A stage is one protocol: a detector finds faces, a landmarks backend fits a mesh to each, an action-unit backend
measures AUs, an appearance backend classifies the expression from pixels, a reasoner explains the expression.
Backends are chosen by name in :class:`~fea_agent.pipeline.PipelineOptions` and built through
:mod:`fea_agent.backends.registry`. Each batch method takes every face of one image at once, so a GPU backend
can run them as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from fea_agent.results import ActionUnit, Face

Box = tuple[float, float, float, float]  # x, y, width, height in pixels of the full image


@dataclass(frozen=True)
class Detection:
    """A face found by a detector, in pixels of the full image."""

    box: Box
    score: float
    keypoints: np.ndarray  # (5, 2): right eye, left eye, nose tip, right and left mouth corner


@dataclass(frozen=True)
class FaceMesh:
    """A landmarks backend's output for one face, in pixels of the full image."""

    landmarks: np.ndarray  # (N, 3): x, y in pixels; z in pixels, relative depth (smaller is nearer)
    blendshapes: dict[str, float]
    pose: tuple[float, float, float] | None  # yaw, pitch, roll in degrees (fea_agent.results.HeadPose signs)
    presence: float
    gaze: tuple[float, float] | None = None  # yaw, pitch in degrees (fea_agent.results.Gaze signs)


@dataclass(frozen=True)
class AUOutput:
    """An action-unit backend's output for one face; ``gaze`` when the model also estimates it."""

    aus: list[ActionUnit]
    gaze: tuple[float, float] | None = None


@dataclass(frozen=True)
class AppearanceOutput:
    """An appearance backend's output for one face.

    ``probabilities`` uses this package's label words (a subset of ``EXPRESSION_LABELS``) and sums to 1;
    ``features`` is the model's penultimate embedding when it exposes one (the learned expression model may
    use it); valence and arousal are in [-1, 1] when the model predicts them.
    """

    probabilities: dict[str, float]
    valence: float | None = None
    arousal: float | None = None
    features: np.ndarray | None = field(default=None, compare=False)


@runtime_checkable
class FaceDetector(Protocol):
    name: str
    device: str

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 image, largest first."""
        ...


@runtime_checkable
class LandmarksBackend(Protocol):
    name: str
    device: str

    def run_box(self, rgb: np.ndarray, detection: Detection) -> FaceMesh | None:
        """The mesh of the face the detection found, or None when the model finds no face there."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class LandmarksTracker(Protocol):
    """Follows one face through a video: each call may use what the previous frames showed of it."""

    def run(self, rgb: np.ndarray, detection: Detection, timestamp_ms: int) -> FaceMesh | None:
        """The face's mesh in this frame; ``detection`` is where it was last seen (or the detector's box)."""
        ...

    def prefetch(self, rgb: np.ndarray) -> None:
        """The next frame, given while this one is finished, so a tracker can start on it early."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class TrackingLandmarksBackend(LandmarksBackend, Protocol):
    """A landmarks backend that can follow a face across video frames (video uses it when it can)."""

    def tracker(self) -> LandmarksTracker:
        """A new tracker for one face."""
        ...


@runtime_checkable
class ActionUnitBackend(Protocol):
    name: str
    device: str

    def predict(
        self, rgb: np.ndarray, detections: list[Detection], meshes: list[FaceMesh | None]
    ) -> list[AUOutput]:
        """AUs for every face of one image, in the order of ``detections``."""
        ...


@runtime_checkable
class AppearanceBackend(Protocol):
    name: str
    device: str

    def predict(self, rgb: np.ndarray, detections: list[Detection]) -> list[AppearanceOutput]:
        """Expression from pixels for every face of one image, in the order of ``detections``."""
        ...


@runtime_checkable
class Reasoner(Protocol):
    """Explains the perceived faces of one image: fills ``reasoning`` and may replace ``expression``.

    ``rgb`` is the image (the registry's ``needs_image`` says whether a reasoner looks at it); ``appearance``
    is each face's appearance-backend distribution (None without one), for reasoners that weigh it.
    """

    name: str
    device: str

    def reason(
        self,
        faces: list[Face],
        rgb: np.ndarray | None = None,
        appearance: list[dict[str, float] | None] | None = None,
    ) -> list[Face]: ...
