"""The reasoning of a face whose answer falls short of ``min_confidence``: uncertain between two labels.

It replaces any reasoner's answer (FACS, VLM, FEALLM, an OpenAI-compatible server) once the pipeline's
confidence bar withholds the label (:mod:`fea_agent.pipeline.confidence`). The text names both candidates
with their probabilities and the AUs that speak for each, and never claims one of them::

    Uncertain between happiness (48%) and surprise (31%). The answer's confidence, 48%, is below the 60%
    asked for, so no single expression is named. For happiness: slightly raised lip corners (AU12). For
    surprise: no action unit of its prototype is clearly active.
"""

from __future__ import annotations

from fea_agent.facs import PROTOTYPES, roles
from fea_agent.reasoning.facs import GRADE_A, au_phrase
from fea_agent.results import ABSTAIN, AUEvidence, Expression, Face, Reasoning

#: At most this many AUs are cited for each candidate.
CITED = 3


def _shown(face: Face) -> list[AUEvidence]:
    """The AUs shown at FACS grade A or more, strongest first, with the labels they support."""
    shown = [
        AUEvidence(au=a.code, intensity=a.intensity, supports=list(roles(a.code).supports))
        for a in face.aus
        if a.present and a.intensity >= GRADE_A
    ]
    return sorted(shown, key=lambda e: -e.intensity)


def _for(label: str, shown: list[AUEvidence]) -> str:
    """What speaks for one candidate, in one sentence."""
    if label == "neutral":
        if not shown:
            return "For neutral: no action unit is clearly active."
        return "Against neutral: " + ", ".join(au_phrase(e) for e in shown[:CITED]) + "."
    support = [au_phrase(e) for e in shown if label in e.supports][:CITED]
    if support:
        return f"For {label}: " + ", ".join(support) + "."
    what = "its prototype" if label in PROTOTYPES else "it"
    return f"For {label}: no action unit of {what} is clearly active."


def _percent(value: float, other: float) -> str:
    """``value`` as a percentage, with a decimal when whole percents would not tell it from ``other``."""
    whole = f"{value:.0%}"
    return f"{value:.1%}" if whole == f"{other:.0%}" else whole


def uncertain_text(face: Face, expression: Expression, confidence: float, min_confidence: float) -> str:
    """'Uncertain between X (p%) and Y (q%). ...' for a face whose answer is below the bar."""
    assert expression.uncertain_between is not None
    first, second = expression.uncertain_between
    p = expression.probabilities
    text = (
        f"Uncertain between {first} ({p.get(first, 0.0):.0%}) and {second} ({p.get(second, 0.0):.0%}). "
        f"The answer's confidence, {_percent(confidence, min_confidence)}, is below the "
        f"{_percent(min_confidence, confidence)} asked for, so no single expression is named."
    )
    shown = _shown(face)
    text += " " + " ".join(_for(label, shown) for label in (first, second))
    scale = face.quality.confidence_scale
    if scale < 1.0 and face.quality.issues:
        text += " Less certain: " + "; ".join(face.quality.issues) + "."
    return text


def uncertain_reasoning(
    face: Face, reasoning: Reasoning, expression: Expression, confidence: float, min_confidence: float
) -> Reasoning:
    """``reasoning`` turned into an uncertain answer: label 'abstain', ``uncertain_between`` the two labels
    of ``expression`` (withheld already), the text of :func:`uncertain_text`; its evidence, agreement,
    confidence and reasoner name stay."""
    return reasoning.model_copy(
        update={
            "label": ABSTAIN,
            "text": uncertain_text(face, expression, confidence, min_confidence),
            "uncertain_between": expression.uncertain_between,
        }
    )
