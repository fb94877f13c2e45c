"""LangChain tool ``detect_action_units``: Facial action units (FACS) per face: probability 0-1, intensity 0-5."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class DetectActionUnitsTool(FEABaseTool):
    """Facial action units (FACS) per face: probability 0-1, intensity 0-5. Name, description and arguments: ``TOOL_SPECS["detect_action_units"]``."""

    spec: ClassVar[ToolSpec] = TOOL_SPECS["detect_action_units"]
