"""Where the project's shared data and models are, for tools/ and tests/ alike (one place).

``$FEA_AGENT_SHARED`` names the folder; by default it is ``shared`` beside the checkout (``../shared``), which
the project's machines and CI have. A tool run as ``python tools/x.py`` imports this as ``_paths``; the tests
put tools/ on ``sys.path`` in their conftest and do the same.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEA_AGENT_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
MODELS = SHARED / "models"
EDGE = DATA / "edge-cases" / "images"
FRL = DATA / "frl-london"
VIDEO = DATA / "edge-cases" / "video" / "WolfgangLanger_Pexels.mp4"
SAMPLES = ROOT / "samples"


def use_shared_models() -> None:
    """Read the models from the shared folder unless ``$FEA_AGENT_MODEL_DIR`` names another."""
    if MODELS.is_dir():
        os.environ.setdefault("FEA_AGENT_MODEL_DIR", str(MODELS))
