"""The tool-calling agent: a LangChain chat model with the fea-agent tools (in-process or over MCP).

The model gets :data:`~fea_agent.agent.prompts.SYSTEM_PROMPT` (perceive first, cite AUs, say when no face was
found) and either the in-process :class:`~fea_agent.integrations.langchain.FEAToolkit` tools or the same tools
loaded from the fea-agent MCP server with langchain-mcp-adapters; both carry the same names and schemas.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fea_agent.agent.prompts import SYSTEM_PROMPT
from fea_agent.errors import BackendUnavailableError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from fea_agent.agent.tool_images import ToolImages
    from fea_agent.pipeline import FEAPipeline

#: Environment variables read by :func:`chat_model_from_env`.
LLM_ENV = "FEA_AGENT_LLM"
BASE_URL_ENV = "FEA_AGENT_LLM_BASE_URL"
API_KEY_ENV = "FEA_AGENT_LLM_API_KEY"


def resolve_chat_model(model: str | BaseChatModel, **kwargs: Any) -> BaseChatModel:
    """A chat model object from a LangChain ``provider:model`` name, or the object itself."""
    if not isinstance(model, str):
        return model
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(model, **kwargs)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"chat model {model!r} needs its LangChain provider package: {exc}"
        ) from exc


def chat_model_from_env() -> BaseChatModel | None:
    """The chat model configured by the environment, or None when none is.

    ``FEA_AGENT_LLM``: a LangChain model name, e.g. ``openai:gpt-4o-mini`` or ``ollama:llama3.1``.
    ``FEA_AGENT_LLM_BASE_URL`` (optional): an OpenAI-compatible endpoint (vLLM, Ollama's ``/v1``, LM Studio);
    a bare model name then means ``openai:<name>`` at that URL. ``FEA_AGENT_LLM_API_KEY`` (optional) is its key.
    """
    name = os.environ.get(LLM_ENV, "").strip()
    if not name:
        return None
    kwargs: dict[str, Any] = {}
    base_url = os.environ.get(BASE_URL_ENV, "").strip()
    if base_url:
        if ":" not in name:
            name = f"openai:{name}"
        kwargs["base_url"] = base_url
        # OpenAI-compatible local servers accept any key, but the client insists on one.
        kwargs["api_key"] = os.environ.get(API_KEY_ENV) or os.environ.get("OPENAI_API_KEY") or "not-needed"
    elif os.environ.get(API_KEY_ENV):
        kwargs["api_key"] = os.environ[API_KEY_ENV]
    return resolve_chat_model(name, **kwargs)


def create_llm_agent(
    model: str | BaseChatModel,
    tools: Sequence[BaseTool] | None = None,
    *,
    pipeline: FEAPipeline | None = None,
    system_prompt: str = SYSTEM_PROMPT,
    tool_images: ToolImages = "user",
    **kwargs: Any,
) -> Any:
    """A ``langchain.agents.create_agent`` graph over the fea-agent tools.

    Args:
        model: a chat model that supports tool calling, or its LangChain name (``"openai:gpt-4o-mini"``).
        tools: the tools to give it; default ``FEAToolkit(pipeline).get_tools()``. Tools loaded from the MCP
            server (:func:`load_mcp_tools`) work too; they are async, so call the agent with ``ainvoke``.
        pipeline: the pipeline the default tools use (shared, not copied).
        system_prompt: replaces :data:`SYSTEM_PROMPT`.
        tool_images: pictures in tool results (the MCP server's annotated image, ``include_image=True``):
            ``"user"`` sends them to the model in a user message after the tool results (what OpenAI-style
            APIs accept), ``"drop"`` leaves them out, ``"keep"`` sends them inside the tool results (Anthropic,
            Gemini). See :mod:`fea_agent.agent.tool_images`.
        kwargs: passed to ``create_agent`` (``checkpointer`` for multi-turn memory, ``middleware``, ...).

    Returns:
        The compiled agent: ``agent.invoke({"messages": [{"role": "user", "content": "..."}]})``.
    """
    from langchain.agents import create_agent

    if tools is None:
        from fea_agent.integrations.langchain import FEAToolkit

        tools = FEAToolkit(pipeline=pipeline).get_tools()
    from fea_agent.agent.tool_images import ToolImagesMiddleware

    kwargs.setdefault("name", "fea-agent")
    middleware = [ToolImagesMiddleware(tool_images), *kwargs.pop("middleware", ())]
    return create_agent(
        resolve_chat_model(model), list(tools), system_prompt=system_prompt, middleware=middleware, **kwargs
    )


def mcp_server_command(
    allowed_dirs: Sequence[str | os.PathLike[str]] = (), extra_args: Sequence[str] = ()
) -> tuple[str, list[str]]:
    """How to start the fea-agent MCP server over stdio (``python -m fea_agent serve mcp``), reading image
    files under ``allowed_dirs``; ``extra_args`` go to ``fea-agent serve mcp`` (e.g. ``["--workers", "1"]``)."""
    args = ["-m", "fea_agent", "serve", "mcp"]
    for folder in allowed_dirs:
        args += ["--allow-dir", str(folder)]
    return sys.executable, [*args, *extra_args]


def _connection(
    connection: dict[str, Any] | None,
    allowed_dirs: Sequence[str | os.PathLike[str]],
    extra_args: Sequence[str],
    env: dict[str, str] | None,
) -> dict[str, Any]:
    if connection is not None:
        return connection
    command, args = mcp_server_command(allowed_dirs, extra_args)
    return {"transport": "stdio", "command": command, "args": args, "env": env or dict(os.environ)}


async def load_mcp_tools(
    connection: dict[str, Any] | None = None,
    *,
    allowed_dirs: Sequence[str | os.PathLike[str]] = (),
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> list[BaseTool]:
    """The fea-agent tools served by an MCP server, as LangChain tools (via langchain-mcp-adapters).

    Each call of a returned tool opens its own session (for stdio: starts a server, which loads the models);
    for a conversation, prefer :func:`open_mcp_tools`, which keeps one session open.

    Args:
        connection: a langchain-mcp-adapters connection, e.g. ``{"transport": "streamable_http",
            "url": "http://host:8765/mcp", "headers": {"Authorization": "Bearer ..."}}``; default: start
            ``fea-agent serve mcp`` over stdio with this Python.
        allowed_dirs: for the default stdio server: folders it may read image files from.
        extra_args: for the default stdio server: more ``fea-agent serve mcp`` options.
        env: for the default stdio server: its environment (default: this process's).
    """
    from langchain_mcp_adapters.client import MultiServerMCPClient

    client = MultiServerMCPClient({"fea-agent": _connection(connection, allowed_dirs, extra_args, env)})
    return await client.get_tools()


@asynccontextmanager
async def open_mcp_tools(
    connection: dict[str, Any] | None = None,
    *,
    allowed_dirs: Sequence[str | os.PathLike[str]] = (),
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> AsyncIterator[list[BaseTool]]:
    """Like :func:`load_mcp_tools`, over one session kept open for the ``async with`` block::

    async with open_mcp_tools(allowed_dirs=["photos"]) as tools:
        agent = create_fea_agent("openai:gpt-4o-mini", tools)
        await agent.ainvoke({"messages": [...]})
    """
    from langchain_mcp_adapters.client import MultiServerMCPClient
    from langchain_mcp_adapters.tools import load_mcp_tools as adapter_tools

    client = MultiServerMCPClient({"fea-agent": _connection(connection, allowed_dirs, extra_args, env)})
    async with client.session("fea-agent") as session:
        yield await adapter_tools(session, server_name="fea-agent")
