"""LangChain tool ``detect_faces``: name, description, arguments and summary come from ``TOOL_SPECS["detect_faces"]``."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class DetectFacesTool(FEABaseTool):
    spec: ClassVar[ToolSpec] = TOOL_SPECS["detect_faces"]
