"""``FEAToolkit``: every fea-agent tool for a LangChain agent, in one line."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit

from fea_agent.agent_tools import TOOL_GROUPS, TOOL_SPECS
from fea_agent.integrations.langchain._base import FEABaseTool
from fea_agent.integrations.langchain.analyze_face import AnalyzeFaceTool
from fea_agent.integrations.langchain.analyze_video import AnalyzeVideoTool
from fea_agent.integrations.langchain.classify_expression import ClassifyExpressionTool
from fea_agent.integrations.langchain.describe_action_unit import DescribeActionUnitTool
from fea_agent.integrations.langchain.detect_action_units import DetectActionUnitsTool
from fea_agent.integrations.langchain.detect_faces import DetectFacesTool
from fea_agent.integrations.langchain.explain_emotion import ExplainEmotionTool

#: Tool name -> LangChain tool class, in the order of TOOL_SPECS (the MCP server's order).
TOOL_CLASSES: dict[str, type[FEABaseTool]] = {
    cls.spec.name: cls
    for cls in (
        AnalyzeFaceTool,
        DetectFacesTool,
        DetectActionUnitsTool,
        ClassifyExpressionTool,
        ExplainEmotionTool,
        DescribeActionUnitTool,
        AnalyzeVideoTool,
    )
}
assert list(TOOL_CLASSES) == list(TOOL_SPECS), "every agent tool needs its LangChain class, in the same order"


class FEAToolkit(BaseToolkit):
    """The fea-agent tools (the same names, descriptions and arguments as the MCP server) for LangChain.

        from fea_agent.integrations.langchain import FEAToolkit
        agent = create_agent("openai:gpt-4o-mini", FEAToolkit().get_tools())

    Args:
        pipeline: the FEAPipeline the tools share (default: one per process, loaded on first use).
        allowed_dirs: folders the tools may read image files from (default: the current working directory;
            ``[]``: base64 and data URIs only).
        tools: the tool names to give, or a tool set ('perception', 'reasoning', 'all'); default all.
        include_image: put annotated pictures into the tool content as image blocks too.
    """

    pipeline: Any = None
    allowed_dirs: list[str] | None = None
    tools: str | list[str] = "all"
    include_image: bool = False

    def __init__(
        self,
        pipeline: Any = None,
        allowed_dirs: Iterable[str | os.PathLike[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        dirs = None if allowed_dirs is None else [str(d) for d in allowed_dirs]
        super().__init__(pipeline=pipeline, allowed_dirs=dirs, **kwargs)

    def tool_names(self) -> Sequence[str]:
        if isinstance(self.tools, str):
            if self.tools not in TOOL_GROUPS:
                raise ValueError(f"unknown tool set {self.tools!r}; choose one of {', '.join(TOOL_GROUPS)}")
            return TOOL_GROUPS[self.tools]
        unknown = [n for n in self.tools if n not in TOOL_CLASSES]
        if unknown:
            raise ValueError(f"unknown tools {unknown}; available: {', '.join(TOOL_CLASSES)}")
        return list(self.tools)

    def get_tools(self) -> list[BaseTool]:
        """One BaseTool per fea-agent tool, sharing this toolkit's pipeline and allowed folders."""
        if self.pipeline is None:
            from fea_agent.integrations._context import default_pipeline

            self.pipeline = default_pipeline()
        return [
            TOOL_CLASSES[name](
                pipeline=self.pipeline, allowed_dirs=self.allowed_dirs, include_image=self.include_image
            )
            for name in self.tool_names()
        ]
