"""Pictures out of tool results, for chat APIs that accept images only from the user.

OpenAI's chat API (and the many servers modelled on it: vLLM, LM Studio, Ollama's ``/v1``) refuses an image
part in a ``role: "tool"`` message with a 400 (langchain #31950); Anthropic and Gemini accept one. The annotated
picture of ``analyze_face`` and ``detect_faces`` reaches a tool result from the MCP server (langchain-mcp-adapters
turns its image content into an image block) or from ``FEAToolkit(include_image=True)``. Before each model call,
:class:`ToolImagesMiddleware` moves such images into one user message after the tool results (``"user"``, the
default), drops them (``"drop"``), or leaves them where they are (``"keep"``, for providers that take them). The
agent's state keeps the tool messages as the tools returned them; only what the model is sent changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AnyMessage, HumanMessage, ToolMessage

ToolImages = Literal["user", "drop", "keep"]

#: The text that introduces the moved pictures to the model.
PICTURES_NOTE = "The pictures the tool calls above returned (annotated by fea-agent), in the same order:"

_IMAGE_TYPES = frozenset({"image", "image_url"})


def _is_image(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in _IMAGE_TYPES


def _text_of(blocks: list[Any]) -> str | list[Any]:
    """What is left of a tool message's content without its images: a string when it is all text."""
    if all(isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text") for b in blocks):
        return "\n".join(b if isinstance(b, str) else b.get("text", "") for b in blocks)
    return blocks


def relocate_tool_images(messages: Sequence[AnyMessage], images: ToolImages = "user") -> list[AnyMessage]:
    """``messages`` with the images of tool results moved into a user message after each run of tool results
    (``"user"``), removed (``"drop"``), or unchanged (``"keep"``). Tool results must directly follow the
    assistant message that called them, so the user message comes after the whole run."""
    if images == "keep":
        return list(messages)
    out: list[AnyMessage] = []
    moved: list[Any] = []

    def flush() -> None:
        if moved:
            out.append(HumanMessage(content=[{"type": "text", "text": PICTURES_NOTE}, *moved]))
            moved.clear()

    for message in messages:
        if not isinstance(message, ToolMessage):
            flush()
            out.append(message)
            continue
        if isinstance(message.content, list) and any(_is_image(b) for b in message.content):
            kept = [b for b in message.content if not _is_image(b)]
            if images == "user":
                moved.extend(b for b in message.content if _is_image(b))
            message = message.model_copy(update={"content": _text_of(kept)})
        out.append(message)
    flush()
    return out


class ToolImagesMiddleware(AgentMiddleware):
    """``langchain.agents.create_agent`` middleware: what to do with images in tool results before each model
    call (see the module's docstring); ``create_fea_agent`` adds it with ``tool_images="user"``."""

    def __init__(self, images: ToolImages = "user") -> None:
        super().__init__()
        if images not in ("user", "drop", "keep"):
            raise ValueError(f"tool_images must be 'user', 'drop' or 'keep', got {images!r}")
        self.images: ToolImages = images

    def _request(self, request: ModelRequest) -> ModelRequest:
        return request.override(messages=relocate_tool_images(request.messages, self.images))

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        return handler(self._request(request))

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> ModelResponse:
        return await handler(self._request(request))


__all__ = ["PICTURES_NOTE", "ToolImages", "ToolImagesMiddleware", "relocate_tool_images"]
