"""Evaluating labelled folders: every photo perceived once, answered by the expression model as given or, for
folders the model was trained on, by a person-grouped cross-validation of the same recipe, then scored.

A model scored on the photos it learned from looks better than it is, so a folder named in the model's
training data is cross-validated by default: each fold's model is trained, with the settings the model records,
on the other folds' people only, and answers this fold's photos (and their mirror images).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fea_agent.evaluation.observe import Observation, Progress, answer, observe
from fea_agent.evaluation.report import EvaluationReport, Scored, build_report
from fea_agent.expression.fit import FitSettings, grouped_folds
from fea_agent.expression.model import ExpressionModel
from fea_agent.expression.train import CrossValidation, cross_validate, read_labels
from fea_agent.results import EXPRESSION_LABELS

#: Folds of the cross-validation when a folder was in the model's training data (as ``fea-agent train``).
DEFAULT_FOLDS = 5


def trained_on(model: ExpressionModel) -> set[str]:
    """The folder names the model's training run read (from its header)."""
    return set(model.header.training.get("data", {}))


def fold_models(
    model: ExpressionModel, observations: Sequence[Observation], folds: int, log: Callable[[str], None]
) -> list[ExpressionModel]:
    """One model per fold, fitted as ``model`` was (its recorded settings and label threshold) on the
    observations of the other folds' people; the fold of observation i is ``grouped_folds`` of the persons."""
    training = model.header.training
    settings = FitSettings(**training.get("settings", {}))
    min_per_label = int(training.get("min_per_label", 20))
    fold = grouped_folds([o.sample.person for o in observations], folds, settings.seed)
    rows = [i for i, o in enumerate(observations) if o.view.features is not None]
    labels = [observations[i].sample.label for i in rows]
    counts = Counter(labels)
    trained = [k for k in EXPRESSION_LABELS if counts[k] >= min_per_label]
    if len(trained) < 2:
        raise ValueError(
            f"cross-validation needs two labels with {min_per_label}+ photos with a face; found {dict(counts)}"
        )
    cv: CrossValidation = cross_validate(
        np.stack([observations[i].view.features for i in rows]),  # type: ignore[misc]
        labels,
        [observations[i].sample.folder for i in rows],
        fold[rows],
        trained,
        settings,
        folds,
        mirrored=[m.features if (m := observations[i].mirrored) is not None else None for i in rows],
        log=log,
    )
    header = model.header.model_copy(
        update={"trained_labels": trained, "temperature": round(cv.temperature, 6)}
    )
    models = [
        ExpressionModel(
            header,
            mean=net.mean,
            scale=net.scale,
            layers=net.layers,
            log_prior=cv.offset,
            name=f"{model.name} (fold {f + 1} of {folds})",
        )
        for f, net in enumerate(cv.nets)
    ]
    return [models[f] for f in fold]


def evaluate_folders(
    folders: Sequence[Path],
    pipeline: Any,
    model: ExpressionModel,
    reasoner: Any,
    *,
    folds: int | None = None,
    mirror: bool = True,
    limit: int | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> EvaluationReport:
    """The report card of ``model`` (and ``reasoner``, None: the model's label) on labelled folders.

    ``pipeline`` is built with ``expression_model=None, reasoner=None`` and the backends the model was trained
    with; ``folds`` None cross-validates by person when a folder is in the model's training data, 0 never,
    k with k folds; ``limit`` takes the first photos of each folder (a quick look)."""
    seen = sorted(trained_on(model) & {f.name for f in folders})
    if folds is None:
        folds = DEFAULT_FOLDS if seen else 0
    # The fold models follow the model's recipe, mirror copies included: perceive the mirrors when it has them.
    recipe_mirror = bool(folds) and FitSettings(**model.header.training.get("settings", {})).mirror
    observations: list[Observation] = []
    for folder in folders:
        samples = read_labels(folder)[:limit]
        observations += observe(
            folder, samples, pipeline, model, mirror=mirror or recipe_mirror, progress=progress
        )
    if folds:
        per_photo = fold_models(model, observations, folds, log)
        protocol = (
            f"person-grouped {folds}-fold cross-validation: every photo answered by a model trained as "
            f"{model.name} was, without that photo's person"
        )
    else:
        per_photo = [model] * len(observations)
        protocol = f"{model.name} as given" + (
            f"; it was trained on {', '.join(seen)}, so these figures are optimistic there" if seen else ""
        )
    scored = [
        Scored(
            o,
            answer(o.view, m, reasoner),
            answer(o.mirrored, m, reasoner) if mirror and o.mirrored is not None else None,
        )
        for o, m in zip(observations, per_photo, strict=True)
    ]
    return build_report(
        scored,
        folders=[f.name for f in folders],
        model=model.name,
        reasoner=getattr(reasoner, "name", None),
        protocol=protocol,
        folds=folds or None,
    )
