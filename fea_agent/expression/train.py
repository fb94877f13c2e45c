"""Training the expression model from labelled folders: ``fea-agent train LABELLED_DIR [...] --out PATH``.

A labelled folder holds ``labels.csv`` with ``file,label`` (labels in this package's words or common synonyms:
``happy``, ``angry``, ...), optionally ``person`` (or ``face_id``) so that validation never sees a person it
trained on, and any other columns (``gender``, ``ethnicity``, ``age``) by which the report breaks accuracy down.
A folder may hold only some of the eight labels; labels with fewer than ``min_per_label`` usable photos are not
learned (the model gives them half the appearance view's probability, or 0: ``model.UNLEARNED_WEIGHT``)
and are reported as such.

Each photo is analysed once by the default pipeline (largest face), its feature vector computed
(:mod:`fea_agent.expression.features`); then person-grouped k-fold cross-validation measures the model on people
it has not seen, the temperature is fitted on those out-of-fold answers, and the final model is fitted on
everything. The model is written at exactly ``--out`` with a markdown model card beside it (``.md``).
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fea_agent.expression.features import FEATURE_VERSION, au_calibration_digest, face_features, feature_names
from fea_agent.expression.fit import (
    FitSettings,
    Network,
    fit_network,
    fit_temperature,
    folder_weights,
    grouped_folds,
    log_prior,
)
from fea_agent.expression.model import ExpressionModel, InputModel, ModelHeader
from fea_agent.results import EXPRESSION_LABELS, normalize_label

#: Columns of labels.csv that are not groups to break the report down by.
NOT_GROUPS = {"file", "label", "person", "face_id", "view", "source_label", "landmarks_189pt", "id", "path"}
#: What a row without a usable face counts as in the report: always wrong.
NO_FACE = "no face"

Progress = Callable[[str, int, int], None]


@dataclass
class Sample:
    """One labelled photo and what perception made of it."""

    folder: str
    file: str
    label: str
    person: str
    groups: dict[str, str]
    features: np.ndarray | None = None
    usable: bool = False  # the quality gate passed: the pipeline would answer
    why: str = ""
    mirrored: np.ndarray | None = None  # the features of its mirror image (training with FitSettings.mirror)


@dataclass
class TrainingResult:
    model: ExpressionModel
    card: str
    metrics: dict[str, Any] = field(default_factory=dict)


def read_labels(folder: Path) -> list[Sample]:
    """The rows of ``folder/labels.csv``; ValueError naming the row for an unknown label or missing column."""
    path = folder / "labels.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: a labelled folder needs labels.csv with the columns file,label"
        )
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise ValueError(
            f"{path} needs the columns file,label (found: {', '.join(rows[0]) if rows else 'none'})"
        )
    samples = []
    for i, row in enumerate(rows, start=2):
        try:
            label = normalize_label(row["label"])
        except ValueError as exc:
            raise ValueError(f"{path} row {i}: {exc}") from None
        if label not in EXPRESSION_LABELS:  # 'other': no place in the label set
            continue
        person = (row.get("person") or row.get("face_id") or "").strip() or row["file"]
        groups = {k: group_value(k, v or "") for k, v in row.items() if k not in NOT_GROUPS and k is not None}
        samples.append(Sample(folder.name, row["file"], label, f"{folder.name}/{person}", groups))
    return samples


def group_value(column: str, value: str) -> str:
    """Ages become decade bands (20-29); other values as they are; empty as 'unknown'."""
    value = value.strip()
    if not value:
        return "unknown"
    if column.lower() in {"age", "age_years"} and value.isdigit():
        low = int(value) // 10 * 10
        return f"{low}-{low + 9}"
    return value


def _main_row(analysis: Any) -> tuple[np.ndarray | None, bool, str]:
    """The largest face's feature row (with the appearance backend's embedding when it gives one; :func:`fit_width`
    makes the rows one width), whether the quality gate passed it, and why not."""
    faces = analysis.faces
    if not faces:
        return None, False, "no face found"
    main = max(range(len(faces)), key=lambda j: faces[j].bbox.width * faces[j].bbox.height)
    look = analysis.appearance[main] if main < len(analysis.appearance) else None
    embedding = look.features if look is not None else None
    row = face_features(
        faces[main],
        look.probabilities if look is not None else None,
        embedding,
        embedding_size=0 if embedding is None else int(np.asarray(embedding).size),
        rgb=analysis.rgb,
    )
    if row is None:
        return None, False, "the landmarker found no face in the crop"
    return row[0], faces[main].quality.usable, "; ".join(faces[main].quality.issues)


def extract(
    folder: Path,
    samples: list[Sample],
    pipeline: Any,
    progress: Progress | None = None,
    *,
    mirror: bool = False,
) -> None:
    """Fill each sample's features from the pipeline's analysis of its photo (the largest face) and, with
    ``mirror``, ``mirrored`` from its horizontal mirror image (a training copy: a face and its mirror show the
    same expression)."""
    from fea_agent.errors import FEAError

    for i, s in enumerate(samples):
        try:
            analysis = pipeline.run(folder / s.file, reasoner=None)
        except (FEAError, OSError) as exc:
            s.why = str(exc)
        else:
            s.features, s.usable, s.why = _main_row(analysis)
            if mirror and s.features is not None:
                flipped = pipeline.run(np.ascontiguousarray(analysis.rgb[:, ::-1]), reasoner=None)
                s.mirrored = _main_row(flipped)[0]
        if progress is not None:
            progress(folder.name, i + 1, len(samples))


def fit_width(row: np.ndarray, n: int) -> np.ndarray:
    """A feature row cut or padded (NaN: not measured) to ``n`` columns: rows with and without the embedding
    (the last columns) made one width."""
    return row[:n] if len(row) >= n else np.concatenate([row, np.full(n - len(row), np.nan)])


def current_inputs(backends: dict[str, str | None]) -> list[InputModel]:
    """What a pipeline with these backends (stage -> name) feeds the model, with the sha256 of model files
    (the blendshape-to-AU formula is recorded by the digest of its calibration table)."""
    from fea_agent.backends.registry import spec
    from fea_agent.models.registry import MODELS

    out = []
    for stage, backend in backends.items():
        if backend is None:
            continue
        models = spec(stage, backend).models  # type: ignore[arg-type]
        model = models[0] if models else None
        sha = MODELS[model].sha256 if model in MODELS else None
        if stage == "action_units" and backend == "blendshapes":
            sha = au_calibration_digest()
        out.append(InputModel(stage=stage, backend=backend, model=model, sha256=sha))
    return out


# -- fitting and validation ------------------------------------------------------------------------------------


def _score(truth: Sequence[str], predicted: Sequence[str], learned: Sequence[str]) -> dict[str, Any]:
    labels = sorted(set(truth))
    confusion: dict[str, Counter[str]] = {t: Counter() for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    recall = {t: confusion[t][t] / sum(confusion[t].values()) for t in labels}
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {
        "n": len(truth),
        "accuracy": round(correct / len(truth), 4) if truth else math.nan,
        "per_class_recall": {k: round(v, 4) for k, v in recall.items()},
        "mean_recall": round(float(np.mean(list(recall.values()))), 4) if recall else math.nan,
        "mean_recall_learned": round(float(np.mean([v for k, v in recall.items() if k in learned])), 4)
        if any(k in learned for k in recall)
        else math.nan,
        "confusion": {t: dict(c) for t, c in confusion.items()},
    }


def validate(samples: list[Sample], predicted: list[str], learned: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class recall (and its mean over the learned labels) and confusion overall, per folder, and
    per group column within a folder."""
    truth = [s.label for s in samples]
    metrics: dict[str, Any] = {"all": _score(truth, predicted, learned), "folders": {}}
    by_folder: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_folder[s.folder].append(i)
    for name, ix in by_folder.items():
        entry = _score([truth[i] for i in ix], [predicted[i] for i in ix], learned)
        entry["no_face"] = sum(predicted[i] == NO_FACE for i in ix)
        columns = sorted({c for i in ix for c in samples[i].groups})
        entry["by"] = {}
        for column in columns:
            groups: dict[str, list[int]] = defaultdict(list)
            for i in ix:
                groups[samples[i].groups.get(column, "unknown")].append(i)
            if len(groups) > 12:  # an identifier, not a group
                continue
            entry["by"][column] = {
                g: {
                    "n": len(gx),
                    "accuracy": round(sum(truth[i] == predicted[i] for i in gx) / len(gx), 4),
                }
                for g, gx in sorted(groups.items())
            }
        metrics["folders"][name] = entry
    return metrics


@dataclass
class CrossValidation:
    """Person-grouped cross-validation: one network per fold, each fitted without that fold's people, and the
    calibration (temperature, prior offset) fitted on their out-of-fold answers."""

    fold: np.ndarray  # the fold of each row
    nets: list[Network]
    temperature: float
    offset: np.ndarray  # logit offsets over the learned labels (see fit.log_prior)
    fit: Callable[[np.ndarray], Network]  # fits a network on the rows a mask selects (learned labels only)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Every row answered by the network that never saw its person (uncalibrated, learned labels)."""
        out = np.zeros((len(x), len(self.offset)))
        for f, net in enumerate(self.nets):
            rows = self.fold == f
            if rows.any():
                out[rows] = net.logits(x[rows])
        return out


def cross_validate(
    x: np.ndarray,
    labels: Sequence[str],
    folders: Sequence[str],
    fold: np.ndarray,
    trained: Sequence[str],
    settings: FitSettings,
    folds: int,
    *,
    mirrored: Sequence[np.ndarray | None] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> CrossValidation:
    """Fit one network per fold on the other folds' rows of the learned labels (``trained``); rows of other
    labels are answered but never fitted. ``fold`` gives each row's fold (:func:`grouped_folds` by person).
    ``mirrored``: each row's mirror-image features (or None), fitted as more rows of the same person, label and
    fold when ``settings.mirror``; the answers and the calibration are those of the photos as they are."""
    k = len(trained)
    n = len(x)
    copies = [i for i, m in enumerate(mirrored or []) if m is not None] if settings.mirror else []
    extra = [mirrored[i] for i in copies] if mirrored is not None else []
    x_fit = np.concatenate([x, np.stack(extra)]) if extra else x  # type: ignore[arg-type]
    index = np.concatenate([np.arange(n), np.asarray(copies, dtype=int)])
    labels_fit = [labels[i] for i in index]
    learned = np.array([label in trained for label in labels_fit])
    y = np.array([trained.index(label) if label in trained else -1 for label in labels_fit])
    row_folder = np.asarray(folders)[index]

    def fit(mask: np.ndarray) -> Network:
        """A network on the photos ``mask`` selects (over the rows of ``x``) and their mirror copies."""
        rows = mask[index] & learned
        weights = folder_weights(row_folder[rows].tolist(), y[rows], settings.folder_balance)
        return fit_network(x_fit[rows], y[rows], k, settings, sample_weight=weights)

    nets = []
    for f in range(folds):
        log(f"fold {f + 1}/{folds}")
        nets.append(fit(fold != f))
    own = learned[:n]
    offset = log_prior(y[:n][own], k, settings)
    cv = CrossValidation(fold=np.asarray(fold), nets=nets, temperature=1.0, offset=offset, fit=fit)
    cv.temperature = fit_temperature(cv.logits(x)[own], y[:n][own], offset)
    return cv


def train(
    folders: Sequence[Path],
    out: Path,
    *,
    settings: FitSettings | None = None,
    folds: int = 5,
    min_per_label: int = 20,
    name: str | None = None,
    command: str | None = None,
    pipeline: Any | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> TrainingResult:
    """Analyse, cross-validate by person, fit and write the model at ``out`` and its card at ``out.with_suffix('.md')``."""
    settings = settings or FitSettings()
    folders = [Path(f) for f in folders]
    samples: list[Sample] = []
    started = time.perf_counter()
    own_pipeline = pipeline is None
    if pipeline is None:
        from fea_agent import FEAPipeline

        pipeline = FEAPipeline(reasoner=None, expression_model=None)
    backends = {stage: b for stage, b in pipeline.options.backends.items() if stage != "reasoner"}
    try:
        if backends["landmarks"] is None or backends["action_units"] is None:
            raise ValueError(
                "training needs a landmarks and an action-units backend: the model's features are measured "
                "on the face mesh and its AUs"
            )
        for folder in folders:
            rows = read_labels(folder)
            extract(folder, rows, pipeline, progress, mirror=settings.mirror)
            samples += rows
    finally:
        if own_pipeline:
            pipeline.close()
    log(f"analysed {len(samples)} photos in {time.perf_counter() - started:.0f} s")

    # The embedding is an input when the appearance backend gives one (the default's FER CNN and face-api.js
    # do; others do not): as wide as the widest row's, the rows without one padded as unmeasured.
    base = len(feature_names(embedding=0))
    embedding = max((len(s.features) - base for s in samples if s.features is not None), default=0)
    for s in samples:
        if s.features is not None:
            s.features = fit_width(s.features, base + embedding)
        if s.mirrored is not None:
            s.mirrored = fit_width(s.mirrored, base + embedding)
    with_face = [s for s in samples if s.features is not None]
    counts = Counter(s.label for s in with_face)
    trained = [k for k in EXPRESSION_LABELS if counts[k] >= min_per_label]
    if len(trained) < 2:
        raise ValueError(
            f"need at least two labels with {min_per_label}+ usable photos each; found {dict(counts)}"
        )
    skipped = {k: counts[k] for k in EXPRESSION_LABELS if 0 < counts[k] < min_per_label}
    if skipped:
        log(f"not learned (fewer than {min_per_label} photos): {skipped}")
    x = np.stack([s.features for s in with_face if s.features is not None])
    fold = grouped_folds([s.person for s in samples], folds, settings.seed)
    fold_of = {id(s): f for s, f in zip(samples, fold, strict=True)}
    cv = cross_validate(
        x,
        [s.label for s in with_face],
        [s.folder for s in with_face],
        np.array([fold_of[id(s)] for s in with_face]),
        trained,
        settings,
        folds,
        mirrored=[s.mirrored for s in with_face],
        log=log,
    )
    answers = dict(zip((id(s) for s in with_face), cv.logits(x), strict=True))
    temperature, offset_all = cv.temperature, cv.offset

    def answer(s: Sample) -> str:
        if s.features is None or not s.usable:
            return NO_FACE
        return trained[int(np.argmax(answers[id(s)] + offset_all))]

    metrics = validate(samples, [answer(s) for s in samples], trained)
    metrics["folds"] = folds
    metrics["grouped_by"] = "person"
    metrics["temperature"] = round(temperature, 4)
    metrics["not_learned"] = skipped

    final = cv.fit(np.ones(len(x), dtype=bool))
    header = ModelHeader(
        name=name or out.stem,
        feature_version=FEATURE_VERSION,
        features=feature_names(embedding=embedding),
        embedding=embedding > 0,
        labels=list(EXPRESSION_LABELS),
        trained_labels=trained,
        inputs=current_inputs(backends),
        hidden=settings.hidden,
        temperature=round(temperature, 6),
        training={
            "command": command or "",
            "data": {
                f.name: {
                    "photos": sum(s.folder == f.name for s in samples),
                    "labels": _counts(samples, f.name),
                }
                for f in folders
            },
            "settings": asdict(settings),
            "min_per_label": min_per_label,
        },
        metrics=metrics,
    )
    model = ExpressionModel(
        header, mean=final.mean, scale=final.scale, layers=final.layers, log_prior=offset_all
    )
    model.save(out)
    card = model_card(model, out)
    out.with_suffix(".md").write_text(card, encoding="utf-8")
    log(f"wrote {out} and {out.with_suffix('.md')} in {time.perf_counter() - started:.0f} s")
    return TrainingResult(model=model, card=card, metrics=metrics)


def _counts(samples: list[Sample], folder: str) -> dict[str, int]:
    return dict(Counter(s.label for s in samples if s.folder == folder).most_common())


# -- the model card --------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.3f}"


def model_card(model: ExpressionModel, path: Path) -> str:
    """The markdown card: what the model is, what it was trained on, how to reproduce it, what it measured."""
    h = model.header
    m = h.metrics
    backends = model.input_backends
    appearance = (
        f"the FACS prototypes' distribution alone and pooled with the {backends['appearance']!r} appearance "
        f"classifier's, its probabilities{' and embedding' if h.embedding else ''}"
        if "appearance" in backends
        else "the FACS prototypes' distribution (no appearance classifier)"
    )
    lines = [
        f"# Expression model `{h.name}`",
        "",
        f"A {'logistic regression' if not h.hidden else f'one-hidden-layer MLP ({h.hidden} units)'} over "
        f"{len(h.features)} per-face features (feature version {h.feature_version}: blendshapes, AU "
        "probabilities and intensities, head-frame landmark geometry, head pose, the skin's texture at the lip "
        f"corners, cheeks and lower lip, {appearance}; see `fea_agent/expression/features.py`), class-balanced "
        f"(folders weighted by `folder_balance`), temperature-calibrated "
        f"(T = {h.temperature:.3f}). Output: a distribution over {', '.join(h.labels)}; learned labels: "
        f"{', '.join(h.trained_labels)} (the others get half the appearance view's probability where it has "
        "one, else 0).",
        "",
        "## Reproduce",
        "",
        "```",
        h.training.get("command") or f"fea-agent train ... --out {path}",
        "```",
        "",
        f"Seed {h.training['settings']['seed']}; settings: `{json.dumps(h.training['settings'])}`.",
        "",
        "## Inputs (the model is valid for features from these)",
        "",
        "| stage | backend | model file | sha256 |",
        "|---|---|---|---|",
    ]
    for i in h.inputs:
        lines.append(f"| {i.stage} | {i.backend} | {i.model or '(formula)'} | `{(i.sha256 or '')[:16]}...` |")
    lines += ["", "## Training data", ""]
    for folder, info in h.training["data"].items():
        labels = ", ".join(f"{k} {v}" for k, v in info["labels"].items())
        lines.append(f"- `{folder}`: {info['photos']} photos ({labels})")
    if m.get("not_learned"):
        lines.append(f"- not learned (too few photos): {m['not_learned']}")
    lines += [
        "",
        f"## Person-grouped {m['folds']}-fold cross-validation",
        "",
        "Every photo answered by a model trained without its person; photos without a face, or whose face the "
        "quality gate rejects, count as wrong.",
        "",
        "| data | photos | accuracy | mean recall, learned labels | mean recall, all labels | no face |",
        "|---|---|---|---|---|---|",
    ]
    for folder, s in m["folders"].items():
        lines.append(
            f"| {folder} | {s['n']} | {_pct(s['accuracy'])} | {_pct(s.get('mean_recall_learned', math.nan))} | "
            f"{_pct(s['mean_recall'])} | {s['no_face']} |"
        )
    for folder, s in m["folders"].items():
        lines += ["", f"### {folder}: recall per class", ""]
        lines.append("| " + " | ".join(s["per_class_recall"]) + " |")
        lines.append("|" + "---|" * len(s["per_class_recall"]))
        lines.append("| " + " | ".join(_pct(v) for v in s["per_class_recall"].values()) + " |")
        predicted = sorted({p for c in s["confusion"].values() for p in c})
        lines += ["", "Confusion (rows: truth, columns: answer)", ""]
        lines.append("| truth | " + " | ".join(predicted) + " |")
        lines.append("|---|" + "---|" * len(predicted))
        for t, c in s["confusion"].items():
            lines.append(f"| {t} | " + " | ".join(str(c.get(p, 0)) for p in predicted) + " |")
        for column, groups in s["by"].items():
            lines += [
                "",
                f"Accuracy by {column}: "
                + ", ".join(f"{g} {_pct(v['accuracy'])} (n={v['n']})" for g, v in groups.items()),
            ]
    lines += [
        "",
        "## Limits",
        "",
        "The labels of in-the-wild photos are noisy; the numbers above are for people absent from training but "
        "photographed the same way. Used with other perception backends or model files than those listed, the "
        "features mean something else: retrain with `fea-agent train` on those backends.",
        "",
    ]
    return "\n".join(lines)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, for the card."""
    args = list(sys.argv[1:] if argv is None else argv)
    return "fea-agent " + shlex.join(args)
