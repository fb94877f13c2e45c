"""Tables behind the demo's charts (pandas DataFrames for Gradio's native plots), built from result types."""

from __future__ import annotations

import pandas as pd

from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.results import EXPRESSION_LABELS, Face

#: AU changes smaller than this (0-5 scale) are not worth showing in the comparison.
CHANGE_THRESHOLD = 0.5


def au_label(code: str) -> str:
    """``'AU12 Lip corner puller'``: the code keeps the bars in FACS order, the name says what it is."""
    info = AU_CATALOGUE.get(code)
    return f"{code} {info.name}" if info is not None else code


def au_frame(face: Face) -> pd.DataFrame:
    """One row per AU: label, intensity 0-5, and whether it is present (probability >= 0.5)."""
    rows = [
        {
            "action unit": au_label(a.code),
            "intensity": round(a.intensity, 2),
            "state": "present" if a.present else "absent",
            "probability": round(a.probability, 2),
        }
        for a in sorted(face.aus, key=lambda a: a.code)
    ]
    return pd.DataFrame(rows, columns=["action unit", "intensity", "state", "probability"])


def expression_frame(face: Face) -> pd.DataFrame:
    """One row per expression label with its probability, most likely first."""
    probs = face.expression.probabilities if face.expression is not None else {}
    rows = sorted(
        ({"expression": k, "probability": round(float(v), 4)} for k, v in probs.items()),
        key=lambda r: -r["probability"],
    )
    return pd.DataFrame(rows, columns=["expression", "probability"])


def au_change_frame(a: Face, b: Face, threshold: float = CHANGE_THRESHOLD) -> pd.DataFrame:
    """AUs whose intensity changed by at least ``threshold`` from face ``a`` to face ``b``, biggest first."""
    before = {u.code: u.intensity for u in a.aus}
    after = {u.code: u.intensity for u in b.aus}
    rows = []
    for code in sorted(set(before) | set(after)):
        delta = after.get(code, 0.0) - before.get(code, 0.0)
        if abs(delta) >= threshold:
            rows.append(
                {
                    "action unit": au_label(code),
                    "change": round(delta, 2),
                    "direction": "stronger in B" if delta > 0 else "weaker in B",
                    "A": round(before.get(code, 0.0), 2),
                    "B": round(after.get(code, 0.0), 2),
                }
            )
    rows.sort(key=lambda r: -abs(r["change"]))
    return pd.DataFrame(rows, columns=["action unit", "change", "direction", "A", "B"])


def video_long_frames(table: pd.DataFrame, face_id: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From :func:`fea_agent.video.to_dataframe`'s wide table, long tables for the two time plots of one face:
    AU intensity over time (timestamp, AU, intensity) and expression probability over time."""
    if face_id is not None and "face_id" in table:
        table = table[table["face_id"] == face_id]
    au_cols = [c for c in table.columns if c in AU_CATALOGUE]
    expr_cols = [c for c in table.columns if c in EXPRESSION_LABELS]
    aus = table.melt(id_vars=["timestamp"], value_vars=au_cols, var_name="AU", value_name="intensity")
    exprs = table.melt(
        id_vars=["timestamp"], value_vars=expr_cols, var_name="expression", value_name="probability"
    )
    return aus.dropna(), exprs.dropna()
