"""RetinaFace, OpenFace 3.0 and EmotiEffLib as pipeline backends, through every interface.

RetinaFace runs with its real weights. OpenFace 3.0's and EmotiEffLib's weights cannot be downloaded here, so
this module makes files of the same format (the ``MTL`` state dict; an ONNX graph with EmotiEffLib's input
and outputs) and checks that their outputs land in the usual result fields, in range, the same from Python,
the CLI, MCP and LangChain. The values mean nothing; no accuracy is claimed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from conftest import EDGE, MODELS, needs_shared

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from emotiefflib_graphs import make_graph  # noqa: E402
from openface3_reference import deterministic_model  # noqa: E402

from fea_agent.models import registry  # noqa: E402
from fea_agent.perception import openface3  # noqa: E402

pytestmark = [needs_shared, pytest.mark.slow]

MIX = {"detector": "retinaface", "action_units": "openface3", "appearance": "emotiefflib"}
FLAGS = ["--detector", "retinaface", "--action-units", "openface3", "--appearance", "emotiefflib"]
EMOTIEFFLIB = "emotiefflib_enet_b0_8_va_mtl"


@pytest.fixture(scope="module")
def made_models(tmp_path_factory):
    """A model folder: the shared files, plus test-made MTL_backbone.pth and enet_b0_8_va_mtl.onnx."""
    if not (MODELS / "openface3" / "mobilenet0.25_Final.pth").is_file():
        pytest.skip("shared RetinaFace weights absent")
    folder = tmp_path_factory.mktemp("models")
    for name in ("yunet", "face_landmarker", "fer", "retinaface"):
        target = folder / registry.MODELS[name].filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(MODELS / registry.MODELS[name].filename)
    from fea_agent.perception.openface3_model import MTL

    torch.save(deterministic_model(MTL()).state_dict(), folder / "openface3" / "MTL_backbone.pth")
    (folder / "emotiefflib").mkdir()
    onnx_path = folder / "emotiefflib" / "enet_b0_8_va_mtl.onnx"
    make_graph(onnx_path, 224, 10, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(registry.ENV_MODEL_DIR, str(folder))
        mp.setenv(registry.ENV_CACHE, str(folder / "cache"))
        # the test graph is not upstream's file: pin the registry to it for this module only
        pinned = dataclasses.replace(registry.MODELS[EMOTIEFFLIB], git_blob=registry.git_blob_of(onnx_path))
        mp.setitem(registry.MODELS, EMOTIEFFLIB, pinned)
        registry._verified.clear()
        openface3.shared_model.cache_clear()
        yield folder
    registry._verified.clear()
    openface3.shared_model.cache_clear()


@pytest.fixture(scope="module")
def mixed(made_models):
    from fea_agent import FEAPipeline

    with FEAPipeline(**MIX) as p:
        yield p


@pytest.fixture(scope="module")
def python_result(mixed):
    return mixed.analyze(EDGE / "skimage_astronaut.png").model_dump(mode="json")


def _answer(result: dict) -> list[tuple]:
    return [
        (
            round(f["bbox"]["x"], 1),
            f["expression"]["label"],
            tuple((a["code"], a["intensity"]) for a in f["aus"]),
            (f["gaze"]["yaw"], f["gaze"]["pitch"]),
            f["valence"],
            f["arousal"],
        )
        for f in result["faces"]
    ]


def test_specialists_fill_the_usual_fields_in_range(mixed, python_result):
    (face,) = python_result["faces"]
    assert [a["code"] for a in face["aus"]] == list(openface3.AU_ORDER)
    assert all(0 <= a["probability"] <= 1 and 0 <= a["intensity"] <= 5 for a in face["aus"])
    probabilities = face["expression"]["probabilities"]
    assert set(probabilities) == {
        "anger",
        "contempt",
        "disgust",
        "fear",
        "happiness",
        "neutral",
        "sadness",
        "surprise",
    }
    assert abs(sum(probabilities.values()) - 1) < 1e-3
    assert -1 <= face["valence"] <= 1 and -1 <= face["arousal"] <= 1
    # gaze from OpenFace 3.0 (the AU backend), not from the iris landmarks
    analysis = mixed.run(EDGE / "skimage_astronaut.png")
    model = openface3.shared_model(registry.model_path("openface3_mtl"))
    yaw, pitch = model.run(analysis.rgb, analysis.detections[:1])[0].gaze
    assert (face["gaze"]["yaw"], face["gaze"]["pitch"]) == (round(yaw, 2), round(pitch, 2))
    assert python_result["devices"]["detector"] == "cpu"
    assert {"detector", "action_units", "appearance"} <= set(python_result["devices"])


def test_specialists_same_answer_from_the_cli(made_models, python_result):
    from fea_agent.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["analyze", str(EDGE / "skimage_astronaut.png"), "--json", *FLAGS]) == 0
    (cli,) = json.loads(out.getvalue())
    assert _answer(cli) == _answer(python_result)


def test_specialists_same_answer_from_mcp_and_the_backends_resource(made_models, python_result):
    from mcp.shared.memory import create_connected_server_and_client_session

    from fea_agent.agent_tools import ImagePolicy
    from fea_agent.mcp import Runtime, build_server

    runtime = Runtime(policy=ImagePolicy.allowing(EDGE), workers=1, pipeline_options=dict(MIX))

    async def call():
        server = build_server(runtime, tools="perception")._mcp_server
        async with create_connected_server_and_client_session(server) as client:
            result = await client.call_tool(
                "analyze_face", {"image": str(EDGE / "skimage_astronaut.png"), "annotate": False}
            )
            backends = json.loads((await client.read_resource("fea://backends")).contents[0].text)
        return result, backends

    try:
        result, backends = asyncio.run(call())
    finally:
        runtime.close()
    assert not result.isError, result.content
    assert _answer(result.structuredContent) == _answer(python_result)
    assert {k: backends["active"][k] for k in MIX} == MIX
    assert backends["devices"]["detector"] == "cpu"
    listed = {(b["stage"], b["name"]): b for b in backends["registered"]}
    assert listed[("appearance", "emotiefflib")]["available"]


def test_specialists_same_answer_from_langchain(mixed, python_result):
    pytest.importorskip("langchain_core")
    from fea_agent.integrations.langchain import FEAToolkit

    tool = next(
        t for t in FEAToolkit(pipeline=mixed, allowed_dirs=[EDGE]).get_tools() if t.name == "analyze_face"
    )
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "1",
            "name": "analyze_face",
            "args": {"image": str(EDGE / "skimage_astronaut.png"), "annotate": False},
        }
    )
    assert _answer(message.artifact.model_dump(mode="json")) == _answer(python_result)


def test_openface3_as_both_stages_over_mcp_stdio(made_models):
    """``fea-agent serve mcp --tools perception --detector retinaface ...`` in its own process."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    args = ["-m", "fea_agent", "serve", "mcp", "--tools", "perception", "--workers", "1"]
    args += ["--allow-dir", str(EDGE), "--detector", "retinaface", "--action-units", "openface3"]
    args += ["--appearance", "openface3"]

    async def call():
        params = StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool(
                "analyze_face", {"image": str(EDGE / "pexels_group.jpeg"), "annotate": False}
            )
            backends = json.loads((await session.read_resource("fea://backends")).contents[0].text)
        return result, backends

    result, backends = asyncio.run(call())
    assert not result.isError, result.content
    faces = result.structuredContent["faces"]
    assert len(faces) == 5
    assert all([a["code"] for a in f["aus"]] == list(openface3.AU_ORDER) for f in faces)
    assert all(f["gaze"] is not None and f["valence"] is None for f in faces)
    assert backends["active"]["action_units"] == backends["active"]["appearance"] == "openface3"


def test_specialist_servers_agent_demo_chains_two_servers(made_models):
    """demos/specialist_servers_agent.py: the GPU perception server's script and the reasoning server's, both
    started over stdio, chained without a chat model (OpenFace 3.0 for appearance too: the subprocess cannot
    see this module's pin of the test-made EmotiEffLib graph)."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEA_AGENT_LLM")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [
            sys.executable,
            str(root / "demos" / "specialist_servers_agent.py"),
            str(EDGE / "skimage_astronaut.png"),
            "--perception-args",
            "--appearance openface3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'detector': 'retinaface'" in out.stderr and "'action_units': 'openface3'" in out.stderr
    assert out.stdout.startswith("face 1: AUs present")
    assert "No language model is configured" in out.stderr
