"""fea-agent: facial emotion analysis as agent tools.

from fea_agent import FEAPipeline
result = FEAPipeline().analyze("photo.jpg")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import fea_agent._native  # noqa: F401  (quiets native loggers before they load)

try:
    __version__ = version("fea-agent")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

from fea_agent.errors import BackendUnavailableError, FEAError, InvalidInputError, ModelFileError
from fea_agent.pipeline import FEAPipeline, PipelineOptions
from fea_agent.results import (
    ActionUnit,
    BoundingBox,
    Expression,
    Face,
    FaceQuality,
    HeadPose,
    ImageResult,
    Reasoning,
)

__all__ = [
    "ActionUnit",
    "BackendUnavailableError",
    "BoundingBox",
    "Expression",
    "FEAError",
    "FEAPipeline",
    "Face",
    "FaceQuality",
    "HeadPose",
    "ImageResult",
    "InvalidInputError",
    "ModelFileError",
    "PipelineOptions",
    "Reasoning",
    "__version__",
]
