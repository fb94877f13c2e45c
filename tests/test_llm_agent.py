"""The tool-calling agent, driven by a scripted chat model that issues real tool calls against the real tools
(in-process FEAToolkit and a real stdio MCP server). The scripted model's final answer is built from the tool
results it reads, so the answer holds what the tools returned only if the tools really ran."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from conftest import ASTRONAUT as ASTRONAUT_PATH
from conftest import NEUTRAL_FACE, NO_FACE, SAMPLES, SERVER_ENV
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver

from fea_agent.agent import SYSTEM_PROMPT, create_fea_agent
from fea_agent.agent.tool_images import PICTURES_NOTE
from fea_agent.agent_tools import TOOL_SPECS
from fea_agent.integrations.langchain import FEAToolkit

ASTRONAUT = str(ASTRONAUT_PATH)
NO_FACE_PHOTO = str(NO_FACE)

Step = Callable[[list[BaseMessage]], AIMessage]


class ScriptedChatModel(BaseChatModel):
    """Plays ``steps`` in order, each a function of the conversation so far; records what it was shown."""

    steps: list[Any]
    seen: list[list[BaseMessage]] = []  # noqa: RUF012

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self  # the script decides which tools to call

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any):
        self.seen.append(list(messages))
        message = self.steps.pop(0)(messages)
        return ChatResult(generations=[ChatGeneration(message=message)])


def call(name: str, call_id: str = "call-1", **args: Any) -> Step:
    return lambda _: AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def _text(message: ToolMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "\n".join(b.get("text", "") for b in message.content if isinstance(b, dict))


def answer_from_tools(messages: list[BaseMessage]) -> AIMessage:
    """The final answer: what the tools of the last turn returned, quoted (the pictures they returned come
    after them in a user message, which ToolImagesMiddleware adds)."""
    results = []
    if isinstance(messages[-1], HumanMessage) and messages[-1].content[0].get("text") == PICTURES_NOTE:
        messages = messages[:-1]
    for m in reversed(messages):
        if not isinstance(m, ToolMessage):
            break
        results.insert(0, _text(m))
    return AIMessage(content="From the tools:\n" + "\n".join(results))


def _final(out: dict) -> str:
    return out["messages"][-1].content


@pytest.fixture(scope="module")
def toolkit_tools(pipeline):
    return FEAToolkit(pipeline=pipeline, allowed_dirs=[SAMPLES]).get_tools()


def test_agent_perceives_then_answers_with_what_the_tool_returned(toolkit_tools):
    model = ScriptedChatModel(steps=[call("analyze_face", image=ASTRONAUT), answer_from_tools])
    agent = create_fea_agent(model, toolkit_tools)
    out = agent.invoke({"messages": [HumanMessage(f"How does the person in {ASTRONAUT} feel?")]})
    tool_message = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert tool_message.name == "analyze_face" and tool_message.status == "success"
    assert tool_message.artifact.faces[0].reasoning.label == "happiness"
    answer = _final(out)
    assert "Happiness." in answer and "AU12" in answer
    assert answer.endswith(tool_message.content)
    first_turn = model.seen[0]
    assert isinstance(first_turn[0], SystemMessage) and first_turn[0].content == SYSTEM_PROMPT


def test_no_face_reaches_the_answer(toolkit_tools):
    model = ScriptedChatModel(steps=[call("analyze_face", image=NO_FACE_PHOTO), answer_from_tools])
    out = create_fea_agent(model, toolkit_tools).invoke({"messages": [HumanMessage("Who is in this photo?")]})
    assert "no face found" in _final(out)


def test_bad_input_reaches_the_model_as_an_error_it_can_relay(toolkit_tools):
    model = ScriptedChatModel(steps=[call("analyze_face", image="/etc/hostname"), answer_from_tools])
    out = create_fea_agent(model, toolkit_tools).invoke({"messages": [HumanMessage("Analyse /etc/hostname")]})
    assert "outside the allowed directories" in _final(out)


def test_follow_up_compares_two_photos_au_by_au(toolkit_tools):
    neutral, smiling = str(NEUTRAL_FACE), ASTRONAUT

    def both(_: list[BaseMessage]) -> AIMessage:
        calls = [
            {"name": "detect_action_units", "args": {"image": p, "present_only": True}, "id": f"au-{i}"}
            for i, p in enumerate((neutral, smiling))
        ]
        return AIMessage(content="", tool_calls=calls)

    model = ScriptedChatModel(
        steps=[
            call("analyze_face", image=ASTRONAUT),
            answer_from_tools,
            both,
            answer_from_tools,
        ]
    )
    agent = create_fea_agent(model, toolkit_tools, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t1"}}
    agent.invoke({"messages": [HumanMessage(f"What does {ASTRONAUT} show?")]}, thread)
    out = agent.invoke(
        {"messages": [HumanMessage("Which AUs changed between lisa1 and the astronaut?")]}, thread
    )
    # The second turn saw the first turn's messages (memory), and both photos were measured.
    assert any(isinstance(m, ToolMessage) and m.name == "analyze_face" for m in model.seen[2])
    answer = _final(out)
    assert "webmorph_lisa_lisa1.jpg" in answer and "skimage_astronaut.png" in answer
    assert answer.count("present:") == 2


def test_model_by_name_needs_its_provider_package():
    from fea_agent.errors import BackendUnavailableError

    # langchain-openai is a test dependency; LangChain's Mistral provider package is not installed anywhere.
    assert importlib.util.find_spec("langchain_mistralai") is None
    with pytest.raises(BackendUnavailableError, match="provider package"):
        create_fea_agent("mistralai:mistral-small-latest", [])


# -- the same, with the tools loaded from a real stdio MCP server ------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.slow
async def test_agent_with_tools_from_the_stdio_mcp_server():
    if importlib.util.find_spec("fea_agent.mcp.server") is None:
        pytest.skip("the MCP server module fea_agent.mcp.server does not exist yet")
    from fea_agent.agent.llm import open_mcp_tools

    env = SERVER_ENV
    async with open_mcp_tools(allowed_dirs=[SAMPLES], extra_args=["--workers", "1"], env=env) as tools:
        assert sorted(t.name for t in tools) == sorted(TOOL_SPECS)
        model = ScriptedChatModel(steps=[call("analyze_face", image=ASTRONAUT), answer_from_tools])
        agent = create_fea_agent(model, tools)
        out = await agent.ainvoke({"messages": [HumanMessage(f"How does the person in {ASTRONAUT} feel?")]})
    tool_message = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert tool_message.name == "analyze_face" and tool_message.status == "success"
    # The server's annotated picture reached the model as a user message after the tool result.
    shown = model.seen[-1]
    assert isinstance(shown[-1], HumanMessage) and shown[-1].content[1]["type"] == "image"
    answer = _final(out)
    assert "happiness" in answer.lower() and "AU12" in answer
