"""The reasoning MCP server (explain_emotion, describe_action_unit, analyze_face), meant for a GPU box when
the reasoner is a model (``--reasoner feallm`` / ``vlm`` / ``openai``); the default ``facs`` runs anywhere.

    python servers/reasoning_server.py --reasoner facs
    FEA_AGENT_TOKEN=... python servers/reasoning_server.py --transport http --host 0.0.0.0 --reasoner feallm
"""

import sys

from fea_agent.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", "mcp", "--tools", "reasoning", *sys.argv[1:]]))
