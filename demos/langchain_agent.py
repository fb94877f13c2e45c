"""Ask the fea-agent LangChain agent about a photo.

With a chat model configured (FEA_AGENT_LLM, e.g. ``openai:gpt-4o-mini``; or FEA_AGENT_LLM_BASE_URL for an
OpenAI-compatible server such as vLLM or Ollama's ``http://localhost:11434/v1``), it runs the tool-calling
agent over FEAToolkit. Without one, it runs the offline graph (detect -> perceive -> reason -> report) and
says so.

    python demos/langchain_agent.py PHOTO ["question"]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fea_agent.agent import OFFLINE_NOTE, create_fea_agent
from fea_agent.agent.llm import chat_model_from_env
from fea_agent.errors import FEAError


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photo", type=Path)
    parser.add_argument("question", nargs="?", default="How does each person in this photo feel, and why?")
    args = parser.parse_args()
    try:
        model = chat_model_from_env()
        if model is None:
            print(OFFLINE_NOTE, file=sys.stderr)
            graph = create_fea_agent()
            for update in graph.stream({"image": str(args.photo)}, stream_mode="updates"):
                node = next(iter(update))
                print(f"[{node}] done", file=sys.stderr)
                if node == "report":
                    print(update[node]["report"])
            return 0
        from fea_agent.integrations.langchain import FEAToolkit

        tools = FEAToolkit(allowed_dirs=[args.photo.resolve().parent]).get_tools()
        agent = create_fea_agent(model, tools)
        question = f"{args.question}\nThe photo: {args.photo.resolve()}"
        for step in agent.stream(
            {"messages": [{"role": "user", "content": question}]}, stream_mode="updates"
        ):
            for node, update in step.items():
                for message in (update or {}).get("messages", []):
                    for call in getattr(message, "tool_calls", None) or []:
                        print(f"[{node}] calls {call['name']}", file=sys.stderr)
                    if node == "model" and message.content and not getattr(message, "tool_calls", None):
                        print(message.content)
        return 0
    except FEAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
