"""LangChain tool ``classify_expression``: Expression probabilities per face, appearance alone and fused with AUs."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class ClassifyExpressionTool(FEABaseTool):
    """Expression probabilities per face, appearance alone and fused with AUs. Name, description and arguments: ``TOOL_SPECS["classify_expression"]``."""

    spec: ClassVar[ToolSpec] = TOOL_SPECS["classify_expression"]
