"""Perceiving a labelled folder once, and answering it with any expression model.

Each photo (and, for the mirror check, its horizontal mirror) is analysed once by a pipeline without an
expression model or reasoner, so that :func:`answer` can put any model on top, the shipped one or each fold's
of a person-grouped cross-validation, and reason over the result as the pipeline would. Pixels are not kept:
an observation holds the largest face's measurements and its feature row, in memory only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fea_agent.errors import FEAError
from fea_agent.expression.model import ExpressionModel
from fea_agent.expression.train import NO_FACE, Sample
from fea_agent.results import ABSTAIN, EXPRESSION_LABELS, Expression, Face

Progress = Callable[[str, int, int], None]


@dataclass
class View:
    """What perception made of one image: the largest face (its expression the appearance classifier's, not
    yet reasoned), the model's feature row for it, or why there is none."""

    face: Face | None = None
    features: np.ndarray | None = None
    appearance: dict[str, float] | None = None  # the appearance classifier's distribution, for the reasoner
    why: str = ""


@dataclass
class Observation:
    sample: Sample
    view: View
    mirrored: View | None = None


@dataclass
class Answer:
    """The pipeline's answer for one view: its label (``NO_FACE`` when it found no usable face or abstained),
    the confidence it states, and the reasoned face."""

    label: str
    confidence: float = 0.0
    face: Face | None = None


def perceive(
    pipeline: Any, model: ExpressionModel, image: Path | np.ndarray, source: str
) -> tuple[View, Any]:
    """One image through ``pipeline`` (built with ``expression_model=None, reasoner=None``): its largest face and
    feature row, and the decoded pixels (for the mirror)."""
    try:
        analysis = pipeline.run(image, source=source, reasoner=None)
    except (FEAError, OSError) as exc:
        return View(why=str(exc)), None
    faces = analysis.faces
    if not faces:
        return View(why="no face found"), analysis.rgb
    main = max(range(len(faces)), key=lambda j: faces[j].bbox.width * faces[j].bbox.height)
    look = analysis.appearance[main] if main < len(analysis.appearance) else None
    face = faces[main]
    features = model.features(face, look, analysis.rgb)
    appearance = look.probabilities if look is not None else None
    return View(face, features, appearance, "; ".join(face.quality.issues)), analysis.rgb


def observe(
    folder: Path,
    samples: Sequence[Sample],
    pipeline: Any,
    model: ExpressionModel,
    *,
    mirror: bool = True,
    progress: Progress | None = None,
) -> list[Observation]:
    """Perceive every sample's photo (and its mirror image, with ``mirror``) once."""
    out = []
    for i, s in enumerate(samples):
        view, rgb = perceive(pipeline, model, folder / s.file, s.file)
        mirrored = None
        if mirror and rgb is not None:
            mirrored, _ = perceive(
                pipeline, model, np.ascontiguousarray(rgb[:, ::-1]), f"{s.file} (mirrored)"
            )
        out.append(Observation(s, view, mirrored))
        if progress is not None:
            progress(folder.name, i + 1, len(samples))
    return out


def answer(view: View | None, model: ExpressionModel, reasoner: Any) -> Answer:
    """The pipeline's answer for a perceived view with ``model`` as its expression model: the model's fused
    expression, withheld for a face the quality gate rejects, then the reasoner's label, text and confidence."""
    if view is None or view.face is None:
        return Answer(NO_FACE)
    face = view.face
    if view.features is not None:
        p = model.predict_proba(view.features[None, :])[0]
        dist = {k: float(v) for k, v in zip(EXPRESSION_LABELS, p, strict=True)}
        face = face.model_copy(
            update={"expression": Expression.from_probabilities(dist, "fused", model.name)}
        )
    if not face.quality.usable:
        return Answer(NO_FACE, face=face)
    if reasoner is None:
        expression = face.expression
        if expression is None or expression.label is None:
            return Answer(NO_FACE, face=face)
        return Answer(expression.label, expression.probabilities.get(expression.label, 0.0), face)
    reasoned = reasoner.reason([face], None, appearance=[view.appearance])[0]
    reasoning = reasoned.reasoning
    if reasoning is None or reasoning.label in (ABSTAIN, "unknown"):
        return Answer(NO_FACE, face=reasoned)
    return Answer(reasoning.label, reasoning.confidence, reasoned)
