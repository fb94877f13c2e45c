"""Agents on hosted models: the annotated picture reaches an OpenAI-style API the way it accepts images (in a
user message), never inside a tool result, which such an API refuses with a 400. Driven against a loopback
server that enforces OpenAI's message rules (tests/openai_rules.py) with the real chat-model clients of
LangChain (langchain-openai) and LlamaIndex (llama-index-llms-openai)."""

from __future__ import annotations

import asyncio

import openai
import pytest
from conftest import ASTRONAUT, SAMPLES, SERVER_ENV
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from openai_rules import OpenAIRulesServer, rule_violation

from fea_agent.agent import create_fea_agent
from fea_agent.agent.tool_images import PICTURES_NOTE, relocate_tool_images
from fea_agent.integrations.langchain import FEAToolkit

QUESTION = f"How does the person in {ASTRONAUT} feel?"
IMAGE = {"type": "image", "base64": "/9j/AAAA", "mime_type": "image/jpeg"}


def _chat(server: OpenAIRulesServer):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="gpt-4o-mini", base_url=server.url, api_key="sk-test", max_retries=0)


def _image_parts(messages: list[dict]) -> list[tuple[str, int]]:
    return [
        (m["role"], i)
        for i, m in enumerate(messages)
        for p in (m["content"] if isinstance(m.get("content"), list) else [])
        if isinstance(p, dict) and p.get("type") == "image_url"
    ]


def test_the_rule_server_refuses_what_openai_refuses():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    image = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}
    assert rule_violation([{"role": "user", "content": [image]}]) is None
    assert "role 'tool' contains an image URL" in rule_violation(
        [
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": [image]},
        ]
    )
    assert "did not have response messages" in rule_violation(
        [{"role": "assistant", "tool_calls": [call]}, {"role": "user", "content": "hi"}]
    )


def test_relocation_moves_images_after_the_run_of_tool_results():
    calls = [{"name": "t", "args": {}, "id": i} for i in ("a", "b")]
    messages = [
        HumanMessage("look"),
        AIMessage("", tool_calls=calls),
        ToolMessage([{"type": "text", "text": "one"}, IMAGE], tool_call_id="a"),
        ToolMessage("two", tool_call_id="b"),
    ]
    moved = relocate_tool_images(messages, "user")
    assert [type(m).__name__ for m in moved] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "ToolMessage",
        "HumanMessage",
    ]
    assert moved[2].content == "one" and moved[4].content == [{"type": "text", "text": PICTURES_NOTE}, IMAGE]
    assert [type(m).__name__ for m in relocate_tool_images(messages, "drop")][-1] == "ToolMessage"
    assert relocate_tool_images(messages, "keep")[2].content[1] == IMAGE
    assert messages[2].content[1] == IMAGE  # the agent's own state is not changed


def test_langchain_agent_with_pictures_in_tool_results(pipeline):
    tools = FEAToolkit(pipeline=pipeline, allowed_dirs=[SAMPLES], include_image=True).get_tools()
    with OpenAIRulesServer() as server:
        out = create_fea_agent(_chat(server), tools).invoke({"messages": [("user", QUESTION)]})
        assert server.refusals == []
        final = server.requests[-1]
        assert [role for role, _ in _image_parts(final)] == ["user"]  # the picture, after the tool result
        assert final[-1]["role"] == "user" and final[-2]["role"] == "tool"
        assert "happiness" in out["messages"][-1].content and "AU12" in out["messages"][-1].content
        # The agent's own history keeps the picture in the tool result, as the tool returned it.
        tool_message = next(m for m in out["messages"] if isinstance(m, ToolMessage))
        assert [b["type"] for b in tool_message.content] == ["text", "image"]

    with OpenAIRulesServer() as server:  # sent as the tool returned it, OpenAI's rule refuses the call
        agent = create_fea_agent(_chat(server), tools, tool_images="keep")
        with pytest.raises(openai.BadRequestError, match="only allowed for messages with role 'user'"):
            agent.invoke({"messages": [("user", QUESTION)]})


@pytest.mark.slow
def test_langchain_agent_over_the_mcp_server(tmp_path):
    from fea_agent.agent.llm import open_mcp_tools

    async def run(server: OpenAIRulesServer) -> dict:
        async with open_mcp_tools(
            allowed_dirs=[SAMPLES], extra_args=["--workers", "1"], env=SERVER_ENV
        ) as tools:
            return await create_fea_agent(_chat(server), tools).ainvoke({"messages": [("user", QUESTION)]})

    with OpenAIRulesServer() as server:
        out = asyncio.run(run(server))
        assert server.refusals == []
        assert [role for role, _ in _image_parts(server.requests[-1])] == ["user"]
        assert "happiness" in out["messages"][-1].content


@pytest.mark.slow
def test_llama_index_agent_sends_the_tool_text_and_no_tool_image(pipeline):
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.llms.openai import OpenAI

    from fea_agent.integrations.llama_index import FEAToolSpec

    tools = FEAToolSpec(pipeline, allowed_dirs=[SAMPLES]).to_tool_list(["analyze_face"])
    with OpenAIRulesServer() as server:
        llm = OpenAI(model="gpt-4o-mini", api_base=server.url, api_key="sk-test", max_retries=0)
        agent = FunctionAgent(tools=tools, llm=llm, streaming=False)

        async def run() -> object:
            return await agent.run(user_msg=QUESTION)

        answer = asyncio.run(run())
        assert server.refusals == []
        assert (
            _image_parts(server.requests[-1]) == []
        )  # LlamaIndex's OpenAI client sends tool results as text
        assert "happiness" in str(answer) and "AU12" in str(answer)
