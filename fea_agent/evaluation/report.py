"""The report card of ``fea-agent evaluate``: typed figures built from each photo's label and answer.

Every photo counts: one without a usable face (or on which the pipeline abstains) is answered ``no face`` and is
wrong for every class. AU figures are taken on the usable faces, by their labelled class, so they say whether an
AU measures what it names (fires on the expressions whose prototype holds it, stays quiet on neutral faces)
independently of what the expression model answered.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from fea_agent.evaluation.observe import Answer, Observation
from fea_agent.evaluation.scoring import (
    Classification,
    auc,
    classification,
    coverage_curve,
    expected_calibration_error,
    share,
)
from fea_agent.expression.train import NO_FACE
from fea_agent.facs.prototypes import PROTOTYPES, roles
from fea_agent.results import Face

#: FACS grade A (a trace): the least intensity at which an AU counts as firing or as cited.
GRADE_A = 1.0
#: Grade B: a clear movement. A neutral face with one (lips part and eyes closed aside) is a warning sign.
CLEAR = 2.0
#: AUs a relaxed face shows at rest, left out of the neutral check.
AT_REST = ("AU25", "AU43")
#: A group column with more values than this is an identifier, not a group.
MAX_GROUPS = 12
#: Classes with fewer usable faces than this get no AU figures (a share of 3 faces says nothing).
MIN_CLASS_FACES = 5


class Calibration(BaseModel):
    n: int = Field(description="Answered photos (a face was found and read).")
    expected_calibration_error: float = Field(description="10 equal-width bins of the stated confidence.")
    coverage: dict[str, float] = Field(
        description="Accuracy of the most confident answers at each coverage (share of answers kept)."
    )


class MirrorCheck(BaseModel):
    n: int = Field(description="Photos answered both as they are and mirrored.")
    changed: int
    share_changed: float


class NeutralCheck(BaseModel):
    n: int = Field(description="Photos labelled neutral.")
    kept: float = Field(description="Share answered neutral.")
    clear_au: float = Field(
        description=f"Share of the usable neutral faces with an AU at intensity >= {CLEAR:g} ({', '.join(AT_REST)} aside)."
    )


class GroupScore(BaseModel):
    n: int
    accuracy: float
    mean_recall: float
    per_class_recall: dict[str, float]


class AUValidity(BaseModel):
    """Does the AU measure what it names: how often it fires (intensity >= 1) on each labelled class, and how
    well its probability separates each class from neutral faces (AUC, 0.5: not at all)."""

    prototype_of: list[str] = Field(description="Expressions whose FACS prototype holds the AU.")
    firing: dict[str, float] = Field(
        description="label -> share of that class's usable faces at intensity >= 1."
    )
    auc_vs_neutral: dict[str, float] = Field(
        description="label -> AUC of the AU's probability, class vs neutral."
    )


class ReasoningChecks(BaseModel):
    answers: int = Field(description="Non-neutral answers.")
    core_au_cited: float = Field(description="Share whose text cites a core AU of the answer's prototype.")
    views_disagree: float = Field(description="Share saying appearance and action units disagree.")
    third_label: float = Field(description="Share answering a label neither appearance nor the AUs chose.")
    below_grade_a_cited: float = Field(description="Share citing as shown an AU below intensity 1.")


class EvaluationReport(BaseModel):
    folders: list[str]
    photos: int
    model: str
    reasoner: str | None
    protocol: str = Field(
        description="How each photo was answered: by the model as given, or cross-validated."
    )
    folds: int | None = Field(
        None, description="Person-grouped cross-validation folds (None: the model as given)."
    )
    overall: Classification
    views: dict[str, Classification] = Field(
        description="Each input alone, for the gain from fusing: 'appearance' (the appearance classifier's "
        "label) and 'action_units' (the FACS prototypes over the measured AUs)."
    )
    by_folder: dict[str, Classification]
    calibration: Calibration
    mirror: MirrorCheck | None
    neutral: NeutralCheck
    by_group: dict[str, dict[str, dict[str, GroupScore]]] = Field(
        description="folder -> column (gender, ethnicity, age band, ...) -> group -> scores."
    )
    action_units: dict[str, AUValidity]
    reasoning: ReasoningChecks | None
    no_face: dict[str, str] = Field(description="folder/file -> why no usable face was answered.")


@dataclass
class Scored:
    """One photo: its observation, its answer and (with the mirror check) its mirror image's answer."""

    observation: Observation
    answer: Answer
    mirrored: Answer | None = None


def _cited(text: str) -> list[str]:
    """AU codes a reasoning text cites in its support (before any 'Against it:')."""
    return re.findall(r"\((AU\d\d)\)", text.split(" Against it:")[0])


def reasoning_checks(scored: Sequence[Scored]) -> ReasoningChecks | None:
    faces = [
        (s.answer.label, s.answer.face)
        for s in scored
        if s.answer.label not in (NO_FACE, "neutral")
        and s.answer.face is not None
        and s.answer.face.reasoning
    ]
    if not faces:
        return None
    core, disagree, third, weak = [], [], [], []
    for label, face in faces:
        reasoning = face.reasoning
        assert reasoning is not None
        cited = _cited(reasoning.text)
        proto = PROTOTYPES.get(label)
        core.append(proto is not None and any(code in proto.core for code in cited))
        agreement = reasoning.agreement
        disagree.append(agreement.agree is False)
        third.append(
            agreement.appearance_label is not None
            and label not in (agreement.appearance_label, agreement.action_unit_label)
        )
        weak.append(any((au := face.au(code)) is not None and au.intensity < GRADE_A for code in cited))
    return ReasoningChecks(
        answers=len(faces),
        core_au_cited=share(core),
        views_disagree=share(disagree),
        third_label=share(third),
        below_grade_a_cited=share(weak),
    )


def au_validity(faces: Sequence[tuple[str, Face]]) -> dict[str, AUValidity]:
    """Per AU, on usable faces by labelled class: firing shares and AUC against the neutral faces."""
    by_label: dict[str, list[Face]] = defaultdict(list)
    for label, face in faces:
        by_label[label].append(face)
    classes = sorted(k for k, v in by_label.items() if len(v) >= MIN_CLASS_FACES)
    codes = sorted({au.code for _, face in faces for au in face.aus})
    out = {}
    for code in codes:

        def values(label: str, code: str = code) -> list[tuple[float, float]]:
            return [(au.probability, au.intensity) for f in by_label[label] if (au := f.au(code)) is not None]

        neutral = [p for p, _ in values("neutral")]
        firing = {k: share([i >= GRADE_A for _, i in values(k)]) for k in classes}
        aucs = {k: auc([p for p, _ in values(k)], neutral) for k in classes if k != "neutral" and neutral}
        out[code] = AUValidity(
            prototype_of=list(roles(code).supports),
            firing=firing,
            auc_vs_neutral={k: v for k, v in aucs.items() if not math.isnan(v)},
        )
    return out


def _group_scores(scored: Sequence[Scored]) -> dict[str, dict[str, GroupScore]]:
    columns = sorted({c for s in scored for c in s.observation.sample.groups})
    out: dict[str, dict[str, GroupScore]] = {}
    for column in columns:
        groups: dict[str, list[Scored]] = defaultdict(list)
        for s in scored:
            groups[s.observation.sample.groups.get(column, "unknown")].append(s)
        if len(groups) > MAX_GROUPS:
            continue
        out[column] = {}
        for group, members in sorted(groups.items()):
            c = classification(
                [m.observation.sample.label for m in members], [m.answer.label for m in members]
            )
            out[column][group] = GroupScore(
                n=c.n, accuracy=c.accuracy, mean_recall=c.mean_recall, per_class_recall=c.per_class_recall
            )
    return out


def _view_labels(s: Scored) -> dict[str, str]:
    from fea_agent.reasoning.facs import au_view

    face, appearance = s.observation.view.face, s.observation.view.appearance
    if face is None or not face.quality.usable:
        return {"appearance": NO_FACE, "action_units": NO_FACE}
    aus = au_view({a.code: a.probability for a in face.aus}) if face.aus else None
    return {
        "appearance": max(appearance, key=appearance.__getitem__) if appearance else NO_FACE,
        "action_units": max(aus, key=aus.__getitem__) if aus else NO_FACE,
    }


def build_report(
    scored: Sequence[Scored],
    *,
    folders: Sequence[str],
    model: str,
    reasoner: str | None,
    protocol: str,
    folds: int | None,
) -> EvaluationReport:
    """The report card over every photo of the evaluated folders."""
    truth = [s.observation.sample.label for s in scored]
    answers = [s.answer.label for s in scored]
    by_folder: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        by_folder[s.observation.sample.folder].append(s)
    answered = [s for s in scored if s.answer.label != NO_FACE]
    confidence = [s.answer.confidence for s in answered]
    correct = [s.answer.label == s.observation.sample.label for s in answered]
    mirrored = [s for s in answered if s.mirrored is not None and s.mirrored.label != NO_FACE]
    changed = sum(s.mirrored is not None and s.mirrored.label != s.answer.label for s in mirrored)
    usable = [
        (s.observation.sample.label, s.observation.view.face)
        for s in scored
        if s.observation.view.face is not None and s.observation.view.face.quality.usable
    ]
    neutral_faces = [face for label, face in usable if label == "neutral"]
    views = [_view_labels(s) for s in scored]
    return EvaluationReport(
        folders=list(folders),
        photos=len(scored),
        model=model,
        reasoner=reasoner,
        protocol=protocol,
        folds=folds,
        overall=classification(truth, answers),
        views={
            name: classification(truth, [v[name] for v in views]) for name in ("appearance", "action_units")
        },
        by_folder={
            name: classification([s.observation.sample.label for s in ss], [s.answer.label for s in ss])
            for name, ss in by_folder.items()
        },
        calibration=Calibration(
            n=len(answered),
            expected_calibration_error=expected_calibration_error(confidence, correct),
            coverage=coverage_curve(confidence, correct),
        ),
        mirror=MirrorCheck(
            n=len(mirrored),
            changed=changed,
            share_changed=share([True] * changed + [False] * (len(mirrored) - changed)),
        )
        if any(s.mirrored is not None for s in scored)
        else None,
        neutral=NeutralCheck(
            n=sum(t == "neutral" for t in truth),
            kept=share([a == "neutral" for t, a in zip(truth, answers, strict=True) if t == "neutral"]),
            clear_au=share(
                [any(au.intensity >= CLEAR and au.code not in AT_REST for au in f.aus) for f in neutral_faces]
            ),
        ),
        by_group={name: _group_scores(ss) for name, ss in by_folder.items()},
        action_units=au_validity(usable),
        reasoning=reasoning_checks(scored),
        no_face={
            f"{s.observation.sample.folder}/{s.observation.sample.file}": s.observation.view.why
            or "the pipeline abstained"
            for s in scored
            if s.answer.label == NO_FACE
        },
    )
