"""LlamaIndex tools for fea-agent: ``FEAToolSpec().to_tool_list()``.

The same tools as the MCP server and the LangChain toolkit (names, descriptions and argument schemas come
from :data:`fea_agent.agent_tools.TOOL_SPECS`). Each call's ``ToolOutput`` holds readable text for the model,
the annotated picture as an ``ImageBlock`` (LlamaIndex's McpToolSpec would flatten it to text), and the typed
pydantic result as ``raw_output``.

    from llama_index.core.agent.workflow import FunctionAgent
    agent = FunctionAgent(tools=FEAToolSpec(allowed_dirs=["photos"]).to_tool_list(), llm=llm)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from llama_index.core.base.llms.types import ImageBlock, TextBlock
from llama_index.core.tools import FunctionTool, ToolMetadata
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from pydantic import BaseModel

from fea_agent.agent_tools import TOOL_SPECS, ToolContext, annotated_image
from fea_agent.errors import FEAError
from fea_agent.integrations._content import render_output
from fea_agent.integrations._context import make_context, make_policy


class FEAToolError(ValueError):
    """A tool call LlamaIndex reports back to the model; the message names the problem with the input."""


class _FEAFunctionTool(FunctionTool):
    """A FunctionTool whose typed output becomes a text block plus, where there is one, an image block."""

    include_image: bool = True

    def _parse_tool_output(self, raw_output: Any) -> list[Any]:
        if not isinstance(raw_output, BaseModel):
            return super()._parse_tool_output(raw_output)
        blocks: list[Any] = [TextBlock(text=render_output(raw_output))]
        picture = annotated_image(raw_output) if self.include_image else None
        if picture is not None:
            blocks.append(ImageBlock(image=picture[0], image_mimetype=picture[1]))
        return blocks


class FEAToolSpec(BaseToolSpec):
    """The fea-agent tools for LlamaIndex agents.

    Args:
        pipeline: the FEAPipeline the tools share (default: one per process, loaded on first use).
        allowed_dirs: folders the ``image`` argument may name files in (default: the current working
            directory; ``[]``: base64 and data URIs only).
        include_image: add the annotated picture to the tool output as an ImageBlock (default True).
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = list(TOOL_SPECS)  # noqa: RUF012

    def __init__(
        self,
        pipeline: Any = None,
        allowed_dirs: Iterable[str | os.PathLike[str]] | None = None,
        *,
        include_image: bool = True,
    ) -> None:
        self._pipeline = pipeline
        self._policy = make_policy(allowed_dirs)
        self._context: ToolContext | None = None
        self.include_image = include_image

    @property
    def context(self) -> ToolContext:
        """The pipeline and image policy the tools run with (the pipeline loads on first use)."""
        if self._context is None:
            self._context = make_context(self._pipeline, self._policy)
        return self._context

    def _run(self, name: str, arguments: dict[str, Any]) -> BaseModel:
        try:
            return TOOL_SPECS[name].run(self.context, arguments)
        except FEAError as exc:
            raise FEAToolError(f"{name}: {exc}") from exc

    # One method per tool; what the model reads (description, arguments) is TOOL_SPECS[name]'s.

    def analyze_face(self, **arguments: Any) -> BaseModel:
        """Full analysis of every face: box, pose, AUs, fused expression and the grounded reasoning."""
        return self._run("analyze_face", arguments)

    def detect_faces(self, **arguments: Any) -> BaseModel:
        """Face boxes, keypoints, head pose and quality."""
        return self._run("detect_faces", arguments)

    def detect_action_units(self, **arguments: Any) -> BaseModel:
        """Facial action units (FACS) per face: probability 0-1, intensity 0-5."""
        return self._run("detect_action_units", arguments)

    def classify_expression(self, **arguments: Any) -> BaseModel:
        """Expression probabilities per face, appearance alone and fused with the AUs."""
        return self._run("classify_expression", arguments)

    def explain_emotion(self, **arguments: Any) -> BaseModel:
        """The reasoner's label-first explanation grounded in AUs, from an image or from given AUs."""
        return self._run("explain_emotion", arguments)

    def describe_action_unit(self, **arguments: Any) -> BaseModel:
        """FACS catalogue look-up: name, muscle, appearance, the expressions it supports or contradicts."""
        return self._run("describe_action_unit", arguments)

    def analyze_video(self, **arguments: Any) -> BaseModel:
        """A video summarised per tracked face: dominant expression, AU activation rates, peaks."""
        return self._run("analyze_video", arguments)

    def get_metadata_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> ToolMetadata | None:
        spec = TOOL_SPECS[fn_name]
        return ToolMetadata(name=spec.name, description=spec.description, fn_schema=spec.input_model)

    def to_tool_list(
        self,
        spec_functions: list[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """One FunctionTool per fea-agent tool (or per name in ``spec_functions``)."""
        names = spec_functions or self.spec_functions
        unknown = [n for n in names if not isinstance(n, str) or n not in TOOL_SPECS]
        if unknown:
            raise ValueError(f"unknown tools {unknown}; available: {', '.join(TOOL_SPECS)}")
        mapping = func_to_metadata_mapping or {}
        tools: list[FunctionTool] = []
        for name in names:
            tool = _FEAFunctionTool.from_defaults(
                fn=getattr(self, name),
                tool_metadata=mapping.get(name) or self.get_metadata_from_fn_name(name),
            )
            tool.include_image = self.include_image
            tools.append(tool)
        return tools


__all__ = ["FEAToolError", "FEAToolSpec"]
