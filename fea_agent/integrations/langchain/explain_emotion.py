"""LangChain tool ``explain_emotion``: The reasoner's label-first explanation grounded in AUs, from an image or given AUs."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class ExplainEmotionTool(FEABaseTool):
    """The reasoner's label-first explanation grounded in AUs, from an image or given AUs. Name, description and arguments: ``TOOL_SPECS["explain_emotion"]``."""

    spec: ClassVar[ToolSpec] = TOOL_SPECS["explain_emotion"]
