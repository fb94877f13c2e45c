"""One photo with more than eight faces through every interface: the same faces, labels, AU intensities,
reasoning texts and timing stages from the CLI's JSON, Python, MCP over stdio, LangChain, LlamaIndex, the
offline agent and the Gradio demo's API, because they all go through ``FEAPipeline.run``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import EDGE, needs_shared
from PIL import Image

pytestmark = [needs_shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def crowd(tmp_path_factory) -> Path:
    """The shared group photo twice side by side: more than eight faces (the old tool limit)."""
    group = np.asarray(Image.open(EDGE / "pexels_group.jpeg").convert("RGB"))
    path = tmp_path_factory.mktemp("crowd") / "crowd.png"
    Image.fromarray(np.hstack([group, group[:, ::-1]])).save(path)
    return path


def _answer(result: dict[str, Any]) -> list[tuple]:
    """What must agree between interfaces: per face its box, label, AU intensities and reasoning text."""
    out = []
    for f in result["faces"]:
        reasoning = f.get("reasoning") or {}
        out.append(
            (
                tuple(round(v, 1) for v in (f["bbox"]["x"], f["bbox"]["y"], f["bbox"]["width"])),
                (f.get("expression") or {}).get("label"),
                reasoning.get("label"),
                tuple((a["code"], a["intensity"]) for a in f["aus"]),
                reasoning.get("text"),
            )
        )
    return out


def _stages(result: dict[str, Any]) -> set[str]:
    return set(result["timings_ms"])


@pytest.fixture(scope="module")
def python_result(pipeline, crowd) -> dict[str, Any]:
    return pipeline.analyze(crowd).model_dump(mode="json")


def test_python_finds_every_face_of_a_crowd(python_result):
    assert len(python_result["faces"]) > 8
    assert python_result["faces_found"] is None  # nobody left out
    assert {"decode", "detect", "landmarks", "action_units", "expression", "reasoning", "total"} <= _stages(
        python_result
    )


def test_a_smaller_limit_says_how_many_were_found(pipeline, crowd, python_result):
    analysis = pipeline.run(crowd, max_faces=3)
    assert len(analysis.result.faces) == 3
    assert analysis.result.faces_found == len(python_result["faces"])


def test_cli_json(crowd, python_result):
    out = subprocess.run(
        [sys.executable, "-m", "fea_agent", "analyze", str(crowd), "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    (cli,) = json.loads(out.stdout)
    assert _answer(cli) == _answer(python_result)
    assert _stages(cli) == _stages(python_result)


def test_mcp_over_stdio(crowd, python_result):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def call() -> dict[str, Any]:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "fea_agent", "serve", "mcp", "--allow-dir", str(crowd.parent), "--workers", "1"],
            env=dict(os.environ),  # the SDK passes only a few variables on; the model folder is needed
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("analyze_face", {"image": str(crowd), "annotate": False})
            assert not result.isError, result.content
            return result.structuredContent

    mcp_result = asyncio.run(call())
    assert _answer(mcp_result) == _answer(python_result)
    assert _stages(mcp_result) == _stages(python_result)


def test_langchain_llama_index_and_the_offline_agent(pipeline, crowd, python_result):
    from fea_agent.agent import create_fea_agent
    from fea_agent.integrations.langchain import FEAToolkit
    from fea_agent.integrations.llama_index import FEAToolSpec

    tool = next(
        t
        for t in FEAToolkit(pipeline=pipeline, allowed_dirs=[crowd.parent]).get_tools()
        if t.name == "analyze_face"
    )
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "1",
            "name": "analyze_face",
            "args": {"image": str(crowd), "annotate": False},
        }
    )
    spec = FEAToolSpec(pipeline=pipeline, allowed_dirs=[crowd.parent])
    llama = next(t for t in spec.to_tool_list() if t.metadata.name == "analyze_face")
    agent = create_fea_agent(pipeline=pipeline).invoke({"image": str(crowd)})["result"]
    for name, result in (
        ("langchain", message.artifact),
        ("llama_index", llama.call(image=str(crowd), annotate=False).raw_output),
        ("agent", agent),
    ):
        dumped = result.model_dump(mode="json")
        assert _answer(dumped) == _answer(python_result), name
        assert _stages(dumped) == _stages(python_result), name


def test_gradio_api(pipeline, crowd, python_result):
    pytest.importorskip("gradio")
    from gradio_client import Client

    from fea_agent.demo import build_app, launch

    app = build_app(pipeline, reasoners=("facs",), video=False)
    _, url, _ = launch(app, port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        data = base64.b64encode(crowd.read_bytes()).decode("ascii")
        demo = json.loads(client.predict(image=data, annotate=False, api_name="/analyze_face"))
    finally:
        app.close()
    assert _answer(demo) == _answer(python_result)
    assert _stages(demo) == _stages(python_result)


def test_no_reasoner_means_no_reasoning_in_the_tools(crowd):
    from fea_agent import FEAPipeline
    from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext
    from fea_agent.errors import BackendUnavailableError

    with FEAPipeline(reasoner=None) as bare:
        ctx = ToolContext(bare, ImagePolicy.allowing(crowd.parent))
        out = TOOL_SPECS["analyze_face"].run(ctx, {"image": str(crowd), "annotate": False})
        assert out.faces and all(f.reasoning is None for f in out.faces)
        with pytest.raises(BackendUnavailableError, match="reasoning is switched off"):
            TOOL_SPECS["explain_emotion"].run(ctx, {"action_units": ["AU6", "AU12"]})
