"""The perception MCP server (faces, AUs, expression, video, analyze_face) on a CPU or GPU box.

    python servers/perception_server.py                     # stdio, what an MCP host launches
    FEA_AGENT_TOKEN=... python servers/perception_server.py --transport http --port 8765

Any other ``fea-agent serve mcp`` option passes through (``--allow-dir``, ``--workers``, ...).
"""

import sys

from fea_agent.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", "mcp", "--tools", "perception", *sys.argv[1:]]))
