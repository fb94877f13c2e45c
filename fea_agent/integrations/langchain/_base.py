"""The base of every fea-agent LangChain tool: a thin skin over one :data:`fea_agent.agent_tools.TOOL_SPECS`
entry (name, description and ``args_schema`` come from there, not from here)."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, PrivateAttr

from fea_agent.agent_tools import ImagePolicy, ToolContext, ToolSpec, render_output
from fea_agent.errors import FEAError, describe_error, describe_validation
from fea_agent.integrations._context import make_context, make_policy

log = logging.getLogger(__name__)


class FEABaseTool(BaseTool):
    """A fea-agent tool for LangChain. Returns ``(readable text, typed result)``: the text is what the model
    reads; the typed result (a pydantic model) is the ToolMessage's ``artifact``. Any failure (bad input, or
    an unexpected error in a backend) becomes a ToolException whose message names the problem, handed to the
    model as the tool's answer, so the agent run goes on.

    Args:
        pipeline: the :class:`~fea_agent.pipeline.FEAPipeline` to run (default: one shared per process).
        allowed_dirs: folders the ``image`` argument may name files in; default the current working
            directory; ``[]`` accepts only base64 and data URIs.
        include_image: also put the annotated picture into the content as an image block (for chat models
            that accept images in tool results).
    """

    spec: ClassVar[ToolSpec]

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Any = True
    handle_validation_error: bool | str | Any = Field(default_factory=lambda: describe_validation)
    pipeline: Any = None
    allowed_dirs: list[str] | None = None
    include_image: bool = False

    _context: ToolContext | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__doc__ = f"{cls.spec.summary} The agent tool ``{cls.spec.name}`` for LangChain."

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
            result = self.spec.call(self.context, kwargs)
        except Exception as exc:
            if not isinstance(exc, FEAError):
                log.exception("tool %s failed", self.name)
            raise ToolException(f"{self.name}: {describe_error(exc)}") from exc
        # A picture the call asked for (analyze_video's chart) is sent even when annotated ones are not.
        asked = bool(kwargs.get("chart"))
        output, picture = result.output, result.image if self.include_image or asked else None
        text = render_output(output)
        if picture is None:
            return text, output
        data = base64.b64encode(picture.data).decode("ascii")
        image_block = {"type": "image", "base64": data, "mime_type": picture.mime_type}
        return [{"type": "text", "text": text}, image_block], output
