"""What a backend is built with: the model folder, the few numbers it uses, and its own options.

Every factory in the registry has one signature, ``factory(ctx: BuildContext)``, so a backend depends on this
small record and never on the pipeline that composes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: Detector score below which a box is dropped (the default of ``PipelineOptions.detection_threshold``).
DETECTION_THRESHOLD = 0.7
#: Images are downscaled to this longer side for detection only (``PipelineOptions.detection_max_side``).
DETECTION_MAX_SIDE = 640


@dataclass(frozen=True)
class BuildContext:
    """The inputs of a backend factory.

    ``model_dir`` is the folder of model files (None: ``$FEA_AGENT_MODEL_DIR`` or the download cache);
    ``options`` holds the backend's own settings (a reasoner's ``reasoner_options``).
    """

    model_dir: Path | None = None
    detection_threshold: float = DETECTION_THRESHOLD
    detection_max_side: int = DETECTION_MAX_SIDE
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
