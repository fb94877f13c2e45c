"""A loopback OpenAI-compatible chat server that enforces OpenAI's message rules, for agent tests.

It plays a two-turn tool-calling model: while the conversation has no tool result it calls ``TOOL`` on the path
the user wrote; then it answers with the text of the tool results, so the answer holds what the tools returned
only if they reached the model. Every request is checked first as OpenAI's API checks it: an image part
anywhere but in a user message, or a tool call left unanswered, is a 400 with OpenAI's error body.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOL = "analyze_face"
_PATH = re.compile(r"(/\S+\.(?:png|jpe?g))")


def rule_violation(messages: list[dict[str, Any]]) -> str | None:
    """OpenAI's error message for the first message it would refuse, or None."""
    pending: set[str] = set()
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        parts = content if isinstance(content, list) else []
        if role != "user" and any(isinstance(p, dict) and p.get("type") == "image_url" for p in parts):
            return (
                f"Invalid 'messages[{i}]'. Image URLs are only allowed for messages with role 'user', but this "
                f"message with role '{role}' contains an image URL."
            )
        if role == "tool":
            if m.get("tool_call_id") not in pending:
                return f"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (messages[{i}])."
            pending.discard(m["tool_call_id"])
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {sorted(pending)}"
            )
        if role == "assistant":
            pending = {c["id"] for c in m.get("tool_calls") or []}
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def _reply(messages: list[dict[str, Any]]) -> dict[str, Any]:
    results = [_text(m["content"]) for m in messages if m.get("role") == "tool"]
    if results:
        message: dict[str, Any] = {"role": "assistant", "content": "The tools say: " + " | ".join(results)}
        finish = "stop"
    else:
        asked = next(_text(m["content"]) for m in reversed(messages) if m.get("role") == "user")
        match = _PATH.search(asked)
        arguments = json.dumps({"image": match.group(1) if match else asked, "annotate": True})
        call = {"id": "call_1", "type": "function", "function": {"name": TOOL, "arguments": arguments}}
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class OpenAIRulesServer:
    """``with OpenAIRulesServer() as server:`` ``server.url`` is the ``/v1`` base URL; ``server.requests``
    holds each request's messages, ``server.refusals`` each 400's message."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.refusals: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                messages = body.get("messages", [])
                outer.requests.append(messages)
                problem = rule_violation(messages)
                if problem is not None:
                    outer.refusals.append(problem)
                    status = 400
                    payload = {"error": {"message": problem, "type": "invalid_request_error", "code": None}}
                else:
                    status, payload = 200, _reply(messages)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def __enter__(self) -> OpenAIRulesServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
