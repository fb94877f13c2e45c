"""Reasoning backends: one :class:`~fea_agent.backends.base.Reasoner` interface, chosen by name.

A reasoner takes the perceived faces of an image (and the RGB image, for backends that look at pixels) and
returns them with ``reasoning`` filled in and ``expression`` replaced by its fused answer. The names, what
each needs and how it is built live in :mod:`fea_agent.backends.registry` (stage ``"reasoner"``).
"""

from __future__ import annotations

from typing import Any

from fea_agent.backends.base import Reasoner
from fea_agent.backends.context import BuildContext
from fea_agent.backends.registry import load


def get_reasoner(name: str, **options: Any) -> Reasoner:
    """The reasoner registered as ``name`` (``fea-agent models list`` names them), built with ``options``."""
    reasoner: Reasoner = load("reasoner", name, BuildContext(options=options))
    return reasoner


__all__ = ["Reasoner", "get_reasoner"]
