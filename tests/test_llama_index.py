"""The LlamaIndex skin: FEAToolSpec's tools, called directly and by a FunctionAgent driven by LlamaIndex's mock
function-calling LLM, on real photos."""

from __future__ import annotations

import base64

import pytest
from conftest import ASTRONAUT as ASTRONAUT_PATH
from conftest import SAMPLES
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.llms import MockFunctionCallingLLM

from fea_agent.agent_tools import TOOL_SPECS
from fea_agent.agent_tools.analyze_face import FaceAnalysis
from fea_agent.integrations.llama_index import FEAToolError, FEAToolSpec

ASTRONAUT = str(ASTRONAUT_PATH)


@pytest.fixture(scope="module")
def spec(pipeline) -> FEAToolSpec:
    return FEAToolSpec(pipeline, allowed_dirs=[SAMPLES])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_tool_list_is_the_shared_definition(spec):
    tools = spec.to_tool_list()
    assert [t.metadata.name for t in tools] == list(TOOL_SPECS)
    for tool in tools:
        shared = TOOL_SPECS[tool.metadata.name]
        assert tool.metadata.description == shared.description
        assert tool.metadata.fn_schema is shared.input_model
    assert [t.metadata.name for t in spec.to_tool_list(["describe_action_unit"])] == ["describe_action_unit"]
    with pytest.raises(ValueError, match="unknown tools"):
        spec.to_tool_list(["read_minds"])


def test_analyze_face_output_has_text_image_block_and_typed_result(spec):
    (tool,) = spec.to_tool_list(["analyze_face"])
    output = tool.call(image=ASTRONAUT)
    text, image = output.blocks
    assert isinstance(text, TextBlock) and "happiness" in text.text and "AU12" in text.text
    assert isinstance(image, ImageBlock) and image.image_mimetype == "image/jpeg"
    assert base64.b64decode(image.image)[:2] == b"\xff\xd8"  # LlamaIndex keeps image bytes base64-encoded
    assert isinstance(output.raw_output, FaceAnalysis)
    assert output.raw_output.faces[0].reasoning.label == "happiness"


def test_base64_input_and_no_image_block_when_not_wanted(pipeline):
    (tool,) = FEAToolSpec(pipeline, allowed_dirs=[], include_image=False).to_tool_list(["analyze_face"])
    encoded = base64.b64encode(ASTRONAUT_PATH.read_bytes()).decode()
    output = tool.call(image=encoded)
    assert [type(b) for b in output.blocks] == [TextBlock]
    assert output.raw_output.faces[0].expression.label == "happiness"


def test_bad_input_raises_an_error_naming_the_problem(spec):
    with pytest.raises(FEAToolError, match=r"analyze_face: .*outside the allowed directories"):
        spec.analyze_face(image="/etc/hostname")


def _script(call_args: dict):
    """LLM turns: first call analyze_face, then answer with the text the tool returned."""

    def respond(messages, **kwargs) -> ChatMessage:
        results = [m for m in messages if m.role == MessageRole.TOOL]
        if not results:
            block = ToolCallBlock(tool_call_id="call-1", tool_name="analyze_face", tool_kwargs=call_args)
            return ChatMessage(role=MessageRole.ASSISTANT, blocks=[block])
        said = "\n".join(b.text for b in results[-1].blocks if isinstance(b, TextBlock))
        return ChatMessage(role=MessageRole.ASSISTANT, content="From the tools:\n" + said)

    return respond


@pytest.mark.anyio
async def test_function_agent_analyses_the_astronaut(spec):
    llm = MockFunctionCallingLLM(response_generator=_script({"image": ASTRONAUT}))
    agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm, system_prompt="Perceive before reasoning.")
    handler = agent.run(user_msg=f"How does the person in {ASTRONAUT} feel?")
    response = await handler
    calls = response.tool_calls
    assert [c.tool_name for c in calls] == ["analyze_face"]
    assert not calls[0].tool_output.is_error
    assert calls[0].tool_output.raw_output.faces[0].reasoning.label == "happiness"
    answer = str(response.response.content)
    assert "Happiness." in answer and "AU12" in answer


@pytest.mark.anyio
async def test_function_agent_relays_a_bad_input_error(spec):
    llm = MockFunctionCallingLLM(response_generator=_script({"image": "/etc/hostname"}))
    agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm)
    response = await agent.run(user_msg="Analyse /etc/hostname")
    assert response.tool_calls[0].tool_output.is_error
    assert "outside the allowed directories" in str(response.response.content)
