"""LangChain tool ``detect_faces``: Face boxes, keypoints, head pose and quality."""

from __future__ import annotations

from typing import ClassVar

from fea_agent.agent_tools import TOOL_SPECS, ToolSpec
from fea_agent.integrations.langchain._base import FEABaseTool


class DetectFacesTool(FEABaseTool):
    """Face boxes, keypoints, head pose and quality. Name, description and arguments: ``TOOL_SPECS["detect_faces"]``."""

    spec: ClassVar[ToolSpec] = TOOL_SPECS["detect_faces"]
