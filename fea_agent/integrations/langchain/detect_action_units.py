"""LangChain tool ``detect_action_units``: name, description, arguments and summary come from ``TOOL_SPECS["detect_action_units"]``."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class DetectActionUnitsTool(FEABaseTool):
    spec: ClassVar[ToolSpec] = TOOL_SPECS["detect_action_units"]
