"""Reasoning backends: one interface, chosen by name.

A reasoner takes the perceived faces of an image (and the RGB image, for backends that look at pixels) and
returns them with ``reasoning`` filled in and ``expression`` replaced by its fused answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fea_agent.errors import BackendUnavailableError
from fea_agent.results import Face

if TYPE_CHECKING:
    from fea_agent.pipeline import PipelineOptions

#: Every reasoner name :func:`get_reasoner` knows; ``facs`` is the default.
REASONERS: tuple[str, ...] = ("facs", "feallm", "vlm", "openai")


class Reasoner(Protocol):
    name: str
    device: str

    def reason(self, faces: list[Face], rgb: np.ndarray | None = None) -> list[Face]: ...


def load_reasoner(name: str, options: PipelineOptions) -> Reasoner:
    """The backend registry's factory: the reasoner ``name`` with the pipeline's ``reasoner_options``."""
    return get_reasoner(name, **options.reasoner_options)


def get_reasoner(name: str, **options: Any) -> Reasoner:
    """The reasoner called ``name`` (one of :data:`REASONERS`), built with ``options``."""
    # Imports stay in the branches: torch and transformers load only when a backend needing them is asked for.
    if name == "facs":
        from fea_agent.reasoning.facs import FACSReasoner

        return FACSReasoner(**options)
    if name == "feallm":
        from fea_agent.reasoning.feallm.reasoner import FEALLMReasoner

        return FEALLMReasoner(**options)
    if name == "vlm":
        from fea_agent.reasoning.vlm import VLMReasoner

        return VLMReasoner(**options)
    if name == "openai":
        from fea_agent.reasoning.openai_compat import OpenAIReasoner

        return OpenAIReasoner(**options)
    raise BackendUnavailableError(f"unknown reasoner {name!r}; available: {', '.join(REASONERS)}")


__all__ = ["REASONERS", "Reasoner", "get_reasoner", "load_reasoner"]
