"""LangChain tool ``describe_action_unit``: name, description, arguments and summary come from ``TOOL_SPECS["describe_action_unit"]``."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class DescribeActionUnitTool(FEABaseTool):
    spec: ClassVar[ToolSpec] = TOOL_SPECS["describe_action_unit"]
