"""The Image tab: a photo in (upload, webcam, clipboard), the face explained out.

The upload is read into memory and its file deleted at once; the input is then cleared, so no later event
names the deleted file. The analysed image and its result stay in the session's memory (``gr.State``), so that
switching faces, toggling landmarks or changing the reasoner re-draws without the upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np

from fea_agent.demo import views
from fea_agent.demo.analysis import Reasoners, analyze, decode, user_errors
from fea_agent.demo.uploads import read_uploads, upload_ref
from fea_agent.perception.quality import MIN_FACE_PX
from fea_agent.pipeline import FEAPipeline
from fea_agent.render import plots
from fea_agent.results import ImageResult


@dataclass
class Analysed:
    """What the session remembers about the current photo (in memory only)."""

    rgb: np.ndarray
    result: ImageResult


def _empty_views(message: str) -> tuple[Any, ...]:
    return (
        views.placeholder(message),
        "",
        None,
        None,
        "",
        "",
        None,
    )


def render(state: Analysed | None, face_index: int | None, landmarks: bool) -> tuple[Any, ...]:
    """Every view of the selected face: photo, headline, AU chart, expressions, reasoning, pose, JSON."""
    if state is None:
        return _empty_views("Upload a photo, take one with the webcam, or paste one from the clipboard.")
    result = state.result
    photo = views.annotated_html(state.rgb, result, landmarks=landmarks)
    timing = result.timings_ms.get("total")
    if timing is not None:
        photo += f'<div class="fea-muted fea-small" id="fea-timing">Analysed in {timing:.0f} ms on {result.device}.</div>'
    full_json = result.model_dump(mode="json")
    if not result.faces:
        return (
            photo,
            views.placeholder("No face found in this photo."),
            None,
            None,
            "",
            "",
            full_json,
        )
    i = face_index if face_index is not None and 0 <= face_index < len(result.faces) else 0
    face = result.faces[i]
    return (
        photo,
        views.headline_html(face, i, len(result.faces)),
        plots.au_frame(face),
        plots.expression_frame(face),
        views.reasoning_html(face),
        views.pose_html(face),
        full_json,
    )


def build(pipeline: FEAPipeline, reasoners: Reasoners) -> None:
    """Lay out the Image tab inside the current ``gr.Blocks`` and wire its events."""
    state = gr.State(None, time_to_live=1800)
    default = next(iter(reasoners.available), None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            image = gr.Image(
                label="Photo",
                sources=["upload", "webcam", "clipboard"],
                height=300,
                elem_id="fea-image-input",
            )
            with gr.Row():
                landmarks = gr.Checkbox(value=False, label="Show landmarks", elem_id="fea-landmarks")
                face = gr.Dropdown(choices=[], label="Face", interactive=True, elem_id="fea-face")
            reasoner = gr.Radio(
                choices=list(reasoners.available),
                value=default,
                label="Reasoner",
                info="How the expression is explained from the facial actions.",
            )
            confidence = gr.Slider(
                0,
                1,
                value=pipeline.options.min_confidence or 0.0,
                step=0.05,
                label="Answer only above this confidence",
                info="Below it a face is 'uncertain between' its two most likely expressions. 0: always answer.",
                elem_id="fea-min-confidence",
            )
            photo = gr.HTML(views.placeholder("The annotated photo appears here."), elem_id="fea-photo")
            gr.HTML(views.reasoners_html(reasoners.unavailable))
        with gr.Column(scale=6):
            headline = gr.HTML(elem_id="fea-headline")
            reasoning = gr.HTML(elem_id="fea-reasoning")
            au_plot = gr.BarPlot(
                None,
                x="action unit",
                y="intensity",
                color="state",
                color_map={"present": "#4f46e5", "absent": "#cbd5e1"},
                y_lim=[0, 5],
                x_label_angle=-40,
                title="Action unit intensity (0-5)",
                label="Action units",
                show_label=False,  # its header would push the chart's legend out of the box
                elem_classes="fea-chart",
                height=420,
                elem_id="fea-au-chart",
            )
            with gr.Row():
                expr_plot = gr.BarPlot(
                    None,
                    x="expression",
                    y="probability",
                    sort="-y",
                    y_lim=[0, 1],
                    x_label_angle=-30,
                    title="Expression",
                    label="Expression distribution",
                    show_label=False,
                    elem_classes="fea-chart",
                    height=300,
                    elem_id="fea-expression-chart",
                    scale=3,
                )
                with gr.Column(scale=2, min_width=200):
                    gr.Markdown("**Head pose**")
                    pose = gr.HTML(elem_id="fea-pose")
            with gr.Accordion("Full result (JSON)", open=False):
                raw = gr.JSON(label="ImageResult")
    view_outputs = [photo, headline, au_plot, expr_plot, reasoning, pose, raw]

    def on_image(
        payload: Any, reasoner_name: str | None, show_landmarks: bool, bar: float
    ) -> tuple[Any, ...]:
        ref = upload_ref(payload)
        if ref is None:  # the visitor cleared the input: what was analysed stays on the page
            return (gr.skip(),) * (3 + len(view_outputs))
        try:
            (upload,) = read_uploads(ref)
            assert upload is not None
            with user_errors(upload.name):
                loaded = decode(upload.data, upload.name, pipeline)
                result = analyze(pipeline, loaded, reasoners.available.get(reasoner_name or ""), float(bar))
        except gr.Error as exc:  # a message on the page, and the input ready for another file
            gr.Warning(exc.message, title=exc.title or "Cannot analyse the photo")
            return (None, None, gr.update(choices=[], value=None), *_empty_views(exc.message))
        if not result.faces:
            gr.Warning(
                f"No face found in {upload.name}. Try a photo where a face is visible and at least "
                f"{MIN_FACE_PX:.0f} px wide."
            )
        current = Analysed(loaded.rgb, result)
        choices = views.face_choices(result)
        dropdown = gr.update(choices=choices, value=0 if choices else None)
        return (None, current, dropdown, *render(current, 0, show_landmarks))

    def on_reasoner(
        current: Analysed | None, reasoner_name: str | None, index: int | None, show: bool, bar: float
    ) -> tuple[Any, ...]:
        """Analyse the remembered photo again: the reasoner or the confidence bar changed."""
        if current is None:
            return (None, gr.update(), *render(None, None, show))
        with user_errors("the photo"):
            from fea_agent.io.images import LoadedImage

            result = analyze(
                pipeline,
                LoadedImage(current.rgb, current.result.source),
                reasoners.available.get(reasoner_name or ""),
                float(bar),
            )
        current = Analysed(current.rgb, result)
        return (
            current,
            gr.update(choices=views.face_choices(result), value=index or 0),
            *render(current, index, show),
        )

    image.input(
        on_image,
        [image, reasoner, landmarks, confidence],
        [image, state, face, *view_outputs],
        api_visibility="private",
        show_progress="minimal",
        preprocess=False,  # the upload raw: read once here, never decoded into a file by Gradio
    )
    for changed in (reasoner.input, confidence.release):
        changed(
            on_reasoner,
            [state, reasoner, face, landmarks, confidence],
            [state, face, *view_outputs],
            api_visibility="private",
        )
    face.input(render, [state, face, landmarks], view_outputs, api_visibility="private")
    landmarks.input(render, [state, face, landmarks], view_outputs, api_visibility="private")
