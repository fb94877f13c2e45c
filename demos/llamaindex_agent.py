"""Ask a LlamaIndex FunctionAgent with the fea-agent tool spec about a photo.

With FEA_AGENT_LLM set to an OpenAI model name (and llama-index-llms-openai installed; FEA_AGENT_LLM_BASE_URL
for an OpenAI-compatible server), it runs the agent. Without one, it calls the analyze_face tool from the
spec directly, with no model, and says so.

    python demos/llamaindex_agent.py PHOTO ["question"]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from fea_agent.agent import SYSTEM_PROMPT
from fea_agent.integrations.llama_index import FEAToolError, FEAToolSpec


def _llm():
    name = os.environ.get("FEA_AGENT_LLM", "").strip()
    if not name:
        return None
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError:
        OpenAILike = None
    base_url = os.environ.get("FEA_AGENT_LLM_BASE_URL")
    model = name.split(":", 1)[-1]
    if base_url and OpenAILike is not None:
        key = os.environ.get("FEA_AGENT_LLM_API_KEY", "not-needed")
        return OpenAILike(
            model=model, api_base=base_url, api_key=key, is_chat_model=True, is_function_calling_model=True
        )
    try:
        from llama_index.llms.openai import OpenAI
    except ImportError:
        sys.exit(
            "FEA_AGENT_LLM is set, but llama-index-llms-openai is not installed: pip install llama-index-llms-openai"
        )
    return OpenAI(model=model, api_base=base_url) if base_url else OpenAI(model=model)


async def _run(photo: Path, question: str) -> int:
    spec = FEAToolSpec(allowed_dirs=[photo.resolve().parent])
    llm = _llm()
    if llm is None:
        print(
            "No language model is configured (FEA_AGENT_LLM): calling the analyze_face tool directly.",
            file=sys.stderr,
        )
        (tool,) = spec.to_tool_list(["analyze_face"])
        output = tool.call(image=str(photo.resolve()))
        print(output.content)
        return 0
    from llama_index.core.agent.workflow import FunctionAgent

    agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm, system_prompt=SYSTEM_PROMPT)
    response = await agent.run(user_msg=f"{question}\nThe photo: {photo.resolve()}")
    for call in response.tool_calls:
        print(f"[tool] {call.tool_name}", file=sys.stderr)
    print(response.response.content)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photo", type=Path)
    parser.add_argument("question", nargs="?", default="How does each person in this photo feel, and why?")
    args = parser.parse_args()
    try:
        return asyncio.run(_run(args.photo, args.question))
    except FEAToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
