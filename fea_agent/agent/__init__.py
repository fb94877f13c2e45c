"""The fea-agent agent: offline by default, a tool-calling LLM agent when given a chat model.

from fea_agent.agent import create_fea_agent
out = create_fea_agent().invoke({"image": "photo.jpg"})       # offline graph, no model
out["result"]  # ImageResult;  out["report"]  # readable text

agent = create_fea_agent("openai:gpt-4o-mini")                # LLM agent over the FEAToolkit tools
agent.invoke({"messages": [{"role": "user", "content": "How does the person in photo.jpg feel?"}]})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fea_agent.agent.prompts import OFFLINE_NOTE, SYSTEM_PROMPT

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from fea_agent.pipeline import FEAPipeline, PipelineOptions


def create_fea_agent(
    model: str | BaseChatModel | None = None,
    tools: Sequence[BaseTool] | None = None,
    *,
    pipeline: FEAPipeline | None = None,
    options: PipelineOptions | None = None,
    **kwargs: Any,
) -> Any:
    """The fea-agent agent.

    Args:
        model: None for the offline LangGraph graph (detect -> perceive -> reason -> report, no model needed);
            a LangChain chat model, or its name such as ``"openai:gpt-4o-mini"``, for the tool-calling agent.
        tools: for the LLM agent only: the tools to use; default the in-process ``FEAToolkit`` tools. Tools
            from the MCP server (:func:`fea_agent.agent.llm.load_mcp_tools`) behave the same.
        pipeline: the pipeline to run (shared, models loaded once); default a new one built from ``options``.
        options: pipeline options when no ``pipeline`` is given.
        kwargs: for the LLM agent, passed to ``langchain.agents.create_agent`` (e.g. ``checkpointer``).

    Returns:
        Offline: a compiled graph; ``invoke({"image": path})`` returns ``{"result": ImageResult, "report": str,
        "face_count": int}``. With a model: a ``create_agent`` graph taking ``{"messages": [...]}``.
    """
    if model is None:
        if tools is not None or kwargs:
            raise ValueError(
                "tools and agent options need a chat model: without one, create_fea_agent builds the offline "
                "graph, which calls the pipeline directly"
            )
        from fea_agent.agent.graph import build_graph

        return build_graph(pipeline if pipeline is not None else _pipeline(options))
    from fea_agent.agent.llm import create_llm_agent

    if tools is None and pipeline is None:
        pipeline = _pipeline(options)
    return create_llm_agent(model, tools, pipeline=pipeline, **kwargs)


def _pipeline(options: PipelineOptions | None) -> FEAPipeline:
    from fea_agent.pipeline import FEAPipeline

    return FEAPipeline(options)


__all__ = ["OFFLINE_NOTE", "SYSTEM_PROMPT", "create_fea_agent"]
