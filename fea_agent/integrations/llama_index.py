"""LlamaIndex tools for fea-agent: ``FEAToolSpec().to_tool_list()``.

The same tools as the MCP server and the LangChain toolkit (names, descriptions, argument schemas and
summaries come from :data:`fea_agent.agent_tools.TOOL_SPECS`). Each call's ``ToolOutput`` holds readable text
for the model, the annotated picture as an ``ImageBlock`` (LlamaIndex's McpToolSpec would flatten it to text),
and the typed pydantic result as ``raw_output``. Any failure is raised as :class:`FEAToolError`, whose message
names the problem; LlamaIndex's agents hand it to the model as the tool's answer and go on.

    from llama_index.core.agent.workflow import FunctionAgent
    agent = FunctionAgent(tools=FEAToolSpec(allowed_dirs=["photos"]).to_tool_list(), llm=llm)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from llama_index.core.base.llms.types import ContentBlock, ImageBlock, TextBlock
from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec

from fea_agent.agent_tools import TOOL_SPECS, ToolContext, ToolResult, render_output
from fea_agent.errors import FEAError, describe_error
from fea_agent.integrations._context import make_context, make_policy

log = logging.getLogger(__name__)


class FEAToolError(FEAError, ValueError):
    """A tool call LlamaIndex reports back to the model; the message names the problem."""


class _FEAFunctionTool(FunctionTool):
    """A FunctionTool over one agent tool: its :class:`ToolResult` becomes a text block plus, where the tool
    drew one, an image block; ``raw_output`` is the typed output."""

    include_image: bool = True

    def _parse_tool_output(self, raw_output: Any) -> list[ContentBlock]:
        if not isinstance(raw_output, ToolResult):
            return super()._parse_tool_output(raw_output)
        blocks: list[ContentBlock] = [TextBlock(text=render_output(raw_output.output))]
        if self.include_image and raw_output.image is not None:
            blocks.append(ImageBlock(image=raw_output.image.data, image_mimetype=raw_output.image.mime_type))
        return blocks

    @staticmethod
    def _typed(output: ToolOutput) -> ToolOutput:
        if isinstance(output.raw_output, ToolResult):
            output.raw_output = output.raw_output.output
        return output

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return self._typed(super().call(*args, **kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return self._typed(await super().acall(*args, **kwargs))


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

    def call(self, name: str, **arguments: Any) -> ToolResult:
        """Run the agent tool ``name``; any failure is an :class:`FEAToolError` naming the problem."""
        try:
            return TOOL_SPECS[name].call(self.context, arguments)
        except Exception as exc:
            if not isinstance(exc, FEAError):
                log.exception("tool %s failed", name)
            raise FEAToolError(f"{name}: {describe_error(exc)}") from exc

    def __getattr__(self, name: str) -> Callable[..., ToolResult]:
        """``spec.analyze_face(image=...)``: each tool as a method, as LlamaIndex tool specs have them."""
        if name in TOOL_SPECS:
            return self._function(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _function(self, name: str) -> Callable[..., ToolResult]:
        def run(**arguments: Any) -> ToolResult:
            return self.call(name, **arguments)

        run.__name__ = name
        run.__doc__ = TOOL_SPECS[name].summary
        return run

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
            assert isinstance(name, str)
            tool = _FEAFunctionTool.from_defaults(
                fn=self._function(name),
                tool_metadata=mapping.get(name) or self.get_metadata_from_fn_name(name),
            )
            tool.include_image = self.include_image
            tools.append(tool)
        return tools


__all__ = ["FEAToolError", "FEAToolSpec"]
