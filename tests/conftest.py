"""Shared fixtures: the real photos and video in ../shared/data, and one pipeline per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEA_AGENT_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
EDGE = DATA / "edge-cases" / "images"
FRL = DATA / "frl-london"
VIDEO = DATA / "edge-cases" / "video" / "WolfgangLanger_Pexels.mp4"
MODELS = SHARED / "models"

# The models come from ../shared/models here; the registry verifies them.
if MODELS.is_dir():
    os.environ.setdefault("FEA_AGENT_MODEL_DIR", str(MODELS))

#: The seven agent tools issue 4 names, which every interface (MCP, LangChain, LlamaIndex) must offer.
SEVEN_TOOLS = frozenset(
    {
        "analyze_face",
        "detect_faces",
        "detect_action_units",
        "classify_expression",
        "explain_emotion",
        "describe_action_unit",
        "analyze_video",
    }
)

needs_shared = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}")


@pytest.fixture(scope="session")
def astronaut() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return EDGE / "skimage_astronaut.png"


@pytest.fixture(scope="session")
def pipeline():
    """One default pipeline (facs reasoner) shared by the whole session: models load once."""
    if not MODELS.is_dir():
        pytest.skip(f"shared models not found at {MODELS}")
    from fea_agent import FEAPipeline

    with FEAPipeline() as p:
        yield p
