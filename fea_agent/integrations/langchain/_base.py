"""The base of every fea-agent LangChain tool: a thin skin over one :data:`fea_agent.agent_tools.TOOL_SPECS`
entry (name, description and ``args_schema`` come from there, not from here)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from fea_agent.agent_tools import ImagePolicy, ToolContext, ToolSpec, annotated_image
from fea_agent.errors import FEAError
from fea_agent.integrations._content import render_output
from fea_agent.integrations._context import make_context, make_policy


def _validation_message(exc: ValidationError) -> str:
    """Arguments that break the schema, named field by field, for the model to correct its call."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )
    return f"invalid arguments: {problems}"


class FEABaseTool(BaseTool):
    """A fea-agent tool for LangChain. Returns ``(readable text, typed result)``: the text is what the model
    reads; the typed result (a pydantic model) is the ToolMessage's ``artifact``. Bad input becomes a
    ToolException whose message names the problem, handed to the model as the tool's answer.

    Args:
        pipeline: the :class:`~fea_agent.pipeline.FEAPipeline` to run (default: one shared per process).
        allowed_dirs: folders the ``image`` argument may name files in; default the current working
            directory; ``[]`` accepts only base64 and data URIs.
        include_image: also put the annotated picture into the content as an image block (for chat models
            that accept images in tool results); it is always in the artifact.
    """

    spec: ClassVar[ToolSpec]

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Any = True
    handle_validation_error: bool | str | Any = Field(default_factory=lambda: _validation_message)
    pipeline: Any = None
    allowed_dirs: list[str] | None = None
    include_image: bool = False

    _context: ToolContext | None = PrivateAttr(default=None)

    def __init__(
        self,
        pipeline: Any = None,
        allowed_dirs: Iterable[str | os.PathLike[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        dirs = None if allowed_dirs is None else [str(d) for d in allowed_dirs]
        spec = {
            "name": self.spec.name,
            "description": self.spec.description,
            "args_schema": self.spec.input_model,
        }
        super().__init__(**{**spec, **kwargs}, pipeline=pipeline, allowed_dirs=dirs)
        self._policy: ImagePolicy = make_policy(dirs)  # checked now: a missing folder fails at construction

    @property
    def context(self) -> ToolContext:
        """The pipeline and policy the tool runs with (the pipeline loads on first use)."""
        if self._context is None:
            self._context = make_context(self.pipeline, self._policy)
        return self._context

    def _run(self, *args: Any, run_manager: Any = None, **kwargs: Any) -> tuple[Any, BaseModel]:
        try:
            output = self.spec.run(self.context, kwargs)
        except FEAError as exc:
            raise ToolException(f"{self.name}: {exc}") from exc
        text = render_output(output)
        picture = annotated_image(output) if self.include_image else None
        if picture is None:
            return text, output
        data, mime = picture
        image_block = {"type": "image", "base64": base64.b64encode(data).decode("ascii"), "mime_type": mime}
        return [{"type": "text", "text": text}, image_block], output
