"""FEALLM (Hu et al., ACM MM 2025) in torch: our implementation of the published architecture.

``LocalClueAggregator`` and ``MultiPerspectiveProjector`` are the trained vision modules; :class:`FEALLM`
joins them with a frozen Hugging Face vision encoder and a frozen causal LM with LoRA. No official weights
exist: train with ``tools/train_feallm.py`` (docs/reasoning-backends.md). Importing this package imports torch.
"""

from fea_agent.reasoning.feallm.model import FEALLM, FEALLMAnswer, FEALLMConfig
from fea_agent.reasoning.feallm.modules import LocalClueAggregator, MultiPerspectiveProjector
from fea_agent.reasoning.feallm.regions import NUM_REGIONS, REGIONS, region_boxes

__all__ = [
    "FEALLM",
    "NUM_REGIONS",
    "REGIONS",
    "FEALLMAnswer",
    "FEALLMConfig",
    "LocalClueAggregator",
    "MultiPerspectiveProjector",
    "region_boxes",
]
