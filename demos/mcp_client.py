"""Talk to the fea-agent MCP server the way a chat assistant does.

Starts ``fea-agent serve mcp`` over stdio (or connects to --url, a streamable-HTTP endpoint), lists its tools
and calls analyze_face on a photo. With a chat model configured (FEA_AGENT_LLM, see langchain_agent.py), it
then runs the LangChain agent over the MCP tools (langchain-mcp-adapters); without one it says so and stops
at the direct tool call.

    python demos/mcp_client.py PHOTO [--url http://127.0.0.1:8765/mcp --token TOKEN]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from fea_agent.agent.llm import chat_model_from_env, open_mcp_tools


async def _run(photo: Path, url: str | None, token: str | None) -> int:
    photo = photo.resolve()
    connection = None
    if url:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        connection = {"transport": "streamable_http", "url": url, "headers": headers}
    async with open_mcp_tools(connection, allowed_dirs=[photo.parent]) as tools:
        print("tools:", ", ".join(t.name for t in tools), file=sys.stderr)
        analyze = next(t for t in tools if t.name == "analyze_face")
        # Over HTTP the server cannot read our files unless it allows the folder: send the bytes instead.
        image = str(photo)
        if url:
            import base64

            image = base64.b64encode(photo.read_bytes()).decode("ascii")
        result = await analyze.ainvoke({"image": image, "annotate": False})
        blocks = result if isinstance(result, list) else [{"type": "text", "text": str(result)}]
        print("\n".join(b.get("text", f"<{b.get('type')} block>") for b in blocks))
        model = chat_model_from_env()
        if model is None:
            print(
                "No language model is configured (FEA_AGENT_LLM): stopping after the direct tool call.",
                file=sys.stderr,
            )
            return 0
        from fea_agent.agent import create_fea_agent

        agent = create_fea_agent(model, tools)
        question = (
            f"How does each person in this photo feel, and why? The photo: {image if not url else photo.name}"
        )
        out = await agent.ainvoke({"messages": [{"role": "user", "content": question}]})
        print(out["messages"][-1].content)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photo", type=Path)
    parser.add_argument(
        "--url", help="streamable-HTTP endpoint of a running server (default: start one over stdio)"
    )
    parser.add_argument("--token", help="bearer token for --url")
    args = parser.parse_args()
    return asyncio.run(_run(args.photo, args.url, args.token))


if __name__ == "__main__":
    raise SystemExit(main())
