"""The Compare tab: two photos side by side and the action units that changed between them.

Each photo is read and decoded when it is uploaded, its file deleted and its input cleared; the decoded photo
stays in the session's memory (``gr.State``), so Compare can be pressed again, with one side replaced or the
same photo on both sides, without the upload.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from fea_agent.demo import views
from fea_agent.demo.analysis import analyze, decode, user_errors
from fea_agent.demo.uploads import read_uploads, upload_ref
from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.io.images import LoadedImage
from fea_agent.pipeline import FEAPipeline
from fea_agent.render import plots
from fea_agent.results import Face


def change_summary_html(a: Face, b: Face) -> str:
    """In words: the expression on each side, then the movements that appeared and disappeared."""
    la, lb = a.label or "?", b.label or "?"
    table = plots.au_change_frame(a, b)
    stronger = [r for _, r in table.iterrows() if r["change"] > 0]
    weaker = [r for _, r in table.iterrows() if r["change"] < 0]

    def items(rows: list[Any]) -> str:
        return (
            "".join(
                f"<li><span class='fea-au-chip'>{html.escape(r['action unit'].split()[0])}</span> "
                f"{html.escape(AU_CATALOGUE[r['action unit'].split()[0]].appearance)} "
                f"<span class='fea-muted'>({r['A']:.1f} → {r['B']:.1f})</span></li>"
                for r in rows
            )
            or "<li class='fea-muted'>none</li>"
        )

    same = "the same expression" if la == lb else "a different expression"
    return (
        f"<div class='fea-compare'><div class='fea-label'>{views.EMOJI.get(la, '🙂')} {html.escape(la.capitalize())}"
        f" → {views.EMOJI.get(lb, '🙂')} {html.escape(lb.capitalize())}</div>"
        f"<div class='fea-muted'>B shows {same}.</div>"
        f"<div class='fea-doing'><b>More in B</b><ul>{items(stronger)}</ul></div>"
        f"<div class='fea-doing'><b>Less in B</b><ul>{items(weaker)}</ul></div></div>"
    )


def build(pipeline: FEAPipeline) -> None:
    """Lay out the Compare tab inside the current ``gr.Blocks`` and wire its events."""
    gr.Markdown(
        "Compare two photos (the largest face in each): which facial actions changed from **A** to **B**?"
    )
    photo_a_state = gr.State(None, time_to_live=1800)
    photo_b_state = gr.State(None, time_to_live=1800)
    with gr.Row():
        image_a = gr.Image(
            label="Photo A", sources=["upload", "clipboard"], height=200, elem_id="fea-compare-a"
        )
        image_b = gr.Image(
            label="Photo B", sources=["upload", "clipboard"], height=200, elem_id="fea-compare-b"
        )
    button = gr.Button("Compare", variant="primary", elem_id="fea-compare-run")
    with gr.Row():
        photo_a = gr.HTML(views.placeholder("Photo A appears here."), elem_id="fea-compare-photo-a")
        photo_b = gr.HTML(views.placeholder("Photo B appears here."), elem_id="fea-compare-photo-b")
    with gr.Row():
        summary = gr.HTML(elem_id="fea-compare-summary")
        chart = gr.BarPlot(
            None,
            x="action unit",
            y="change",
            color="direction",
            color_map={"stronger in B": "#16a34a", "weaker in B": "#dc2626"},
            x_label_angle=-40,
            title="AU intensity change, B minus A",
            label="AU changes",
            show_label=False,  # its header would push the chart's legend out of the box
            elem_classes="fea-chart",
            height=360,
            elem_id="fea-compare-chart",
        )

    def on_photo(payload: Any, side: str) -> tuple[Any, ...]:
        ref = upload_ref(payload)
        if ref is None:  # cleared by the visitor: the photo in memory stays until replaced
            return (gr.skip(),) * 5
        try:
            (upload,) = read_uploads(ref)
            assert upload is not None
            with user_errors(upload.name):
                loaded = decode(upload.data, upload.name, pipeline)
        except gr.Error as exc:
            gr.Warning(exc.message, title=exc.title or f"Cannot read photo {side}")
            return (None, None, views.placeholder(exc.message), "", None)
        preview = (
            f'<div class="fea-photo"><img src="{views.jpeg_data_uri(loaded.rgb)}" alt="photo {side}"/></div>'
        )
        return (None, loaded, preview, views.placeholder("Press Compare."), None)

    def on_compare(a: LoadedImage | None, b: LoadedImage | None) -> tuple[Any, ...]:
        if a is None or b is None:
            raise gr.Error("Upload both photos, A and B, then press Compare.")
        results = []
        for loaded in (a, b):
            with user_errors(loaded.source or "the photo"):
                result = analyze(pipeline, loaded, None)
            if not result.faces:
                raise gr.Error(f"No face found in {loaded.source}.", title="Cannot compare")
            results.append(result)
        ra, rb = results
        return (
            views.annotated_html(a.rgb, ra, landmarks=False, alt="photo A"),
            views.annotated_html(b.rgb, rb, landmarks=False, alt="photo B"),
            change_summary_html(ra.faces[0], rb.faces[0]),
            plots.au_change_frame(ra.faces[0], rb.faces[0]),
        )

    def wire(image: gr.Image, state: gr.State, photo: gr.HTML, side: str) -> None:
        def on_side(payload: Any) -> tuple[Any, ...]:
            return on_photo(payload, side)

        image.input(
            on_side,
            [image],
            [image, state, photo, summary, chart],
            api_visibility="private",
            show_progress="minimal",
            preprocess=False,  # the upload raw: read once here, never decoded into a file by Gradio
        )

    wire(image_a, photo_a_state, photo_a, "A")
    wire(image_b, photo_b_state, photo_b, "B")
    button.click(
        on_compare,
        [photo_a_state, photo_b_state],
        [photo_a, photo_b, summary, chart],
        api_visibility="private",
    )
