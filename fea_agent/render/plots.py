"""Charts of results: the tables behind them (pandas DataFrames, which the demo hands to Gradio's plots) and
PNG renderings of the same (matplotlib, ``pip install 'fea-agent[plot]'``): an AU bar chart of one face,
AU and expression time series of a video (its episodes as bands behind the curves), and a video's episodes
as a timeline chart.

    from fea_agent.render.plots import au_bar_chart, video_time_series
    au_bar_chart(result.faces[0], "aus.png")
    video_time_series(to_dataframe(pipeline.analyze_video("clip.mp4")), "clip.png")
"""

from __future__ import annotations

import io
import os
from typing import Any

import pandas as pd

from fea_agent.errors import BackendUnavailableError
from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.results import EXPRESSION_LABELS, STATE_KINDS, Episode, Face, VideoSummary

#: AU changes smaller than this (0-5 scale) are not worth showing in the comparison.
CHANGE_THRESHOLD = 0.5
#: One colour per expression, the same in every chart (matplotlib's tab10 in label order).
EXPRESSION_COLOURS = dict(
    zip(EXPRESSION_LABELS, (f"C{i}" for i in range(len(EXPRESSION_LABELS))), strict=True)
)
#: The spans where the face cannot be read: grey, hatched.
STATE_COLOUR, STATE_HATCH = "0.6", "//"


def au_label(code: str) -> str:
    """``'AU12 Lip corner puller'``: the code keeps the bars in FACS order, the name says what it is."""
    info = AU_CATALOGUE.get(code)
    return f"{code} {info.name}" if info is not None else code


def au_frame(face: Face) -> pd.DataFrame:
    """One row per AU: label, intensity 0-5, and whether it is present (``ActionUnit.present``); no rows for a
    face that cannot be read (its AUs would look trustworthy)."""
    if not face.quality.usable:
        return pd.DataFrame([], columns=["action unit", "intensity", "state", "probability"])
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
    rows = [
        {"expression": k, "probability": round(float(v), 4)}
        for k, v in sorted(probs.items(), key=lambda kv: -kv[1])
    ]
    return pd.DataFrame(rows, columns=["expression", "probability"])


def au_change_frame(a: Face, b: Face, threshold: float = CHANGE_THRESHOLD) -> pd.DataFrame:
    """AUs whose intensity changed by at least ``threshold`` from face ``a`` to face ``b``, biggest first."""
    before = {u.code: u.intensity for u in a.aus}
    after = {u.code: u.intensity for u in b.aus}
    rows: list[dict[str, Any]] = []
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


# -- PNG charts ---------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise BackendUnavailableError(
            "charts need matplotlib: pip install 'fea-agent[plot]' (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")  # headless: files, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str] | None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    data = buffer.getvalue()
    if path is not None:
        with open(path, "wb") as fh:
            fh.write(data)
    return data


def au_bar_chart(face: Face, path: str | os.PathLike[str] | None = None) -> bytes:
    """A horizontal bar per AU (intensity 0-5, present ones in colour); the PNG bytes, also written to
    ``path`` when given."""
    plt = _pyplot()
    table = au_frame(face).iloc[::-1]  # FACS order from the top
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(table) + 1))
    colours = ["tab:orange" if s == "present" else "tab:gray" for s in table["state"]]
    ax.barh(table["action unit"], table["intensity"], color=colours)
    ax.set_xlim(0, 5)
    ax.set_xlabel("intensity (0 absent, 1-5 = FACS A-E); orange: present")
    label = (face.expression.label if face.expression is not None else None) or "no expression"
    ax.set_title(f"Action units ({label})")
    fig.tight_layout()
    return _save(fig, path)


def _bands(ax: Any, episodes: list[Episode]) -> None:
    """Expression episodes as light bands in their label's colour, and the unreadable spans hatched grey."""
    for e in episodes:
        if e.offset_s is None:
            continue
        if e.kind == "expression":
            ax.axvspan(e.onset_s, e.offset_s, color=EXPRESSION_COLOURS.get(e.label, "0.8"), alpha=0.15, lw=0)
        elif e.kind in STATE_KINDS:
            ax.axvspan(
                e.onset_s, e.offset_s, facecolor="none", edgecolor=STATE_COLOUR, hatch=STATE_HATCH, lw=0
            )


def video_time_series(
    table: pd.DataFrame,
    path: str | os.PathLike[str] | None = None,
    face_id: int | None = None,
    max_aus: int = 8,
    summary: VideoSummary | None = None,
) -> bytes:
    """Two stacked plots against time: the ``max_aus`` most active AUs' intensities and every expression's
    probability, for ``face_id`` (default: the face seen in most frames). ``table`` is
    :func:`fea_agent.video.to_dataframe`'s; with ``summary``, that face's episodes are drawn as bands behind
    the curves (expressions in their colour, unreadable spans hatched). The PNG bytes, also written to
    ``path`` when given."""
    plt = _pyplot()
    if face_id is None and "face_id" in table and table["face_id"].notna().any():
        face_id = int(table["face_id"].value_counts().idxmax())
    aus, exprs = video_long_frames(table, face_id)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    if not aus.empty:
        strongest = aus.groupby("AU")["intensity"].mean().nlargest(max_aus).index
        for code in sorted(strongest):
            series = aus[aus["AU"] == code]
            top.plot(series["timestamp"], series["intensity"], label=au_label(code), linewidth=1.2)
        top.legend(fontsize=7, ncol=2, loc="upper right")
    top.set_ylim(0, 5)
    top.set_ylabel("AU intensity (0-5)")
    for label in EXPRESSION_LABELS:
        series = exprs[exprs["expression"] == label]
        if not series.empty:
            bottom.plot(series["timestamp"], series["probability"], label=label, linewidth=1.2)
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("expression probability")
    bottom.set_xlabel("time (s)")
    if not exprs.empty:
        bottom.legend(fontsize=7, ncol=4, loc="upper right")
    if summary is not None:
        episodes = next((f.episodes for f in summary.faces if f.face_id == face_id), [])
        _bands(top, episodes)
        _bands(bottom, episodes)
    who = f"face {face_id}" if face_id is not None else "no face found"
    source = table["source"].dropna().iloc[0] if "source" in table and table["source"].notna().any() else ""
    top.set_title(f"{os.path.basename(str(source))} - {who}")
    fig.tight_layout()
    return _save(fig, path)


def episode_chart(
    summary: VideoSummary, path: str | os.PathLike[str] | None = None, max_faces: int = 4, max_aus: int = 8
) -> bytes:
    """A video's episodes against time, one panel per face (the ``max_faces`` seen longest): a row of
    expression episodes in their colours with the unreadable spans hatched, and a row per AU (the
    ``max_aus`` active longest). The PNG bytes, also written to ``path`` when given."""
    plt = _pyplot()
    faces = sorted(summary.faces, key=lambda f: -f.frames)[:max_faces]
    rows_of = []
    for face in faces:
        active: dict[str, float] = {}
        for e in face.episodes:
            if e.kind == "action_unit":
                active[e.label] = active.get(e.label, 0.0) + (e.duration_s or 0.0)
        rows_of.append(sorted(sorted(active, key=lambda c: -active[c])[:max_aus]))
    heights = [len(rows) + 1.5 for rows in rows_of] or [1.5]
    fig, axes = plt.subplots(
        len(heights),
        1,
        figsize=(10, 0.32 * sum(heights) + 1.2),
        squeeze=False,
        sharex=True,
        gridspec_kw={"height_ratios": heights},
    )
    end = max([summary.duration_s] + [e.offset_s or 0.0 for f in faces for e in f.episodes])
    for ax, face, aus in zip(axes[:, 0], faces, rows_of, strict=False):
        labels = ["expression", *(au_label(c) for c in aus)]
        for e in face.episodes:
            if e.offset_s is None:
                continue
            span = [(e.onset_s, e.offset_s - e.onset_s)]
            if e.kind == "expression":
                ax.broken_barh(span, (-0.4, 0.8), color=EXPRESSION_COLOURS.get(e.label, "0.5"))
                if e.duration_s and e.duration_s > 0.06 * end:
                    ax.text(e.onset_s + e.duration_s / 2, 0, e.label, ha="center", va="center", fontsize=7)
            elif e.kind in STATE_KINDS:
                ax.broken_barh(
                    span, (-0.4, 0.8), facecolor="white", edgecolor=STATE_COLOUR, hatch=STATE_HATCH
                )
                if e.duration_s and e.duration_s > 0.06 * end:
                    ax.text(e.onset_s + e.duration_s / 2, 0, e.kind, ha="center", va="center", fontsize=7)
            elif e.label in aus:
                ax.broken_barh(span, (aus.index(e.label) + 0.65, 0.7), color="tab:orange")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_title(f"face {face.face_id}", fontsize=9, loc="left")
    if not faces:
        axes[0, 0].set_title("no face found")
    axes[-1, 0].set_xlim(0, max(end, 0.1))
    axes[-1, 0].set_xlabel("time (s)")
    name = os.path.basename(summary.source or "video")
    fig.suptitle(f"{name}: episodes (hatched: face not readable)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
