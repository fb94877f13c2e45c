"""The Video tab: a clip in; a progress bar while frames are analysed; AUs and expression over time, a
per-face summary with the timeline of episodes, and the table as CSV out. Built on :meth:`FEAPipeline.analyze_video` and
:mod:`fea_agent.video` (``summarize``, ``to_dataframe``).

The page's clip is held for its session (:class:`~fea_agent.demo.uploads.HeldFiles`), so *Analyse video* can
run again with another stride; it is deleted when replaced or cleared, when the tab closes, after 30 minutes
idle, or when the app stops. The ``/analyze_video_clip`` API endpoint deletes its clip once analysed."""

from __future__ import annotations

import html
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from fea_agent.demo import views
from fea_agent.demo.analysis import user_errors
from fea_agent.demo.uploads import Held, HeldFiles, discard, private_cache_dir, upload_ref
from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.pipeline import USE_PIPELINE, FEAPipeline
from fea_agent.render import plots
from fea_agent.results import VideoSummary
from fea_agent.video import summarize, to_dataframe
from fea_agent.video.timeline import timeline_text

#: The AU plot shows this many AUs: those that move most, so the lines stay readable.
TOP_AUS = 6
#: A held clip and the per-frame table are dropped after this long without use (and when the tab closes).
IDLE_S = 1800
#: Gradio spots a progress tracker by its default value; one module-level instance serves every call.
_PROGRESS = gr.Progress()


def summary_html(summary: VideoSummary, seconds: float) -> str:
    """Per face: its dominant expression, how long it was seen, and the AUs it used most; then the timeline
    of episodes in words, as the analyze_video tool gives it to a language model."""
    head = (
        f"<div class='fea-muted'>{summary.frames} frames analysed in {seconds:.1f} s "
        f"({summary.frames / max(seconds, 1e-6):.0f} frames/s); faces in {summary.frames_with_faces}.</div>"
    )
    if not summary.faces:
        return head + views.placeholder("No face was found in this video.")
    cards = []
    for face in summary.faces:
        label = face.dominant_expression
        share = face.expression_share.get(label, 0.0)
        active = sorted(face.au_activation.items(), key=lambda kv: -kv[1])[:4]
        aus = (
            "".join(
                f"<li><span class='fea-au-chip'>{code}</span> {html.escape(AU_CATALOGUE[code].appearance)} "
                f"<span class='fea-muted'>({rate:.0%} of frames)</span></li>"
                for code, rate in active
                if rate > 0 and code in AU_CATALOGUE
            )
            or "<li class='fea-muted'>no action unit was clearly active</li>"
        )
        cards.append(
            f"<div class='fea-card'><div class='fea-headline'><div class='fea-emoji'>{views.EMOJI.get(label, '🙂')}"
            f"</div><div><div class='fea-which'>Face {face.face_id}, {face.first_s:.1f}-{face.last_s:.1f} s</div>"
            f"<div class='fea-label'>{html.escape(label.capitalize())}</div>"
            f"<div class='fea-muted'>in {share:.0%} of its {face.frames} frames</div></div></div>"
            f"<div class='fea-doing'><b>Most used movements</b><ul>{aus}</ul></div></div>"
        )
    timeline = (
        "<div class='fea-card fea-timeline'><b>Timeline</b>"
        f"<pre style='white-space: pre-wrap'>{html.escape(timeline_text(summary))}</pre></div>"
    )
    return head + "".join(cards) + timeline


def time_plots(table: pd.DataFrame, face_id: int | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The long tables of the two line plots for one face; only the AUs that move most are kept."""
    if table is None or table.empty:
        return None, None
    aus, exprs = plots.video_long_frames(table, face_id)
    if aus.empty:
        return None, None
    strongest = aus.groupby("AU")["intensity"].max().sort_values(ascending=False).head(TOP_AUS).index
    # Codes only: six FACS names do not fit in one legend row; the summary beside says what each AU does.
    return aus[aus["AU"].isin(strongest)].copy(), exprs


def build(pipeline: FEAPipeline) -> None:
    """Lay out the Video tab inside the current ``gr.Blocks`` and wire its events."""
    table_state = gr.State(None, time_to_live=IDLE_S)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            video = gr.Video(label="Video clip", sources=["upload"], height=280, elem_id="fea-video-input")
            with gr.Row():
                stride = gr.Slider(
                    1, 10, value=1, step=1, label="Analyse every n-th frame", elem_id="fea-video-stride"
                )
                smooth = gr.Checkbox(value=True, label="Smooth over time")
            confidence = gr.Slider(
                0,
                1,
                value=pipeline.options.min_confidence or 0.0,
                step=0.05,
                label="Name an expression only above this confidence",
                info="Frames below it are uncertain: no expression episode. 0: always answer.",
                elem_id="fea-video-min-confidence",
            )
            run = gr.Button("Analyse video", variant="primary", elem_id="fea-video-run")
            summary = gr.HTML(elem_id="fea-video-summary")
            face = gr.Dropdown(choices=[], label="Face to plot", interactive=True)
            csv = gr.DownloadButton("Download CSV", visible=False, elem_id="fea-video-csv")
        with gr.Column(scale=6):
            au_plot = gr.LinePlot(
                None,
                x="timestamp",
                y="intensity",
                color="AU",
                y_lim=[0, 5],
                title="Action unit intensity over time (0-5)",
                x_title="time (s)",
                label="AUs over time",
                show_label=False,  # its header would push the chart's legend out of the box
                elem_classes="fea-chart",
                height=430,
                elem_id="fea-video-aus",
            )
            expr_plot = gr.LinePlot(
                None,
                x="timestamp",
                y="probability",
                color="expression",
                color_map=views.EXPRESSION_COLOURS,
                y_lim=[0, 1],
                title="Expression probability over time",
                x_title="time (s)",
                label="Expressions over time",
                show_label=False,
                elem_classes="fea-chart",
                height=400,
                elem_id="fea-video-expressions",
            )

    held_files = HeldFiles(video)
    clip_state = gr.State(None, time_to_live=IDLE_S, delete_callback=held_files.release)

    def analyse(
        path: str, name: str, every: int, smoothing: bool, progress: gr.Progress, bar: Any = USE_PIPELINE
    ) -> tuple[Any, ...]:
        started = time.perf_counter()

        def report(done: int, total: int | None) -> None:
            progress((done, total) if total else None, desc=f"Analysing frames ({done} done)")

        with user_errors(name):
            frames = pipeline.analyze_video(
                path, stride=int(every), progress=report, smooth=smoothing, min_confidence=bar
            )
            results = list(frames)
        seconds = time.perf_counter() - started
        summary_ = summarize(results)
        table = to_dataframe(results)
        ids = [f.face_id for f in summary_.faces]
        first = ids[0] if ids else None
        aus, exprs = time_plots(table, first)
        return (
            table,
            summary_html(summary_, seconds),
            gr.update(choices=[(f"Face {i}", i) for i in ids], value=first),
            aus,
            exprs,
            gr.update(value=_write_csv(table), visible=True),
        )

    def on_upload(payload: Any, previous: Held | None) -> Held | None:
        ref = upload_ref(payload)
        held = held_files.hold(ref) if ref is not None else None
        held_files.release(previous)  # after the new hold: the same clip again is one file, kept
        return held

    def on_clear(previous: Held | None) -> None:
        held_files.release(previous)

    def on_run(
        clip: Held | None, every: int, smoothing: bool, bar: float, progress: gr.Progress = _PROGRESS
    ) -> tuple[Any, ...]:
        if clip is None:
            raise gr.Error("Upload a video clip first.")
        if not Path(clip.path).is_file():  # only if something outside the app removed it
            held_files.release(clip)
            raise gr.Error(f"the clip {clip.name!r} is no longer here; please upload it again")
        return (clip, *analyse(clip.path, clip.name, every, smoothing, progress, float(bar)))

    def on_api_run(
        payload: Any, every: int, smoothing: bool, progress: gr.Progress = _PROGRESS
    ) -> tuple[Any, ...]:
        ref = upload_ref(payload)
        if ref is None:
            raise gr.Error("pass a video clip")
        try:
            return analyse(ref.path, ref.name, every, smoothing, progress)[1:]
        finally:
            if not held_files.is_held(ref.path):  # the same clip on a visitor's page stays theirs
                discard(ref.path)

    def on_face(table: pd.DataFrame | None, face_id: int | None) -> tuple[Any, ...]:
        return time_plots(table, face_id)

    # Events that take the upload get it raw (preprocess=False): Gradio would convert the clip into a new file.
    video.upload(
        on_upload,
        [video, clip_state],
        clip_state,
        api_visibility="private",
        show_progress="hidden",
        preprocess=False,
    )
    video.clear(on_clear, clip_state, clip_state, api_visibility="private", show_progress="hidden")
    run.click(
        on_run,
        [clip_state, stride, smooth, confidence],
        [clip_state, table_state, summary, face, au_plot, expr_plot, csv],
        api_visibility="private",
    )
    gr.Button(visible=False).click(
        on_api_run,
        [video, stride, smooth],
        [summary, face, au_plot, expr_plot, csv],
        api_name="analyze_video_clip",
        api_visibility="undocumented",
        preprocess=False,
    )
    face.input(on_face, [table_state, face], [au_plot, expr_plot], api_visibility="private")


def _write_csv(table: pd.DataFrame) -> str:
    """The per-frame table as CSV in the app's private cache, for the download button (numbers only, no
    pixels; Gradio's cache sweep deletes it after a few minutes)."""
    folder = private_cache_dir() / "csv"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", prefix="fea-agent-video-", dir=folder, delete=False
    ) as f:
        table.drop(columns=["source"], errors="ignore").to_csv(f, index=False)
        return f.name
