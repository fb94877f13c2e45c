"""An agent on two MCP servers: the specialist perception server (RetinaFace, OpenFace 3.0, EmotiEffLib;
``servers/gpu_perception_server.py``) and the reasoning server (``servers/reasoning_server.py``).

By default both are started here over stdio; give ``--perception-url`` / ``--reasoning-url`` (and
``FEA_AGENT_TOKEN``) for servers on other boxes. Without a chat model it runs the fixed chain: AUs and the
appearance expression from the perception server, then ``explain_emotion`` on the reasoning server with those
numbers only (the photo never reaches the reasoning box). With a chat model (``FEA_AGENT_LLM``, see
langchain_agent.py) a LangChain agent gets the tools of both servers and answers the question.

    python demos/specialist_servers_agent.py PHOTO
    python demos/specialist_servers_agent.py PHOTO --perception-url https://gpu-box:8765/mcp \
        --reasoning-url https://gpu-box:8766/mcp
    python demos/specialist_servers_agent.py PHOTO --perception-args "--appearance openface3"
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shlex
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

SERVERS = Path(__file__).resolve().parents[1] / "servers"
#: Tools the agent takes from each server (both serve analyze_face and describe_action_unit).
PERCEPTION_TOOLS = {"detect_faces", "detect_action_units", "classify_expression", "analyze_video"}
REASONING_TOOLS = {"explain_emotion", "describe_action_unit"}


async def _open(stack: AsyncExitStack, url: str | None, script: str, args: list[str]) -> ClientSession:
    if url:
        from mcp.client.streamable_http import streamablehttp_client

        token = os.environ.get("FEA_AGENT_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        read, write, _ = await stack.enter_async_context(streamablehttp_client(url, headers=headers))
    else:
        params = StdioServerParameters(
            command=sys.executable, args=[str(SERVERS / script), *args], env=dict(os.environ)
        )
        read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def _call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    if result.isError:
        raise RuntimeError(f"{tool}: " + " ".join(getattr(c, "text", "") for c in result.content))
    return result.structuredContent or {}


async def chain(perception: ClientSession, reasoning: ClientSession, image: str) -> list[dict[str, Any]]:
    """Per face: the AUs and appearance from the perception server, the explanation from the reasoning one."""
    aus = await _call(perception, "detect_action_units", {"image": image})
    looks = await _call(perception, "classify_expression", {"image": image, "fuse_with_action_units": False})
    out = []
    for face, look in zip(aus["faces"], looks["faces"], strict=True):
        observed = [
            {"code": a["code"], "intensity": a["intensity"], "probability": a["probability"]}
            for a in face["aus"]
        ]
        appearance = (look.get("appearance") or {}).get("probabilities")
        explained = await _call(
            reasoning, "explain_emotion", {"action_units": observed, "appearance": appearance}
        )
        out.append({"bbox": face["bbox"], "aus": observed, "explanation": explained["faces"][0]})
    return out


async def _run(args: argparse.Namespace) -> int:
    photo = args.photo.resolve()
    remote = bool(args.perception_url)
    image = base64.b64encode(photo.read_bytes()).decode("ascii") if remote else str(photo)
    async with AsyncExitStack() as stack:
        perception = await _open(
            stack,
            args.perception_url,
            "gpu_perception_server.py",
            ["--allow-dir", str(photo.parent), *shlex.split(args.perception_args)],
        )
        reasoning = await _open(
            stack, args.reasoning_url, "reasoning_server.py", shlex.split(args.reasoning_args)
        )
        backends = json.loads((await perception.read_resource("fea://backends")).contents[0].text)
        print(f"perception backends: {backends['active']}, devices: {backends['devices']}", file=sys.stderr)
        for i, face in enumerate(await chain(perception, reasoning, image)):
            reasoning_out = face["explanation"]["reasoning"]
            present = [a["code"] for a in face["aus"] if a["probability"] >= 0.5]
            print(f"face {i + 1}: AUs present {', '.join(present) or 'none'}")
            print(f"  {reasoning_out['label']}: {reasoning_out['text']}")

        from fea_agent.agent.llm import chat_model_from_env

        model = chat_model_from_env()
        if model is None:
            print(
                "No language model is configured (FEA_AGENT_LLM): stopping after the chain.", file=sys.stderr
            )
            return 0
        from langchain_mcp_adapters.tools import load_mcp_tools

        from fea_agent.agent import create_fea_agent

        tools = [t for t in await load_mcp_tools(perception) if t.name in PERCEPTION_TOOLS]
        tools += [t for t in await load_mcp_tools(reasoning) if t.name in REASONING_TOOLS]
        agent = create_fea_agent(model, tools)
        where = "sent inline" if remote else str(photo)
        question = f"{args.question}\nThe photo: {image if not remote else where}"
        out = await agent.ainvoke({"messages": [{"role": "user", "content": question}]})
        print(out["messages"][-1].content)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photo", type=Path)
    parser.add_argument("question", nargs="?", default="How does each person in this photo feel, and why?")
    parser.add_argument("--perception-url", help="streamable-HTTP endpoint of the perception server")
    parser.add_argument("--reasoning-url", help="streamable-HTTP endpoint of the reasoning server")
    parser.add_argument("--perception-args", default="", help="more options for a local perception server")
    parser.add_argument("--reasoning-args", default="", help="more options for a local reasoning server")
    args = parser.parse_args()
    try:
        return asyncio.run(_run(args))
    except Exception as exc:  # a server that could not start (missing weights) says why in its stderr
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
