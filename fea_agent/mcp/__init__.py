"""MCP servers for fea-agent: the agent tools over stdio and streamable HTTP (``fea-agent serve mcp``)."""

from fea_agent.mcp.runtime import Runtime
from fea_agent.mcp.server import build_server, to_call_result

__all__ = ["Runtime", "build_server", "to_call_result"]
