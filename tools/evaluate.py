"""Measure fea-agent on labelled data: expression accuracy per view, pair checks, and AU agreement with FACS codes.

Two modes, chosen by what PATH is:

* a **labelled folder** holding ``labels.csv`` (columns ``file,label`` plus any demographic columns such as
  ``age``, ``gender``, ``ethnicity``) and optionally ``pairs.csv`` (``neutral_file,smiling_file``), as in
  ``../shared/data/frl-london``. Each image is analysed once; from that one analysis the tool scores three
  views side by side: the appearance classifier alone, the FACS prototypes over the measured AUs alone, and
  each reasoner's fused answer (``--reasoner``, default ``facs``), so the gain from fusing is a measured number.
  It prints accuracy, macro-F1 and the confusion matrix, the same broken down by each demographic column, and
  for the pairs the share in which AU12 (and AU06) is higher in the smiling photo. The pair check compares AU
  *probabilities* (continuous), not the present/absent calls or the clipped 0-5 intensities, which tie at 0.
* an **expression model** file written by ``fea-agent train`` (JSON): the person-grouped cross-validated numbers
  of its training run (accuracy, mean and per-class recall, confusion, by group), read from its header.
* a **FACS-coded CSV** (one row per frame or image: a column naming the image, then ``AU01``, ``AU12``, ... or
  ``1``, ``12``, ... holding 0-5 intensities or 0/1 occurrence, as DISFA and BP4D users keep them): per-AU F1 of
  our ``present`` calls against code > 0 (``--present-at`` sets the coded level that counts as present) and the
  Pearson correlation of our 0-5 intensity with the coded one.

    python tools/evaluate.py ../shared/data/frl-london
    python tools/evaluate.py fea_agent/expression/default_model.json
    python tools/evaluate.py codes.csv --images frames/ --json

Labels are matched case-insensitively with the usual synonyms (happy -> happiness, angry -> anger, sad ->
sadness, surprised -> surprise, ...). Rows whose image cannot be read or holds no usable face are counted and
named, never silently dropped from the denominators: they count as wrong for every view ("no face").
Nothing is written to disk: face analyses stay in memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from fea_agent.errors import FEAError
from fea_agent.expression.train import group_value
from fea_agent.facs.catalogue import normalize_au_code
from fea_agent.results import Face, normalize_label

NO_FACE = "no face"
#: Columns of labels.csv that are not demographic breakdowns.
NOT_DEMOGRAPHIC = {"file", "label", "face_id", "view", "source_label", "landmarks_189pt", "id", "path"}


# -- metrics ---------------------------------------------------------------------------------------------


class ViewScore(BaseModel):
    """Accuracy, macro-F1 and confusion matrix of one view against the labels."""

    n: int
    accuracy: float
    macro_f1: float = Field(description="Mean F1 over the labels that occur in the ground truth.")
    per_label_recall: dict[str, float]
    confusion: dict[str, dict[str, int]] = Field(description="true label -> predicted label -> count.")


def score_view(truth: Sequence[str], predicted: Sequence[str]) -> ViewScore:
    """Score predictions against truth; macro-F1 averages over the labels present in the truth."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    if not truth:
        return ViewScore(n=0, accuracy=math.nan, macro_f1=math.nan, per_label_recall={}, confusion={})
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    f1s, recall = [], {}
    for label in sorted(set(truth)):
        tp = confusion[label][label]
        fn = sum(confusion[label].values()) - tp
        fp = sum(c[label] for t, c in confusion.items() if t != label)
        recall[label] = tp / (tp + fn) if tp + fn else math.nan
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
    return ViewScore(
        n=len(truth),
        accuracy=accuracy,
        macro_f1=sum(f1s) / len(f1s),
        per_label_recall=recall,
        confusion={t: dict(c) for t, c in sorted(confusion.items())},
    )


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or there are fewer than 2 points."""
    n = len(x)
    if n < 2:
        return math.nan
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


# -- views of one analysed face -----------------------------------------------------------------------------


def _argmax(distribution: dict[str, float]) -> str:
    return max(distribution, key=distribution.__getitem__)


def face_views(face: Face | None, reasoners: dict[str, Any]) -> dict[str, str]:
    """Every view's label for one perceived face (``reasoning`` not yet applied): appearance, AUs, reasoners."""
    from fea_agent.reasoning.facs import au_view

    if face is None:
        return {"appearance": NO_FACE, "action_units": NO_FACE, **{n: NO_FACE for n in reasoners}}
    views = {
        "appearance": face.expression.label if face.expression is not None else NO_FACE,
        "action_units": _argmax(au_view({a.code: a.probability for a in face.aus})) if face.aus else NO_FACE,
    }
    for name, reasoner in reasoners.items():
        reasoned = reasoner.reason([face])[0]
        label = reasoned.reasoning.label if reasoned.reasoning is not None else NO_FACE
        views[name] = NO_FACE if label == "abstain" else label
    return views


def _main_face(faces: list[Face]) -> Face | None:
    """The largest face: the subject of a labelled portrait."""
    return max(faces, key=lambda f: f.bbox.width * f.bbox.height) if faces else None


# -- labelled-folder mode ------------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def evaluate_folder(
    folder: Path,
    analyse: Callable[[Path], list[Face]],
    reasoners: dict[str, Any],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate every view on ``folder/labels.csv`` (and ``pairs.csv`` when present); return a report dict.

    ``analyse(path)`` returns the perceived faces of one image (without reasoning); it runs once per image.
    """
    labels_csv = folder / "labels.csv"
    if not labels_csv.is_file():
        raise FileNotFoundError(f"{labels_csv} not found: a labelled folder needs labels.csv with file,label")
    rows = _read_csv(labels_csv)
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise ValueError(
            f"{labels_csv} needs the columns file,label (found: {', '.join(rows[0]) if rows else 'none'})"
        )
    demographics = [c for c in rows[0] if c not in NOT_DEMOGRAPHIC]
    pairs_csv = folder / "pairs.csv"
    pairs = _read_csv(pairs_csv) if pairs_csv.is_file() else []
    wanted = {r["file"] for r in rows} | {
        p[k] for p in pairs for k in ("neutral_file", "smiling_file") if k in p
    }

    faces: dict[str, Face | None] = {}
    failures: dict[str, str] = {}
    for i, name in enumerate(sorted(wanted)):
        try:
            found = analyse(folder / name)
        except (FEAError, OSError) as exc:
            found, failures[name] = [], str(exc)
        face = _main_face([f for f in found if f.quality.usable])
        if face is None and name not in failures:
            failures[name] = "no usable face found" if not found else "; ".join(found[0].quality.issues)
        faces[name] = face
        if progress is not None:
            progress(i + 1, len(wanted))

    truth = [normalize_label(r["label"]) for r in rows]
    views = [face_views(faces[r["file"]], reasoners) for r in rows]
    names = list(views[0]) if views else ["appearance", "action_units", *reasoners]
    report: dict[str, Any] = {
        "folder": str(folder),
        "images": len(rows),
        "failures": failures,
        "views": {v: score_view(truth, [x[v] for x in views]).model_dump() for v in names},
        "neutral_kept": {
            v: _share([x[v] == "neutral" for t, x in zip(truth, views, strict=True) if t == "neutral"])
            for v in names
        },
        "by": {},
    }
    for column in demographics:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[group_value(column, r.get(column, ""))].append(i)
        report["by"][column] = {
            g: {
                "n": len(ix),
                **{v: score_view([truth[i] for i in ix], [views[i][v] for i in ix]).accuracy for v in names},
            }
            for g, ix in sorted(groups.items())
        }
    if pairs:
        report["pairs"] = evaluate_pairs(pairs, faces)
    return report


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else math.nan


def evaluate_pairs(pairs: Iterable[dict[str, str]], faces: dict[str, Face | None]) -> dict[str, Any]:
    """Share of pairs in which AU12 and AU06 probabilities are higher in the smiling photo than the neutral one."""
    rises: dict[str, list[bool]] = {"AU12": [], "AU06": []}
    skipped = 0
    for pair in pairs:
        neutral, smiling = faces.get(pair.get("neutral_file", "")), faces.get(pair.get("smiling_file", ""))
        if neutral is None or smiling is None or not neutral.aus or not smiling.aus:
            skipped += 1
            continue
        for code, flags in rises.items():
            a, b = neutral.au(code), smiling.au(code)
            flags.append(a is not None and b is not None and b.probability > a.probability)
    return {
        "pairs": len(rises["AU12"]),
        "skipped": skipped,
        "compared": "AU probability (0-1, continuous)",
        **{f"{code}_higher_when_smiling": _share(flags) for code, flags in rises.items()},
    }


# -- FACS-coded CSV mode -------------------------------------------------------------------------------------

_IMAGE_COLUMNS = ("file", "image", "path", "frame")


def _au_columns(header: Sequence[str]) -> dict[str, str]:
    """Column -> AU code, for the columns that name an AU ('AU12', 'au12', '12', 'AU12_r')."""
    out = {}
    for column in header:
        name = column.strip().upper().removesuffix("_R").removesuffix("_C")
        if name in {c.upper() for c in _IMAGE_COLUMNS}:
            continue
        try:
            out[column] = normalize_au_code(name)
        except ValueError:
            continue
    return out


def evaluate_facs_csv(
    csv_path: Path,
    analyse: Callable[[Path], list[Face]],
    *,
    images: Path | None = None,
    present_at: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Per-AU F1 (our ``present`` against coded >= ``present_at``) and intensity correlation (Pearson).

    Image paths in the CSV are resolved against ``images`` (default: the CSV's folder). An AU we do not
    estimate is listed under ``not_estimated``.
    """
    rows = _read_csv(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} has no rows")
    image_column = next((c for c in rows[0] if c.strip().lower() in _IMAGE_COLUMNS), None)
    if image_column is None:
        raise ValueError(f"{csv_path} needs a column naming the image: one of {', '.join(_IMAGE_COLUMNS)}")
    columns = _au_columns(list(rows[0]))
    if not columns:
        raise ValueError(f"{csv_path} has no AU columns (expected e.g. AU01, AU12 or 1, 12)")
    base = images if images is not None else csv_path.parent
    ours: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    coded: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, str] = {}
    for i, row in enumerate(rows):
        name = row[image_column]
        try:
            face = _main_face([f for f in analyse(base / name) if f.quality.usable])
        except (FEAError, OSError) as exc:
            face, failures[name] = None, str(exc)
        if face is None:
            failures.setdefault(name, "no usable face found")
        else:
            for column, code in columns.items():
                value = row[column].strip()
                au = face.au(code)
                if au is None or not value:
                    continue
                try:
                    level = float(value)
                except ValueError:
                    raise ValueError(
                        f"{csv_path} row {i + 2}, column {column}: {value!r} is not a number"
                    ) from None
                ours[code].append((au.present, au.intensity))
                coded[code].append(level)
        if progress is not None:
            progress(i + 1, len(rows))
    per_au = {}
    for code in sorted(set(columns.values())):
        if code not in ours:
            continue
        truth = [c >= present_at for c in coded[code]]
        pred = [p for p, _ in ours[code]]
        tp = sum(t and p for t, p in zip(truth, pred, strict=True))
        fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
        fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
        per_au[code] = {
            "n": len(truth),
            "coded_present": sum(truth),
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan,
            "intensity_r": pearson([x for _, x in ours[code]], coded[code]),
        }
    f1s = [v["f1"] for v in per_au.values() if not math.isnan(v["f1"])]
    return {
        "csv": str(csv_path),
        "rows": len(rows),
        "failures": failures,
        "per_au": per_au,
        "mean_f1": sum(f1s) / len(f1s) if f1s else math.nan,
        "not_estimated": sorted(set(columns.values()) - set(per_au)),
    }


# -- printing ---------------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return "  n/a" if isinstance(x, float) and math.isnan(x) else f"{x:5.3f}"


def format_folder_report(report: dict[str, Any]) -> str:
    views = report["views"]
    lines = [f"{report['folder']}: {report['images']} labelled images", ""]
    lines.append(f"{'view':14s} {'accuracy':>8s} {'macro-F1':>8s} {'neutral kept':>12s}")
    for name, s in views.items():
        lines.append(
            f"{name:14s} {_fmt(s['accuracy']):>8s} {_fmt(s['macro_f1']):>8s} {_fmt(report['neutral_kept'][name]):>12s}"
        )
    lines += ["", "recall per class"]
    for name, s in views.items():
        recall = ", ".join(f"{k} {_fmt(v)}" for k, v in s["per_label_recall"].items())
        lines.append(f"  {name:14s} {recall}")
    for name, s in views.items():
        labels = sorted(set(s["confusion"]) | {p for c in s["confusion"].values() for p in c})
        lines += ["", f"confusion matrix, {name} (rows: truth, columns: predicted)"]
        lines.append(" " * 12 + "".join(f"{lab[:9]:>10s}" for lab in labels))
        for t, c in s["confusion"].items():
            lines.append(f"{t[:11]:12s}" + "".join(f"{c.get(lab, 0):10d}" for lab in labels))
    for column, groups in report["by"].items():
        lines += [
            "",
            f"accuracy by {column}",
            f"{'':14s} {'n':>4s}" + "".join(f"{v[:12]:>14s}" for v in views),
        ]
        for g, s in groups.items():
            lines.append(f"{g[:14]:14s} {s['n']:4d}" + "".join(f"{_fmt(s[v]):>14s}" for v in views))
    if "pairs" in report:
        p = report["pairs"]
        lines += [
            "",
            f"pairs ({p['pairs']} compared, {p['skipped']} skipped; compared: {p['compared']})",
            f"  AU12 higher in the smiling photo: {_fmt(p['AU12_higher_when_smiling'])}",
            f"  AU06 higher in the smiling photo: {_fmt(p['AU06_higher_when_smiling'])}",
        ]
    if report["failures"]:
        lines += ["", f"{len(report['failures'])} image(s) without a usable face (counted as wrong):"]
        lines += [f"  {name}: {why}" for name, why in sorted(report["failures"].items())]
    return "\n".join(lines)


def training_report(path: Path) -> dict[str, Any]:
    """The person-grouped validation numbers an expression model file carries (see ``fea-agent train``)."""
    from fea_agent.expression.model import ExpressionModel

    header = ExpressionModel.load(path).header
    return {"model": str(path), "command": header.training.get("command"), **header.metrics}


def format_training_report(report: dict[str, Any]) -> str:
    lines = [
        f"{report['model']}: person-grouped {report['folds']}-fold cross-validation of its training run",
        f"  trained by: {report['command']}",
    ]
    for folder, s in report["folders"].items():
        lines += [
            "",
            f"{folder}: {s['n']} photos, accuracy {_fmt(s['accuracy'])}, mean recall {_fmt(s['mean_recall'])} "
            f"(learned labels {_fmt(s.get('mean_recall_learned', math.nan))}), "
            f"{s['no_face']} without a usable face (counted as wrong)",
            "  recall per class: " + ", ".join(f"{k} {_fmt(v)}" for k, v in s["per_class_recall"].items()),
        ]
        predicted = sorted({p for c in s["confusion"].values() for p in c})
        lines.append("  confusion (rows: truth, columns: answer)")
        lines.append(" " * 14 + "".join(f"{lab[:9]:>10s}" for lab in predicted))
        for t, c in s["confusion"].items():
            lines.append(f"  {t[:11]:12s}" + "".join(f"{c.get(lab, 0):10d}" for lab in predicted))
        for column, groups in s["by"].items():
            lines.append(
                f"  accuracy by {column}: "
                + ", ".join(f"{g} {_fmt(v['accuracy'])} (n={v['n']})" for g, v in groups.items())
            )
    return "\n".join(lines)


def format_facs_report(report: dict[str, Any]) -> str:
    lines = [
        f"{report['csv']}: {report['rows']} coded rows",
        "",
        f"{'AU':6s} {'n':>5s} {'coded':>6s} {'F1':>6s} {'r':>6s}",
    ]
    for code, s in report["per_au"].items():
        lines.append(
            f"{code:6s} {s['n']:5d} {s['coded_present']:6d} {_fmt(s['f1']):>6s} {_fmt(s['intensity_r']):>6s}"
        )
    lines.append(f"mean F1 {_fmt(report['mean_f1'])}")
    if report["not_estimated"]:
        lines.append("not estimated by fea-agent: " + ", ".join(report["not_estimated"]))
    if report["failures"]:
        lines += [f"{len(report['failures'])} row(s) without a usable face:"]
        lines += [f"  {name}: {why}" for name, why in sorted(report["failures"].items())]
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------------------


def build_analyser(pipeline: Any, model: Any | None = None) -> tuple[Callable[[Path], list[Face]], Any]:
    """Analysis by a pipeline built with ``reasoner=None, expression_model=None`` (so ``face.expression`` is the
    appearance classifier's): each view is computed from this one analysis. With ``model`` (an
    :class:`~fea_agent.expression.model.ExpressionModel`), the second value is a view that gives its label."""
    answers: dict[int, str] = {}

    def analyse(path: Path) -> list[Face]:
        analysis = pipeline.run(path, source=str(path), reasoner=None)
        if model is not None and analysis.faces:
            for face, answer in zip(
                analysis.faces,
                model.predict_faces(analysis.faces, analysis.appearance, analysis.rgb),
                strict=True,
            ):
                answers[id(face)] = answer.label if answer is not None and answer.label else NO_FACE
        return analysis.faces

    class ModelView:
        """A 'reasoner' whose label is the expression model's answer for the face."""

        def reason(self, faces: list[Face]) -> list[Face]:
            from fea_agent.results import Reasoning

            label = answers.get(id(faces[0]), NO_FACE)
            if label == NO_FACE:
                return [faces[0].model_copy(update={"reasoning": Reasoning.abstention("no answer", "model")})]
            reasoning = Reasoning(
                label=label, text=f"{label.capitalize()}.", confidence=1.0, reasoner="model"
            )
            return [faces[0].model_copy(update={"reasoning": reasoning})]

    return analyse, (ModelView() if model is not None else None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "path",
        type=Path,
        help="a labelled folder (with labels.csv), an expression model (.json) or a FACS-coded CSV file",
    )
    parser.add_argument(
        "--reasoner",
        action="append",
        help="reasoner(s) to score besides appearance and AUs (repeatable; default: facs)",
    )
    parser.add_argument("--images", type=Path, help="CSV mode: folder the image paths are relative to")
    parser.add_argument(
        "--present-at", type=float, default=1.0, help="CSV mode: coded level counted as present"
    )
    parser.add_argument(
        "--expression-model",
        default="default",
        help="labelled-folder mode: the expression model scored as the 'model' view (default: the shipped "
        "one; none to leave it out)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from fea_agent import FEAPipeline
    from fea_agent.reasoning import get_reasoner

    if not args.path.exists():
        print(f"evaluate: {args.path} does not exist", file=sys.stderr)
        return 2
    if args.path.suffix == ".json":
        try:
            report = training_report(args.path)
        except FEAError as exc:
            print(f"evaluate: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(report, indent=2, default=str) if args.json else format_training_report(report))
        return 0
    reasoners: dict[str, Any] = {}
    for name in args.reasoner or ["facs"]:
        try:
            reasoners[name] = get_reasoner(name)
        except FEAError as exc:  # a reasoner that cannot run here is reported, the others still are
            print(f"evaluate: skipping reasoner {name!r}: {exc}", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if not sys.stderr.isatty():  # a progress line only where someone watches it
            return
        print(f"\ranalysed {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    model = None
    if args.path.is_dir() and args.expression_model != "none":
        from fea_agent.expression.model import load_expression_model

        model = load_expression_model(args.expression_model)
    with FEAPipeline(reasoner=None, expression_model=None) as pipeline:
        analyse, model_view = build_analyser(pipeline, model)
        if model_view is not None:
            reasoners = {"model": model_view, **reasoners}
        try:
            if args.path.is_dir():
                report = evaluate_folder(args.path, analyse, reasoners, progress=progress)
                text = format_folder_report(report)
            else:
                report = evaluate_facs_csv(
                    args.path, analyse, images=args.images, present_at=args.present_at, progress=progress
                )
                text = format_facs_report(report)
        except (ValueError, FileNotFoundError) as exc:
            print(f"evaluate: {exc}", file=sys.stderr)
            return 2
    print(json.dumps(report, indent=2, default=str) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
