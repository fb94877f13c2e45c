"""The one error route: ``describe_error`` gives every skin its words, and every skin answers a backend's
unexpected RuntimeError (as torch or onnxruntime raise them) with a message and goes on with the next call.

The failing backend is a real one registered the way docs/backends.md describes (tests/raising_backend.py)."""

from __future__ import annotations

import base64
import json

import anyio
import pytest
from conftest import ASTRONAUT, SAMPLES
from pydantic import BaseModel, Field, ValidationError
from raising_backend import MESSAGE, FlakyAppearance, ensure_registered

from fea_agent.errors import InvalidInputError, describe_error

EXPECTED = f"internal error: RuntimeError: {MESSAGE}"


def test_describe_error_words():
    assert describe_error(InvalidInputError("photo.jpg: not an image")) == "photo.jpg: not an image"
    assert describe_error(RuntimeError(MESSAGE + "\nframe 12 of the traceback")) == EXPECTED
    assert describe_error(KeyError()) == "internal error: KeyError"

    class Args(BaseModel):
        max_faces: int = Field(ge=1)

    with pytest.raises(ValidationError) as caught:
        Args(max_faces=0)
    assert describe_error(caught.value) == (
        "invalid arguments: max_faces: Input should be greater than or equal to 1"
    )


@pytest.fixture(scope="module")
def flaky_pipeline():
    from fea_agent import FEAPipeline

    ensure_registered()
    with FEAPipeline(appearance="flaky") as pipeline:
        yield pipeline


@pytest.fixture(autouse=True)
def _no_failures_left():
    yield
    FlakyAppearance.failures = 0


def _fail_once() -> None:
    FlakyAppearance.failures = 1


def test_registered_backend_is_a_choice_everywhere(flaky_pipeline):
    from fea_agent.backends.registry import names
    from fea_agent.cli import build_parser

    assert "flaky" in names("appearance")
    assert flaky_pipeline.options.appearance == "flaky"
    args = build_parser().parse_args(["analyze", str(ASTRONAUT), "--appearance", "flaky"])
    assert args.appearance == "flaky"


def test_python_api_raises_and_the_pipeline_goes_on(flaky_pipeline):
    _fail_once()
    with pytest.raises(RuntimeError, match="illegal memory access"):
        flaky_pipeline.analyze(ASTRONAUT)
    assert flaky_pipeline.analyze(ASTRONAUT).faces[0].label == "happiness"


def test_mcp_answers_with_an_error_result_and_keeps_serving(flaky_pipeline):
    from mcp.shared.memory import create_connected_server_and_client_session

    from fea_agent.agent_tools import ImagePolicy
    from fea_agent.mcp import Runtime, build_server

    runtime = Runtime(policy=ImagePolicy.allowing(SAMPLES), pipelines=[flaky_pipeline])
    server = build_server(runtime)._mcp_server

    async def calls() -> tuple:
        async with create_connected_server_and_client_session(server) as session:
            _fail_once()
            failed = await session.call_tool("analyze_face", {"image": str(ASTRONAUT), "annotate": False})
            ok = await session.call_tool("analyze_face", {"image": str(ASTRONAUT), "annotate": False})
            return failed, ok

    failed, ok = anyio.run(calls)
    assert failed.isError and failed.content[0].text == f"Error executing tool analyze_face: {EXPECTED}"
    assert not ok.isError and ok.structuredContent["faces"][0]["reasoning"]["label"] == "happiness"


def test_langchain_hands_the_model_a_message_and_goes_on(flaky_pipeline):
    from fea_agent.integrations.langchain import FEAToolkit

    tool = next(t for t in FEAToolkit(pipeline=flaky_pipeline, allowed_dirs=[SAMPLES]).get_tools())
    call = {"type": "tool_call", "id": "1", "name": tool.name, "args": {"image": str(ASTRONAUT)}}
    _fail_once()
    failed = tool.invoke(call)
    assert failed.status == "error" and failed.content == f"analyze_face: {EXPECTED}"
    ok = tool.invoke(call)
    assert ok.status == "success" and ok.artifact.faces[0].label == "happiness"


def test_llama_index_raises_its_tool_error_and_goes_on(flaky_pipeline):
    from fea_agent.integrations.llama_index import FEAToolError, FEAToolSpec

    (tool,) = FEAToolSpec(flaky_pipeline, allowed_dirs=[SAMPLES]).to_tool_list(["classify_expression"])
    _fail_once()
    with pytest.raises(FEAToolError, match=f"^classify_expression: {EXPECTED}$"):
        tool.call(image=str(ASTRONAUT))
    assert tool.call(image=str(ASTRONAUT)).raw_output.faces[0].fused.label == "happiness"


def test_demo_endpoint_shows_a_message_and_goes_on(flaky_pipeline):
    gr = pytest.importorskip("gradio")
    from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext
    from fea_agent.demo.api import _endpoint

    endpoint, names = _endpoint(TOOL_SPECS["detect_action_units"], ToolContext(flaky_pipeline, ImagePolicy()))
    values = {"image": base64.b64encode(ASTRONAUT.read_bytes()).decode()}
    _fail_once()
    with pytest.raises(gr.Error, match="illegal memory access"):
        endpoint(*(values.get(n) for n in names))
    assert json.loads(endpoint(*(values.get(n) for n in names)))["faces"][0]["aus"]


def test_cli_reports_the_failed_photo_and_analyses_the_next(capsys):
    from fea_agent.cli import main

    ensure_registered()
    _fail_once()
    code = main(["analyze", str(ASTRONAUT), str(ASTRONAUT), "--appearance", "flaky", "--json"])
    failed, ok = json.loads(capsys.readouterr().out)
    assert code == 1
    assert failed == {"source": str(ASTRONAUT), "error": EXPECTED}
    assert ok["faces"][0]["reasoning"]["label"] == "happiness"
