"""The FACS reasoner: emotion prototypes scored from measured AUs, fused with the appearance classifier.

Offline, deterministic and fast (well under a millisecond a face). For each face it
1. scores every prototype of :mod:`fea_agent.facs.prototypes` from the AU probabilities (the mean of its core
   AUs, all needed; a quarter of its supporting AUs' mean added; half the strongest contradicting AU
   subtracted); neutral scores the presence threshold 0.5, the bar an expression must clear;
2. takes the label from the learned expression model (:mod:`fea_agent.expression`) when the pipeline ran it;
   without one, turns the prototype scores into a distribution (the AU view) and pools it with the appearance
   classifier's distribution in log space;
3. names the AUs that support and contradict the winner, says when the views disagree, when the top two
   labels are close (ambiguous) or when a second expression is also well supported (mixed);
4. writes FEALLM's answer form: the label, then a description grounded in the AUs.
A face whose quality is not usable gets an abstention that says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fea_agent.backends.context import BuildContext
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


#: Intensity from which an AU reads as clear (FACS grade B); below it a present AU is a trace.
CLEAR_INTENSITY = 2.0
#: FACS grade A (trace): the least intensity at which an AU is cited as shown.
GRADE_A = 1.0


def _independent_cheek_raise(face: Face) -> bool:
    """AU06 and AU12 at grade A or more, AU06 measured on its own: a cheek raise read from eye narrowing only
    because the lips smile (the default backend) is a consequence of AU12, not a felt smile's mark."""
    cheek = face.au("AU06")
    return (
        cheek is not None
        and cheek.intensity >= GRADE_A
        and "AU12" not in cheek.depends_on
        and _intensity(face, "AU12") >= GRADE_A
    )


def au_phrase(e: AUEvidence) -> str:
    appearance = AU_CATALOGUE[e.au].appearance
    for article in ("a ", "an "):  # "slightly dropped jaw", not "slightly a dropped jaw"
        appearance = appearance.removeprefix(article)
    return f"{intensity_adverb(e.intensity)} {appearance} ({e.au})"


def _disagreement(label: str, appearance: dict[str, float], au_view: dict[str, float], learned: bool) -> str:
    """The sentence for views that disagree: what each leaned to, how strongly, and which one the answer
    follows (or that it follows neither: the expression model also reads the face's shape and texture)."""
    seen, read = max(appearance, key=appearance.__getitem__), max(au_view, key=au_view.__getitem__)
    text = (
        f"Appearance and action units disagree: the appearance classifier leaned to {seen} "
        f"({appearance[seen]:.0%}) and the action units to {read} ({au_view[read]:.0%}); "
    )
    weigher = "the expression model" if learned else "the pooled views"
    if label == seen:
        return text + f"the answer follows the appearance, the stronger evidence as {weigher} weighs them."
    if label == read:
        return text + f"the answer follows the action units, the stronger evidence as {weigher} weighs them."
    return text + (
        f"{weigher}, reading the face's shape and texture as well, answers {label}, which both views rate "
        f"second or lower ({appearance.get(label, 0.0):.0%} and {au_view.get(label, 0.0):.0%})."
    )


def _describe(label: str, face: Face, evidence: list[AUEvidence], learned: bool) -> str:
    """The description after the label. Wording rule: a movement called clear or strong is never also called
    too weak; traces are named as traces."""
    if label == "neutral":
        clear = [e for e in evidence if e.intensity >= CLEAR_INTENSITY]
        if clear:
            parts = ", ".join(au_phrase(e) for e in clear[:3])
            return (
                f"The face reads as relaxed overall, although it shows {parts}; the rest of the face does not "
                "back an expression."
            )
        if evidence:
            parts = ", ".join(f"{AU_CATALOGUE[e.au].appearance} ({e.au})" for e in evidence[:3])
            return f"The face is relaxed; only faint traces of {parts} show, too weak for an expression."
        return "The face is relaxed: no action unit is clearly active."
    proto = PROTOTYPES.get(label)
    shown = [
        e for e in evidence if e.intensity >= GRADE_A
    ]  # a present AU below grade A is not cited as shown
    support = [au_phrase(e) for e in shown if label in e.supports][:4]
    against = [au_phrase(e) for e in shown if label in e.contradicts][:3]
    if support:
        text = f"The face shows {proto.description if proto else label}: " + ", ".join(support) + "."
    elif learned:
        text = (
            f"No action unit of the {label} prototype is clearly active: the expression model reads {label} "
            "from the face's appearance and shape."
        )
    else:
        text = (
            f"The appearance reads as {label}, but no action unit of its prototype is clearly active, "
            "so this rests on appearance alone."
        )
    if against:
        text += " Against it: " + ", ".join(against) + "."
    if label == "happiness" and _independent_cheek_raise(face):
        text += " Cheeks and lip corners rise together, the mark of a felt (Duchenne) smile."
    return text


class FACSReasoner:
    """Explains each face's expression with its AUs.

    The label is the learned expression model's (``face.expression`` with ``source == "fused"``, set by the
    pipeline); without one, the reasoner fuses the AU prototypes with the appearance classifier itself.
    """

    name = "facs"
    device = "cpu"

    def __init__(self, au_weight: float = AU_WEIGHT) -> None:
        self.au_weight = au_weight

    def reason(
        self,
        faces: list[Face],
        rgb: np.ndarray | None = None,
        appearance: Sequence[dict[str, float] | None] | None = None,
    ) -> list[Face]:
        """``appearance``: each face's appearance-classifier distribution, when ``face.expression`` already
        holds the expression model's answer (so the text can say when appearance and AUs disagree)."""
        views = appearance if appearance is not None else [None] * len(faces)
        return [self.reason_face(face, view) for face, view in zip(faces, views, strict=True)]

    def reason_face(self, face: Face, appearance: dict[str, float] | None = None) -> Face:
        if not face.quality.usable or not face.aus:
            why = "; ".join(face.quality.issues) or "no action units were measured"
            return face.model_copy(update={"reasoning": Reasoning.abstention(why, self.name)})
        act = _activations(face)
        au_dist = au_view(act)
        learned = face.expression is not None and face.expression.source == "fused"
        if appearance is None and face.expression is not None and face.expression.source == "appearance":
            appearance = face.expression.probabilities
        if learned:
            dist = {k: face.expression.probabilities.get(k, 0.0) for k in EXPRESSION_LABELS}
        else:
            dist = fuse(au_dist, appearance, self.au_weight)
        ranked = sorted(dist, key=dist.__getitem__, reverse=True)
        label, second = ranked[0], ranked[1]
        margin = dist[label] - dist[second]
        appearance_label = max(appearance, key=appearance.__getitem__) if appearance else None
        au_label = max(au_dist, key=au_dist.__getitem__)
        mixed = [k for k in ranked[1:3] if dist[k] >= MIXED_PROBABILITY and k != "neutral"]
        agreement = Agreement(
            appearance_label=appearance_label,
            action_unit_label=au_label,
            agree=None if appearance_label is None else appearance_label == au_label,
            ambiguous=margin < AMBIGUOUS_MARGIN,
            mixed=[label, *mixed] if mixed and label != "neutral" else [],
        )
        evidence = _evidence(face, label, act)
        text = f"{label.capitalize()}. " + _describe(label, face, evidence, learned)
        if agreement.agree is False and appearance is not None:
            text += " " + _disagreement(label, appearance, au_dist, learned)
        if agreement.ambiguous:
            text += f" It is a close call with {second} ({dist[second]:.0%})."
        elif agreement.mixed:
            text += f" Some {' and '.join(agreement.mixed[1:])} shows too: a blended expression."
        scale = getattr(face.quality, "confidence_scale", 1.0)
        if scale < 1.0 and face.quality.issues:
            text += " Less certain: " + "; ".join(face.quality.issues) + "."
        expression = (
            face.expression
            if learned
            else Expression(
                label=label,
                probabilities={k: round(v, 4) for k, v in dist.items()},
                source="fused" if appearance else "action_units",
            )
        )
        reasoning = Reasoning(
            label=label,
            text=text,
            confidence=round(dist[label] * scale, 4),
            evidence=evidence,
            agreement=agreement,
            reasoner=self.name,
        )
        return face.model_copy(update={"reasoning": reasoning, "expression": expression})


def load_facs_reasoner(ctx: BuildContext) -> FACSReasoner:
    """The backend registry's factory: the reasoner with the pipeline's ``reasoner_options``."""
    return FACSReasoner(**ctx.options)
