"""The LangChain skin: FEAToolkit's tools pass the langchain-tests standard suites and analyse real photos."""

from __future__ import annotations

import base64

import pytest
from conftest import ASTRONAUT as ASTRONAUT_PATH
from conftest import NO_FACE, SAMPLES
from langchain_core.messages import ToolMessage
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from fea_agent.agent_tools import TOOL_SPECS
from fea_agent.agent_tools.analyze_face import FaceAnalysis
from fea_agent.integrations import _context
from fea_agent.integrations.langchain import (
    TOOL_CLASSES,
    AnalyzeFaceTool,
    DescribeActionUnitTool,
    DetectActionUnitsTool,
    FEAToolkit,
)

ASTRONAUT = str(ASTRONAUT_PATH)


@pytest.fixture(autouse=True)
def _share_the_session_pipeline(pipeline, monkeypatch):
    # Tools built without a pipeline use the process default: make it the session's, so models load once.
    monkeypatch.setattr(_context, "_default", pipeline)


def _call(tool, args: dict) -> ToolMessage:
    return tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})


# -- the standard suites ------------------------------------------------------------------------------------


class _Standard:
    tool_class: type = AnalyzeFaceTool
    example: dict = {"image": ASTRONAUT}  # noqa: RUF012

    @property
    def tool_constructor(self):
        return self.tool_class

    @property
    def tool_constructor_params(self) -> dict:
        return {"allowed_dirs": [str(SAMPLES)]}

    @property
    def tool_invoke_params_example(self) -> dict:
        return dict(self.example)


class TestAnalyzeFaceStandard(_Standard, ToolsUnitTests):
    pass


class _Integration(_Standard, ToolsIntegrationTests):
    # The suite's async tests carry no marker (and must not be overridden); pytest-asyncio is strict here.
    pytestmark = [  # noqa: RUF012
        pytest.mark.asyncio,
        pytest.mark.filterwarnings("ignore:.*marked with '@pytest.mark.asyncio' but it is not an async"),
    ]


class TestAnalyzeFaceIntegration(_Integration):
    pass


class TestDetectActionUnitsStandard(_Standard, ToolsUnitTests):
    tool_class = DetectActionUnitsTool
    example = {"image": ASTRONAUT, "present_only": True}  # noqa: RUF012


class TestDescribeActionUnitIntegration(_Integration):
    tool_class = DescribeActionUnitTool
    example = {"code": "AU12"}  # noqa: RUF012


@pytest.mark.parametrize("name", list(TOOL_SPECS))
def test_every_tool_is_the_shared_definition(name):
    tool = TOOL_CLASSES[name](allowed_dirs=[str(SAMPLES)])
    spec = TOOL_SPECS[name]
    assert (tool.name, tool.description, tool.args_schema) == (spec.name, spec.description, spec.input_model)
    assert tool.response_format == "content_and_artifact"
    assert tool.handle_tool_error is True


# -- behaviour on real photos -----------------------------------------------------------------------------


def test_toolkit_gives_the_mcp_tool_set():
    tools = FEAToolkit(allowed_dirs=[SAMPLES]).get_tools()
    assert [t.name for t in tools] == list(TOOL_SPECS)
    assert [t.name for t in FEAToolkit(tools="reasoning").get_tools()] == [
        "analyze_face",
        "explain_emotion",
        "describe_action_unit",
    ]
    with pytest.raises(ValueError, match="unknown tools"):
        FEAToolkit(tools=["read_minds"]).get_tools()


def test_analyze_face_on_the_astronaut_returns_text_and_typed_artifact():
    tool = AnalyzeFaceTool(allowed_dirs=[SAMPLES])
    message = _call(tool, {"image": ASTRONAUT})
    assert message.status == "success"
    assert isinstance(message.artifact, FaceAnalysis)
    face = message.artifact.faces[0]
    assert face.reasoning.label == "happiness"
    assert "AU12" in message.content and "happiness" in message.content
    assert face.landmarks == []  # not asked for: kept out of the model's context


def test_base64_image_works_without_any_allowed_folder():
    encoded = base64.b64encode(ASTRONAUT_PATH.read_bytes()).decode()
    message = _call(DetectActionUnitsTool(allowed_dirs=[]), {"image": encoded, "present_only": True})
    assert message.status == "success"
    codes = [a.code for a in message.artifact.faces[0].aus]
    assert "AU12" in codes and all(a.present for a in message.artifact.faces[0].aus)
    assert "AU12 Lip corner puller" in message.content


def test_include_image_adds_an_image_block():
    message = _call(AnalyzeFaceTool(allowed_dirs=[SAMPLES], include_image=True), {"image": ASTRONAUT})
    kinds = [block["type"] for block in message.content]
    assert kinds == ["text", "image"]
    assert base64.b64decode(message.content[1]["base64"])[:2] == b"\xff\xd8"


def test_no_face_is_said_in_words():
    message = _call(
        TOOL_CLASSES["explain_emotion"](allowed_dirs=[SAMPLES]),
        {"image": str(NO_FACE)},
    )
    assert message.status == "success"
    assert message.content == "no face found: nothing to explain"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"image": "/etc/hostname"}, "outside the allowed directories"),
        ({"image": "not base64!"}, "image"),
        ({"image": str(SAMPLES / "missing.jpg")}, "no such file"),
        ({"image": base64.b64encode(b"hello there").decode()}, "not an image"),
    ],
)
def test_bad_image_becomes_an_error_message_for_the_model(args, problem):
    message = _call(AnalyzeFaceTool(allowed_dirs=[SAMPLES]), args)
    assert message.status == "error"
    assert problem in message.content
    assert message.content.startswith("analyze_face: ")


def test_schema_violation_is_reported_not_raised():
    message = _call(AnalyzeFaceTool(allowed_dirs=[SAMPLES]), {"image": ASTRONAUT, "max_faces": 0})
    assert message.status == "error"
    assert message.content.startswith(
        "invalid arguments: max_faces: Input should be greater than or equal to 1"
    )
