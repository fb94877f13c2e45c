"""LangChain tool ``analyze_video``: A video summarised per tracked face: dominant expression, AU rates, peaks."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class AnalyzeVideoTool(FEABaseTool):
    """A video summarised per tracked face: dominant expression, AU rates, peaks. Name, description and arguments: ``TOOL_SPECS["analyze_video"]``."""

    spec: ClassVar[ToolSpec] = TOOL_SPECS["analyze_video"]
