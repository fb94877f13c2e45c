"""The fea-agent Gradio demo: ``python demos/gradio_app.py`` (the same as ``fea-agent demo``).

Needs ``pip install 'fea-agent[demo]'`` (the default models ship inside the package).
Pass ``--mcp`` to also serve the analysis endpoints as MCP tools at ``/gradio_api/mcp``.
"""

from __future__ import annotations

import sys

from fea_agent.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
