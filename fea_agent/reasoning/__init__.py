"""Reasoning backends: one interface, chosen by name.

A reasoner takes the perceived faces of an image (and the RGB image, for backends that look at pixels) and
returns them with ``reasoning`` filled in and ``expression`` replaced by its fused answer.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from fea_agent.errors import BackendUnavailableError
from fea_agent.results import Face


class Reasoner(Protocol):
    name: str
    device: str

    def reason(self, faces: list[Face], rgb: np.ndarray | None = None) -> list[Face]: ...


def get_reasoner(name: str, **options: Any) -> Reasoner:
    """The reasoner called ``name`` (``facs``), built with ``options``."""
    if name == "facs":
        from fea_agent.reasoning.facs import FACSReasoner

        return FACSReasoner(**options)
    raise BackendUnavailableError(f"unknown reasoner {name!r}; available: facs")


__all__ = ["Reasoner", "get_reasoner"]
