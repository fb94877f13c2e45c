"""Temporal smoothing: an exponential moving average of each face's AUs and expression probabilities.

Frame-by-frame estimates flicker (a blink, a compression artefact); the EMA keeps what persists. ``alpha`` is
the weight of the new frame: 1 is no smoothing, 0.5 halves a one-frame spike, 0.2 follows only slow change.
Smoothing runs before the reasoner, so the fused expression and its explanation use the smoothed evidence.
"""

from __future__ import annotations

from typing import Any

from fea_agent.results import ActionUnit, Expression, Face

DEFAULT_ALPHA = 0.5


def _ema(previous: float | None, value: float, alpha: float) -> float:
    return value if previous is None else previous + alpha * (value - previous)


def smooth_face(face: Face, state: dict[str, Any], alpha: float = DEFAULT_ALPHA) -> Face:
    """The face with its AU intensities/probabilities and expression probabilities averaged over time.

    ``state`` is this face's memory between frames (a track's dict); it is updated in place.
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"smoothing alpha must be in (0, 1], got {alpha}")
    memory: dict[str, float] = state.setdefault("ema", {})
    aus = []
    for au in face.aus:
        intensity = _ema(memory.get(au.code + ":i"), au.intensity, alpha)
        probability = _ema(memory.get(au.code + ":p"), au.probability, alpha)
        memory[au.code + ":i"], memory[au.code + ":p"] = intensity, probability
        aus.append(
            ActionUnit.measured(au.code, au.name, round(probability, 4), round(intensity, 3), au.depends_on)
        )
    expression = face.expression
    if expression is not None and expression.label is not None:
        probabilities = {}
        for label, p in expression.probabilities.items():
            probabilities[label] = _ema(memory.get("expr:" + label), p, alpha)
            memory["expr:" + label] = probabilities[label]
        total = sum(probabilities.values()) or 1.0
        expression = Expression.from_probabilities(
            {k: v / total for k, v in probabilities.items()}, expression.source, expression.model
        )
    return face.model_copy(update={"aus": aus, "expression": expression})
