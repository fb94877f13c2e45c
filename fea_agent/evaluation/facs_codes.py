"""Per-AU agreement with FACS-coded frames (DISFA, BP4D and the like, as their users keep them): one row per
image naming it (``file``, ``image``, ``path`` or ``frame``) and AU columns (``AU01``, ``AU12``, ``1``, ``12``,
``AU12_r``) holding 0-5 intensities or 0/1 occurrence. Gives the F1 of our ``present`` calls against the code
and the Pearson correlation of our 0-5 intensity with the coded one."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fea_agent.errors import FEAError
from fea_agent.evaluation.scoring import pearson
from fea_agent.facs.catalogue import normalize_au_code
from fea_agent.results import Face


def _fmt(x: float) -> str:
    return "  n/a" if isinstance(x, float) and math.isnan(x) else f"{x:5.3f}"


def _main_face(faces: list[Face]) -> Face | None:
    """The largest face: the subject of a coded frame."""
    return max(faces, key=lambda f: f.bbox.width * f.bbox.height) if faces else None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


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
