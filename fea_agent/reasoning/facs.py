"""The FACS reasoner: emotion prototypes scored from measured AUs, fused with the appearance classifier.

Offline, deterministic and fast (well under a millisecond a face). For each face it
1. scores every prototype of :mod:`fea_agent.facs.prototypes` from the AU probabilities (the mean of its core
   AUs, all needed; a quarter of its supporting AUs' mean added; half the strongest contradicting AU
   subtracted); neutral scores the presence threshold 0.5, the bar an expression must clear;
2. turns those scores into a distribution (the AU view) and pools it with the appearance classifier's
   distribution in log space ("emotional synergy": both views must agree for a confident answer);
3. names the AUs that support and contradict the winner, says when the views disagree, when the top two
   labels are close (ambiguous) or when a second expression is also well supported (mixed);
4. writes FEALLM's answer form: the label, then a description grounded in the AUs.
A face whose quality is not usable gets an abstention that says why.
"""

from __future__ import annotations

import math

import numpy as np

from fea_agent.facs import AU_CATALOGUE, PROTOTYPES, intensity_adverb, roles
from fea_agent.results import (
    EXPRESSION_LABELS,
    Agreement,
    AUEvidence,
    Expression,
    Face,
    Reasoning,
)

#: Weight of the AU view against the appearance view in the log-linear pool: the two count equally.
AU_WEIGHT = 0.5
#: Sharpness of the AU view's softmax: a score difference of 0.2 is a factor e between two labels.
TEMPERATURE = 0.2
#: Share of its strongest supporting AU's probability added to an expression's score.
SUPPORT_SHARE = 0.25
#: Share of the strongest contradicting AU's probability subtracted from an expression's score.
CONTRADICT_SHARE = 0.5
#: Neutral's score: the AU presence threshold. An expression must match its prototype better than this.
NEUTRAL_SCORE = 0.5
#: Top-two margin below which the answer is called ambiguous.
AMBIGUOUS_MARGIN = 0.15
#: A second label this probable makes a mixed expression.
MIXED_PROBABILITY = 0.25
#: Floor for labels the appearance classifier does not output (contempt), and against log(0).
FLOOR = 1e-3


def _activations(face: Face) -> dict[str, float]:
    return {a.code: a.probability for a in face.aus}


def au_scores(act: dict[str, float]) -> dict[str, float]:
    """Label -> prototype match in 0-1 from AU probabilities; neutral is the fixed bar an expression must clear.

    An expression scores the mean probability of its core AUs (all of them are needed: a raised inner brow
    alone is not surprise) plus a smaller share for its strongest supporting AU, minus a share for the
    strongest AU that contradicts it. Neutral scores :data:`NEUTRAL_SCORE`, the AU presence threshold, so an
    expression wins over neutral only when its core movements are, on balance, present.
    """
    scores: dict[str, float] = {}
    for label, proto in PROTOTYPES.items():
        core = sum(act.get(au, 0.0) for au in proto.core) / len(proto.core)
        support = sum(act.get(au, 0.0) for au in proto.supporting) / max(1, len(proto.supporting))
        against = max((act.get(au, 0.0) for au in proto.contradicts), default=0.0)
        match = core + SUPPORT_SHARE * support - CONTRADICT_SHARE * against
        scores[label] = min(1.0, max(0.0, match))
    scores["neutral"] = NEUTRAL_SCORE
    return scores


def au_view(act: dict[str, float]) -> dict[str, float]:
    """The AU view: the prototype scores of :func:`au_scores` as a distribution over the labels."""
    return _softmax(au_scores(act), TEMPERATURE)


def _softmax(scores: dict[str, float], temperature: float) -> dict[str, float]:
    values = np.array([scores[k] for k in EXPRESSION_LABELS]) / temperature
    values = np.exp(values - values.max())
    values /= values.sum()
    return dict(zip(EXPRESSION_LABELS, values.tolist(), strict=True))


def fuse(
    action_units: dict[str, float], appearance: dict[str, float] | None, au_weight: float = AU_WEIGHT
) -> dict[str, float]:
    """Log-linear pool of the AU view and the appearance view; with no appearance view, the AU view alone."""
    if not appearance:
        return dict(action_units)
    logs = {
        k: au_weight * math.log(max(action_units.get(k, 0.0), FLOOR))
        + (1 - au_weight) * math.log(max(appearance.get(k, 0.0), FLOOR))
        for k in EXPRESSION_LABELS
    }
    peak = max(logs.values())
    exp = {k: math.exp(v - peak) for k, v in logs.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def _intensity(face: Face, code: str) -> float:
    au = face.au(code)
    return au.intensity if au is not None else 0.0


def _evidence(face: Face, label: str, act: dict[str, float]) -> list[AUEvidence]:
    """Present AUs, each with the expressions it supports and contradicts; the winner's first."""
    cited = []
    for au in face.aus:
        if not au.present:
            continue
        role = roles(au.code)
        supports, contradicts = list(role.supports), list(role.contradicts)
        if label == "neutral":
            contradicts = ["neutral", *contradicts]
        cited.append(
            AUEvidence(au=au.code, intensity=au.intensity, supports=supports, contradicts=contradicts)
        )
    cited.sort(key=lambda e: (label not in e.supports, -e.intensity))
    return cited


def _describe(label: str, face: Face, evidence: list[AUEvidence]) -> str:
    parts = []
    for e in evidence[:4]:
        info = AU_CATALOGUE[e.au]
        parts.append(f"{intensity_adverb(e.intensity)} {info.appearance} ({e.au})")
    if label == "neutral":
        if not parts:
            return "The face is relaxed: no action unit is clearly active."
        return (
            "The face is mostly relaxed; only "
            + ", ".join(parts)
            + " show, too weak or too few for an expression."
        )
    proto = PROTOTYPES.get(label)
    support = [p for p, e in zip(parts, evidence, strict=False) if label in e.supports]
    against = [p for p, e in zip(parts, evidence, strict=False) if label in e.contradicts]
    if support:
        text = f"The face shows {proto.description if proto else label}: " + ", ".join(support) + "."
    else:
        text = (
            f"The appearance reads as {label}, but no action unit of its prototype is clearly active, "
            "so this rests on appearance alone."
        )
    if against:
        text += " Against it: " + ", ".join(against) + "."
    if label == "happiness" and _intensity(face, "AU06") >= 1.0 and _intensity(face, "AU12") >= 1.0:
        text += " Cheeks and lip corners rise together, the mark of a felt (Duchenne) smile."
    return text


class FACSReasoner:
    """Deterministic FACS-prototype reasoner fused with the appearance classifier."""

    name = "facs"
    device = "cpu"

    def __init__(self, au_weight: float = AU_WEIGHT) -> None:
        self.au_weight = au_weight

    def reason(self, faces: list[Face], rgb: np.ndarray | None = None) -> list[Face]:
        return [self.reason_face(face) for face in faces]

    def reason_face(self, face: Face) -> Face:
        if not face.quality.usable or not face.aus:
            why = "; ".join(face.quality.issues) or "no action units were measured"
            return face.model_copy(update={"reasoning": Reasoning.abstention(why, self.name)})
        act = _activations(face)
        au_dist = au_view(act)
        appearance = face.expression.probabilities if face.expression is not None else None
        fused = fuse(au_dist, appearance, self.au_weight)
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        label, second = ranked[0], ranked[1]
        margin = fused[label] - fused[second]
        appearance_label = max(appearance, key=appearance.__getitem__) if appearance else None
        au_label = max(au_dist, key=au_dist.__getitem__)
        mixed = [k for k in ranked[1:3] if fused[k] >= MIXED_PROBABILITY and k != "neutral"]
        agreement = Agreement(
            appearance_label=appearance_label,
            action_unit_label=au_label,
            agree=None if appearance_label is None else appearance_label == au_label,
            ambiguous=margin < AMBIGUOUS_MARGIN,
            mixed=[label, *mixed] if mixed and label != "neutral" else [],
        )
        evidence = _evidence(face, label, act)
        text = f"{label.capitalize()}. " + _describe(label, face, evidence)
        if agreement.agree is False:
            text += (
                f" The appearance classifier leaned to {appearance_label} and the action units to {au_label};"
                f" combined, {label} is the more likely."
            )
        if agreement.ambiguous:
            text += f" It is a close call with {second} ({fused[second]:.0%})."
        elif agreement.mixed:
            text += f" Some {' and '.join(agreement.mixed[1:])} shows too: a blended expression."
        expression = Expression(
            label=label,
            probabilities={k: round(v, 4) for k, v in fused.items()},
            source="fused" if appearance else "action_units",
        )
        reasoning = Reasoning(
            label=label,
            text=text,
            confidence=round(fused[label], 4),
            evidence=evidence,
            agreement=agreement,
            reasoner=self.name,
        )
        return face.model_copy(update={"reasoning": reasoning, "expression": expression})
