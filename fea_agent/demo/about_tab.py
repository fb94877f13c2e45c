"""The "About the AUs" tab: the FACS catalogue, and how to read the page."""

from __future__ import annotations

import gradio as gr

from fea_agent.demo import views


def build() -> None:
    """Lay out the catalogue table inside the current ``gr.Blocks``."""
    gr.HTML(views.about_aus_html(), elem_id="fea-about")
