"""Interchangeable backends of the perception stages: protocols in ``base``, the name registry in ``registry``."""

from fea_agent.backends.base import (
    ActionUnitBackend,
    AppearanceBackend,
    AppearanceOutput,
    AUOutput,
    Detection,
    FaceDetector,
    FaceMesh,
    LandmarksBackend,
)
from fea_agent.backends.registry import BACKENDS, DEFAULTS, STAGES, BackendSpec, available, describe_all, load

__all__ = [
    "BACKENDS",
    "DEFAULTS",
    "STAGES",
    "AUOutput",
    "ActionUnitBackend",
    "AppearanceBackend",
    "AppearanceOutput",
    "BackendSpec",
    "Detection",
    "FaceDetector",
    "FaceMesh",
    "LandmarksBackend",
    "available",
    "describe_all",
    "load",
]
