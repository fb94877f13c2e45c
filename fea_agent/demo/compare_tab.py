"""The Compare tab: two photos side by side and the action units that changed between them."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from fea_agent.demo import views
from fea_agent.demo.analysis import analyze, decode, user_errors
from fea_agent.demo.uploads import Upload, ephemeral_image
from fea_agent.facs.catalogue import AU_CATALOGUE
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
    with gr.Row():
        image_a = ephemeral_image(label="Photo A", sources=["upload", "clipboard"], height=260)
        image_b = ephemeral_image(label="Photo B", sources=["upload", "clipboard"], height=260)
    button = gr.Button("Compare", variant="primary")
    with gr.Row():
        photo_a = gr.HTML()
        photo_b = gr.HTML()
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
            height=320,
        )

    def on_compare(a: Upload | None, b: Upload | None) -> tuple[Any, ...]:
        if a is None or b is None:
            raise gr.Error("Upload both photos, A and B, then press Compare.")
        results = []
        for upload in (a, b):
            with user_errors(upload.name):
                loaded = decode(upload.data, upload.name, pipeline)
                result = analyze(pipeline, loaded, None)
            if not result.faces:
                raise gr.Error(f"No face found in {upload.name}.", title="Cannot compare")
            results.append((loaded, result))
        (la, ra), (lb, rb) = results
        return (
            views.annotated_html(la.rgb, ra, landmarks=False, alt="photo A"),
            views.annotated_html(lb.rgb, rb, landmarks=False, alt="photo B"),
            change_summary_html(ra.faces[0], rb.faces[0]),
            plots.au_change_frame(ra.faces[0], rb.faces[0]),
        )

    button.click(on_compare, [image_a, image_b], [photo_a, photo_b, summary, chart], api_visibility="private")
