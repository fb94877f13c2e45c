"""LangChain tool ``analyze_face``: Full analysis of every face: box, pose, AUs, fused expression and the grounded reasoning."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class AnalyzeFaceTool(FEABaseTool):
    """Full analysis of every face: box, pose, AUs, fused expression and the grounded reasoning. Name, description and arguments: ``TOOL_SPECS["analyze_face"]``."""

    spec: ClassVar[ToolSpec] = TOOL_SPECS["analyze_face"]
