"""LangChain tool ``classify_expression``: name, description, arguments and summary come from ``TOOL_SPECS["classify_expression"]``."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class ClassifyExpressionTool(FEABaseTool):
    spec: ClassVar[ToolSpec] = TOOL_SPECS["classify_expression"]
