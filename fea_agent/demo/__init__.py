"""The Gradio demo (``pip install 'fea-agent[demo]'``; run ``fea-agent demo``)."""

from fea_agent.demo.app import build_app, launch

__all__ = ["build_app", "launch"]
