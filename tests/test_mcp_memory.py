"""The MCP server through an in-memory client session (the SDK's own test transport), on real photos."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import anyio
import pytest
from conftest import PHOTO_DIRS, VIDEO, needs_shared
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import ImageContent, TextContent

from fea_agent.agent_tools import ImagePolicy
from fea_agent.mcp import Runtime, build_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def runtime(pipeline) -> Runtime:
    # The session's pipeline serves every call: no models load here.
    return Runtime(policy=ImagePolicy.allowing(*PHOTO_DIRS), pipelines=[pipeline])


@pytest.fixture(scope="module")
def astronaut_b64(astronaut: Path) -> str:
    return base64.b64encode(astronaut.read_bytes()).decode()


def _session(runtime: Runtime, tools: str = "all"):
    return create_connected_server_and_client_session(build_server(runtime, tools=tools)._mcp_server)


async def test_tool_sets_and_schemas(runtime: Runtime):
    async with _session(runtime) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert len(tools) == 7
    face = tools["analyze_face"]
    assert face.inputSchema["required"] == ["image"]
    assert "base64" in face.inputSchema["properties"]["image"]["description"]
    assert face.outputSchema is not None and "faces" in face.outputSchema["properties"]
    assert face.annotations.readOnlyHint is True
    async with _session(runtime, "reasoning") as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {"analyze_face", "explain_emotion", "describe_action_unit"}


async def test_analyze_face_returns_structure_text_and_picture(runtime: Runtime, astronaut_b64: str):
    async with _session(runtime) as client:
        result = await client.call_tool("analyze_face", {"image": f"data:image/png;base64,{astronaut_b64}"})
    assert not result.isError
    face = result.structuredContent["faces"][0]
    assert face["expression"]["label"] == "happiness"
    assert face["reasoning"]["text"].startswith("Happiness.")
    text, picture = result.content
    # The text is the readable summary a model reads (label, AUs, reasoning), far smaller than the JSON.
    assert isinstance(text, TextContent) and len(text.text.encode()) < 1500
    assert "happiness" in text.text and "AU12" in text.text and face["reasoning"]["text"] in text.text
    assert len(json.dumps(result.structuredContent)) > 4 * len(text.text)
    assert isinstance(picture, ImageContent) and picture.mimeType == "image/jpeg"
    assert base64.b64decode(picture.data)[:2] == b"\xff\xd8"


async def test_text_content_can_be_the_json_for_clients_that_parse_it(runtime: Runtime, astronaut_b64: str):
    server = build_server(runtime, text_content="json")._mcp_server
    async with create_connected_server_and_client_session(server) as client:
        result = await client.call_tool("detect_faces", {"image": astronaut_b64, "annotate": False})
    (text,) = result.content
    assert json.loads(text.text) == result.structuredContent


async def test_errors_come_back_as_results_and_the_server_keeps_serving(runtime: Runtime, astronaut_b64: str):
    async with _session(runtime) as client:
        bad = await client.call_tool(
            "detect_faces", {"image": "bm90IGFuIGltYWdl"}
        )  # base64 of "not an image"
        assert bad.isError and "not an image" in bad.content[0].text
        bad = await client.call_tool("detect_faces", {"image": "/etc/hostname"})
        assert bad.isError and "outside the allowed directories" in bad.content[0].text
        bad = await client.call_tool("analyze_face", {"image": astronaut_b64, "max_faces": 0})
        assert bad.isError and "max_faces" in bad.content[0].text
        good = await client.call_tool("detect_faces", {"image": astronaut_b64, "annotate": False})
    assert not good.isError and len(good.structuredContent["faces"]) == 1
    assert [c.type for c in good.content] == ["text"]


async def test_min_confidence_makes_a_close_call_uncertain_between_two_labels(runtime: Runtime):
    from conftest import NEUTRAL_FACE

    image = base64.b64encode(NEUTRAL_FACE.read_bytes()).decode()
    async with _session(runtime) as client:
        schema = {t.name: t.inputSchema for t in (await client.list_tools()).tools}
        classified = await client.call_tool("classify_expression", {"image": image, "min_confidence": 0.99})
        analysed = await client.call_tool(
            "analyze_face", {"image": image, "min_confidence": 0.99, "annotate": False}
        )
        plain = await client.call_tool("classify_expression", {"image": image})
        bad = await client.call_tool("classify_expression", {"image": image, "min_confidence": 1.5})
    for tool in ("analyze_face", "classify_expression", "explain_emotion", "analyze_video"):
        assert "min_confidence" in schema[tool]["properties"], tool
    assert not classified.isError and not analysed.isError
    fused = classified.structuredContent["faces"][0]["fused"]
    assert fused["label"] is None
    a, b = fused["uncertain_between"]
    assert f"uncertain between {a} and {b}" in classified.content[0].text
    face = analysed.structuredContent["faces"][0]
    assert face["expression"]["uncertain_between"] == [a, b] == face["reasoning"]["uncertain_between"]
    assert face["reasoning"]["label"] == "abstain"
    p = face["expression"]["probabilities"]
    assert f"uncertain between {a} ({p[a]:.0%}) and {b} ({p[b]:.0%})" in analysed.content[0].text
    assert face["reasoning"]["text"].startswith(f"Uncertain between {a} (")
    assert plain.structuredContent["faces"][0]["fused"]["label"] == "neutral"
    assert bad.isError and "min_confidence" in bad.content[0].text


async def test_concurrent_calls_all_succeed(runtime: Runtime, astronaut_b64: str):
    labels: list[str] = []
    async with _session(runtime) as client:

        async def one() -> None:
            r = await client.call_tool("classify_expression", {"image": astronaut_b64})
            labels.append(r.structuredContent["faces"][0]["fused"]["label"])

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(one)
    assert labels == ["happiness"] * 4


async def test_explain_and_describe_without_an_image(runtime: Runtime):
    async with _session(runtime, "reasoning") as client:
        explained = await client.call_tool("explain_emotion", {"action_units": ["AU6", "AU12", "AU25"]})
        described = await client.call_tool("describe_action_unit", {"code": "AU4"})
    assert explained.structuredContent["faces"][0]["reasoning"]["label"] == "happiness"
    assert described.structuredContent["action_units"][0]["name"] == "Brow lowerer"


async def test_resources_and_prompt(runtime: Runtime):
    async with _session(runtime) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert uris == {"fea://action-units", "fea://emotion-prototypes", "fea://backends"}
        catalogue = json.loads((await client.read_resource("fea://action-units")).contents[0].text)
        prototypes = json.loads((await client.read_resource("fea://emotion-prototypes")).contents[0].text)
        backends = json.loads((await client.read_resource("fea://backends")).contents[0].text)
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        prompt = await client.get_prompt("analyze_face", {"image": "face.jpg", "question": "is she happy?"})
    assert any(a["code"] == "AU12" and a["muscle"] == "zygomaticus major" for a in catalogue)
    assert next(p for p in prototypes if p["label"] == "happiness")["core"] == ["AU12"]
    assert backends["active"]["detector"] == "yunet" and backends["devices"]["detector"] == "cpu"
    model = backends["expression_model"]
    assert model["name"] == "expression" and model["mismatches"] == []
    assert model["inputs"]["appearance"] == "fer+faceapi" and "happiness" in model["trained_labels"]
    assert model["validation"]["frl-london"]["accuracy"] > 0.8
    listed = {(b["stage"], b["name"]) for b in backends["registered"]}
    assert {("detector", "yunet"), ("detector", "mediapipe"), ("reasoner", "facs")} <= listed
    assert prompts == ["analyze_face"], "the prompt is spelt as the tool it asks for"
    text = prompt.messages[0].content.text
    assert "analyze_face tool" in text and "face.jpg" in text and "is she happy?" in text


@needs_shared
async def test_analyze_video_reports_progress(runtime: Runtime):
    updates: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total))

    async with _session(runtime) as client:
        result = await client.call_tool(
            "analyze_video",
            {"video": str(VIDEO), "stride": 15, "max_frames": 4},
            progress_callback=on_progress,
        )
    assert not result.isError, result.content[0].text
    assert result.structuredContent["frames_analysed"] == 4
    assert updates and updates[-1][0] >= updates[0][0]
