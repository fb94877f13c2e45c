"""The Gradio demo: build the page over one pipeline and launch it.

from fea_agent.demo import build_app, launch
launch(build_app(), port=7860)
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from fea_agent.demo import views
from fea_agent.demo.uploads import private_cache_dir, remove_cache_on_exit
from fea_agent.pipeline import FEAPipeline

log = logging.getLogger(__name__)

#: Where ``launch(mcp=True)`` serves the MCP tools (streamable HTTP). Without the trailing slash that Gradio's own
#: banner prints: MCP Inspector 0.15's CLI gets a 404 there, while every client follows the redirect from here.
MCP_PATH = "/gradio_api/mcp"

#: Swept every minute: anything Gradio cached (a generated CSV) older than five minutes is deleted.
DELETE_CACHE = (60, 300)

INTRO = """
# fea-agent: facial emotion analysis
Upload a face. The models find it, measure its **action units** (the visible muscle movements coded by FACS),
classify its expression, and explain the emotion in terms of those movements.
Nothing you upload is kept: a photo's file is deleted as soon as it is read, and what the page remembers of it
goes when you close the tab; a video is deleted when you replace it or close the tab.
"""


def theme() -> gr.themes.Base:
    """The demo's look (Gradio 6 takes theme and css in ``launch()``)."""
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="emerald", neutral_hue="slate")


def build_app(
    pipeline: FEAPipeline | None = None, *, reasoners: tuple[str, ...] | None = None, video: bool = True
) -> gr.Blocks:
    """The demo page. ``pipeline`` defaults to a new default one; ``reasoners`` limits which reasoner
    backends are probed for the selector (default: all that fea-agent knows)."""
    from fea_agent.demo import about_tab, api, compare_tab, image_tab
    from fea_agent.demo.analysis import Reasoners

    private_cache_dir()  # before any component: Gradio reads its cache folder at construction
    pipeline = pipeline if pipeline is not None else FEAPipeline()
    available = Reasoners.probe(pipeline, reasoners)
    with gr.Blocks(title="fea-agent demo", delete_cache=DELETE_CACHE, analytics_enabled=False) as app:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                image_tab.build(pipeline, available)
            with gr.Tab("Video", id="video"):
                _video_tab(pipeline, enabled=video)
            with gr.Tab("Compare", id="compare"):
                compare_tab.build(pipeline)
            with gr.Tab("About the AUs", id="about"):
                about_tab.build()
        api.build(pipeline)

        def forget(request: gr.Request) -> None:
            _forget_session(app, request)

        app.unload(forget)
    return app


def _forget_session(app: gr.Blocks, request: gr.Request) -> None:
    """Drop what a closed tab's session kept in memory (its photos, its held clip) now: Gradio itself keeps a
    closed session's state for an hour, in case the visitor comes back."""
    holder = getattr(app, "state_holder", None)
    if holder is not None and request.session_hash:
        holder.delete_state(request.session_hash)


def _video_tab(pipeline: FEAPipeline, *, enabled: bool) -> None:
    try:
        from fea_agent.demo import video_tab
    except ImportError as exc:  # fea_agent.video (the [video] extra) may be missing
        gr.HTML(views.placeholder(f"Video analysis is not available here: {exc}"))
        return
    if enabled:
        video_tab.build(pipeline)
    else:
        gr.HTML(views.placeholder("Video analysis is switched off in this app."))


def launch(
    app: gr.Blocks,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    share: bool = False,
    mcp: bool = False,
    **kwargs: Any,
) -> Any:
    """Serve the app; ``mcp=True`` also serves the API endpoints as MCP tools at :data:`MCP_PATH`."""
    private_cache_dir()  # again: the MCP server's module may have been imported since build_app()
    remove_cache_on_exit()
    return app.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        share=share,
        mcp_server=mcp,
        theme=theme(),
        css=views.CSS,
        show_error=True,
        **kwargs,
    )
