"""The report card as Markdown: the headline figures first, then per folder, per group, per AU and the
reasoning checks, with the photos that had no usable face listed at the end."""

from __future__ import annotations

import math

from fea_agent.evaluation.report import EvaluationReport
from fea_agent.evaluation.scoring import Classification


def _f(x: float) -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def _classification(name: str, c: Classification) -> list[str]:
    labels = sorted(c.per_class_recall)
    answers = sorted({a for row in c.confusion.values() for a in row})
    lines = [
        f"### {name}: {c.n} photos",
        "",
        f"Accuracy {_f(c.accuracy)}, mean recall of the main six {_f(c.mean_recall)}.",
        "",
        *_table(
            ["", *labels],
            [
                ["recall", *(_f(c.per_class_recall[k]) for k in labels)],
                [
                    "precision",
                    *(_f(c.per_class_precision[k]) if k in c.per_class_precision else "-" for k in labels),
                ],
            ],
        ),
        "",
        "Confusion (rows: label, columns: answer)",
        "",
        *_table(
            ["label", *answers],
            [[t, *(str(row.get(a, 0)) for a in answers)] for t, row in c.confusion.items()],
        ),
        "",
    ]
    return lines


def to_markdown(report: EvaluationReport) -> str:
    r = report
    lines = [
        f"# fea-agent evaluate: {', '.join(r.folders)}",
        "",
        f"{r.photos} photos; model `{r.model}`, reasoner `{r.reasoner}`; {r.protocol}. A photo without a usable "
        "face counts as wrong.",
        "",
        "## Headline",
        "",
        *_table(
            ["figure", "value"],
            [
                ["accuracy", _f(r.overall.accuracy)],
                ["mean recall, main six", _f(r.overall.mean_recall)],
                ["expected calibration error", _f(r.calibration.expected_calibration_error)],
                *(
                    [
                        [
                            "label changed under a mirror",
                            f"{_f(r.mirror.share_changed)} ({r.mirror.changed} of {r.mirror.n})",
                        ]
                    ]
                    if r.mirror
                    else []
                ),
                ["neutral kept", _f(r.neutral.kept)],
                ["neutral faces with a clear AU", _f(r.neutral.clear_au)],
                *(
                    [
                        ["core AU cited (non-neutral answers)", _f(r.reasoning.core_au_cited)],
                        ["third-label answers", _f(r.reasoning.third_label)],
                    ]
                    if r.reasoning
                    else []
                ),
                ["no usable face", str(len(r.no_face))],
            ],
        ),
        "",
        "Coverage (accuracy of the most confident answers): "
        + ", ".join(f"{k}: {_f(v)}" for k, v in r.calibration.coverage.items())
        + ".",
        "",
        "## Expression",
        "",
        "Each input alone (the gain from fusing them): "
        + "; ".join(
            f"{name}: accuracy {_f(c.accuracy)}, mean recall {_f(c.mean_recall)}"
            for name, c in r.views.items()
        )
        + ".",
        "",
        *_classification("all", r.overall),
    ]
    if len(r.by_folder) > 1:
        for name, c in r.by_folder.items():
            lines += _classification(name, c)
    for folder, columns in r.by_group.items():
        for column, groups in columns.items():
            labels = sorted({k for g in groups.values() for k in g.per_class_recall})
            lines += [
                f"### {folder} by {column}",
                "",
                *_table(
                    [column, "n", "accuracy", "mean recall", *(f"recall {k}" for k in labels)],
                    [
                        [
                            g,
                            str(s.n),
                            _f(s.accuracy),
                            _f(s.mean_recall),
                            *(_f(s.per_class_recall.get(k, math.nan)) for k in labels),
                        ]
                        for g, s in groups.items()
                    ],
                ),
                "",
            ]
    classes = sorted({k for v in r.action_units.values() for k in v.firing})
    lines += [
        "## Action units",
        "",
        "Share of each labelled class's usable faces with the AU at intensity >= 1, and (after /) the AUC of the "
        "AU's probability for that class against neutral faces. Bold: a class whose FACS prototype holds the AU.",
        "",
        *_table(
            ["AU", *classes],
            [
                [
                    code,
                    *(
                        (lambda cell: f"**{cell}**" if k in v.prototype_of else cell)(
                            _f(v.firing.get(k, math.nan))
                            + (f" / {_f(v.auc_vs_neutral[k])}" if k in v.auc_vs_neutral else "")
                        )
                        for k in classes
                    ),
                ]
                for code, v in r.action_units.items()
            ],
        ),
        "",
    ]
    if r.reasoning:
        g = r.reasoning
        lines += [
            "## Reasoning",
            "",
            f"Over {g.answers} non-neutral answers: a core AU of the answer's prototype cited in {_f(g.core_au_cited)}; "
            f"appearance and AUs said to disagree in {_f(g.views_disagree)}; a third label (neither view's) in "
            f"{_f(g.third_label)}; an AU below intensity 1 cited as shown in {_f(g.below_grade_a_cited)}.",
            "",
        ]
    if r.no_face:
        lines += (
            ["## No usable face", ""] + [f"- {name}: {why}" for name, why in sorted(r.no_face.items())] + [""]
        )
    return "\n".join(lines)
