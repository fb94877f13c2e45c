"""The confidence bar (``PipelineOptions.min_confidence``): below it a face's expression is not named.

A face whose answer is less confident than the bar is *uncertain between* its two most probable labels: its
``expression.label`` is None and ``expression.uncertain_between`` names the two (most probable first), the
probabilities stay, and the reasoning, when there is one, abstains with a text that says "Uncertain between X
(p%) and Y (q%)" instead of naming one expression. This follows the convention of a face that cannot be read
at all (label None, reasoning 'abstain'), so every reader that skips unlabelled faces (video summaries,
episodes, tables) skips an uncertain one too; the new field says why, and the probabilities say how close.

The answer's confidence is what :attr:`Face.confidence <fea_agent.results.Face.confidence>` reports: the
reasoner's confidence (the label's probability, lowered for a turned or small face), else the expression's top
probability. :meth:`FEAPipeline.finish <fea_agent.pipeline.FEAPipeline.finish>` applies the bar, after the
expression model and the reasoner have made their final answer, so it holds in every interface.
"""

from __future__ import annotations

import math
from typing import Any, cast

from fea_agent.errors import InvalidInputError
from fea_agent.results import UNKNOWN, Expression, ExpressionLabel, Face


def check_min_confidence(value: Any) -> float | None:
    """``value`` as a confidence bar: None (no bar) or a number from 0 to 1; :class:`InvalidInputError`
    (a ValueError) that says so for anything else."""
    if value is None:
        return None
    number: float | None = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    if number is None or math.isnan(number) or not 0.0 <= number <= 1.0:
        raise InvalidInputError(
            f"min_confidence must be a number from 0 to 1 (the least confidence at which an expression is "
            f"named; None for no bar), got {value!r}"
        )
    return number


def answer_confidence(face: Face) -> float | None:
    """The confidence the bar is compared with: the reasoner's (lowered for a turned or small face) when it
    named a label, else the expression's top probability; None when the face has no distribution."""
    expression = face.expression
    if expression is None or not expression.probabilities:
        return None
    reasoning = face.reasoning
    if reasoning is not None and reasoning.label != UNKNOWN and not reasoning.abstained:
        return reasoning.confidence
    return max(expression.probabilities.values())


def withhold_expression(
    expression: Expression, min_confidence: float | None, confidence: float | None = None
) -> Expression:
    """``expression`` with its label withheld when ``confidence`` (default its top probability) is below
    ``min_confidence``: label None and ``uncertain_between`` the top two. Above the bar (or with no bar) the
    most probable label is named. An expression without probabilities (an unreadable face) is left as is."""
    top_two = expression.top_two
    if top_two is None:
        return expression
    if confidence is None:
        confidence = expression.probabilities[top_two[0]]
    if min_confidence is None or confidence >= min_confidence:
        if expression.uncertain_between is None:
            return expression
        return expression.model_copy(
            update={"label": cast(ExpressionLabel, top_two[0]), "uncertain_between": None}
        )
    between = cast("tuple[ExpressionLabel, ExpressionLabel]", top_two)
    return expression.model_copy(update={"label": None, "uncertain_between": between})


def withhold(face: Face, min_confidence: float | None) -> Face:
    """The face with its expression withheld when its answer's confidence is below ``min_confidence`` (see
    the module's docstring); the face itself when it passes, has no bar, or cannot be read at all."""
    if min_confidence is None or not face.quality.usable:
        return face
    reasoning = face.reasoning
    if reasoning is not None and reasoning.abstained and reasoning.uncertain_between is None:
        return face  # the reasoner abstained on the face for its own reasons: nothing to name or withhold
    if reasoning is not None and reasoning.uncertain_between is not None:
        return face  # withheld already (finish() runs again after a late reasoning stage)
    confidence = answer_confidence(face)
    if face.expression is None or confidence is None:
        return face
    expression = withhold_expression(face.expression, min_confidence, confidence)
    if expression.uncertain_between is None:
        return face if expression is face.expression else face.model_copy(update={"expression": expression})
    update: dict[str, Any] = {"expression": expression}
    if reasoning is not None:
        from fea_agent.reasoning.uncertain import uncertain_reasoning

        update["reasoning"] = uncertain_reasoning(face, reasoning, expression, confidence, min_confidence)
    return face.model_copy(update=update)


def withhold_all(faces: list[Face], min_confidence: float | None) -> list[Face]:
    """:func:`withhold` on each face."""
    if min_confidence is None:
        return faces
    return [withhold(face, min_confidence) for face in faces]
