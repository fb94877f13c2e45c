"""fea-agent: facial emotion analysis as agent tools.

    from fea_agent import FEAPipeline
    result = FEAPipeline().analyze("photo.jpg")
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

# MediaPipe and LiteRT log to stderr from C++ at import and load; keep stdout/stderr for what users asked for.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    __version__ = version("fea-agent")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

from fea_agent.errors import BackendUnavailableError, FEAError, InvalidInputError, ModelFileError  # noqa: E402
from fea_agent.pipeline import FEAPipeline, PipelineOptions  # noqa: E402
from fea_agent.results import (  # noqa: E402
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
