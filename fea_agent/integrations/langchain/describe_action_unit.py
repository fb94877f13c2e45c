"""LangChain tool ``describe_action_unit``: FACS catalogue look-up: name, muscle, appearance, expressions it supports."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class DescribeActionUnitTool(FEABaseTool):
    """FACS catalogue look-up: name, muscle, appearance, expressions it supports. Name, description and arguments: ``TOOL_SPECS["describe_action_unit"]``."""

    spec: ClassVar[ToolSpec] = TOOL_SPECS["describe_action_unit"]
