"""The tool-calling agent: a LangChain chat model with the fea-agent tools (in-process or over MCP).

The model gets :data:`~fea_agent.agent.prompts.SYSTEM_PROMPT` (perceive first, cite AUs, say when no face was
found) and either the in-process :class:`~fea_agent.integrations.langchain.FEAToolkit` tools or the same tools
loaded from the fea-agent MCP server with langchain-mcp-adapters; both carry the same names and schemas.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fea_agent.agent.prompts import SYSTEM_PROMPT
from fea_agent.errors import BackendUnavailableError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

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
    **kwargs: Any,
) -> Any:
    """A ``langchain.agents.create_agent`` graph over the fea-agent tools.

    Args:
        model: a chat model that supports tool calling, or its LangChain name (``"openai:gpt-4o-mini"``).
        tools: the tools to give it; default ``FEAToolkit(pipeline).get_tools()``. Tools loaded from the MCP
            server (:func:`load_mcp_tools`) work too; they are async, so call the agent with ``ainvoke``.
        pipeline: the pipeline the default tools use (shared, not copied).
        system_prompt: replaces :data:`SYSTEM_PROMPT`.
        kwargs: passed to ``create_agent`` (``checkpointer`` for multi-turn memory, ``middleware``, ...).

    Returns:
        The compiled agent: ``agent.invoke({"messages": [{"role": "user", "content": "..."}]})``.
    """
    from langchain.agents import create_agent

    if tools is None:
        from fea_agent.integrations.langchain import FEAToolkit

        tools = FEAToolkit(pipeline=pipeline).get_tools()
    kwargs.setdefault("name", "fea-agent")
    return create_agent(resolve_chat_model(model), list(tools), system_prompt=system_prompt, **kwargs)


def mcp_server_command() -> tuple[str, list[str]]:
    """How to start the fea-agent MCP server over stdio: the console script, or this Python running the CLI."""
    script = shutil.which("fea-agent")
    if script:
        return script, ["serve", "mcp"]
    code = "import sys; from fea_agent.cli import main; sys.exit(main())"
    return sys.executable, ["-c", code, "serve", "mcp"]


async def load_mcp_tools(
    connection: dict[str, Any] | None = None, *, env: dict[str, str] | None = None
) -> list[BaseTool]:
    """The fea-agent tools served by an MCP server, as LangChain tools (via langchain-mcp-adapters).

    Args:
        connection: a langchain-mcp-adapters connection, e.g. ``{"transport": "streamable_http",
            "url": "http://host:8000/mcp"}``; default: start ``fea-agent serve mcp`` over stdio.
        env: environment for a stdio server (default: this process's), e.g. to set the allowed image folders.
    """
    from langchain_mcp_adapters.client import MultiServerMCPClient

    if connection is None:
        command, args = mcp_server_command()
        connection = {"transport": "stdio", "command": command, "args": args, "env": env or dict(os.environ)}
    client = MultiServerMCPClient({"fea-agent": connection})
    return await client.get_tools()
