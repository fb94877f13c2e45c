"""Streamable HTTP for the MCP server: bearer-token auth, a request size limit, loopback by default.

The token comes from ``FEA_AGENT_TOKEN``; a request without ``Authorization: Bearer <token>`` gets 401.
The server refuses to bind an address other than loopback without a token. Requests larger than
``max_request_bytes`` get 413 before they are read into memory.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from typing import Any

from fea_agent.agent_tools import MAX_IMAGE_BYTES

TOKEN_ENV = "FEA_AGENT_TOKEN"
#: Default request limit: the largest image, base64-encoded (4/3), plus room for the JSON-RPC envelope.
MAX_REQUEST_BYTES = MAX_IMAGE_BYTES * 4 // 3 + 1024 * 1024

Scope = dict[str, Any]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _reply(
    send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """ASGI middleware: bearer-token check (when ``token`` is set) and request size limit."""

    def __init__(self, app: Any, *, token: str | None, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self.expected is not None and not hmac.compare_digest(
            headers.get(b"authorization", b""), self.expected
        ):
            await _reply(
                send,
                401,
                "missing or wrong bearer token: send 'Authorization: Bearer <FEA_AGENT_TOKEN>'",
                [(b"www-authenticate", b'Bearer realm="fea-agent"')],
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_request_bytes:
            await _reply(send, 413, self._too_large())
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_request_bytes:
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reply(send, 413, self._too_large())

    def _too_large(self) -> str:
        return f"request is larger than the limit of {self.max_request_bytes:,} bytes; send a smaller image"


def resolve_token(host: str, token: str | None = None, *, allow_no_auth: bool = False) -> str | None:
    """The token to require, from the argument or FEA_AGENT_TOKEN; refuses unsafe setups with ValueError."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 16:
        raise ValueError(
            f"{TOKEN_ENV} is too short ({len(token)} characters); use at least 16 random characters"
        )
    if token is None:
        if not is_loopback(host):
            raise ValueError(
                f"refusing to serve on {host} without a token: set {TOKEN_ENV} (e.g. "
                "FEA_AGENT_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'))"
            )
        if not allow_no_auth:
            raise ValueError(
                f"set {TOKEN_ENV} to a secret clients send as 'Authorization: Bearer <token>', or pass "
                "--no-auth to serve on loopback without authentication"
            )
    return token


def http_app(server: Any, *, token: str | None, max_request_bytes: int = MAX_REQUEST_BYTES) -> Any:
    """The FastMCP server's streamable HTTP app (endpoint /mcp) behind the guard."""
    return GuardMiddleware(server.streamable_http_app(), token=token, max_request_bytes=max_request_bytes)


def run_http(
    server: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    log_level: str = "warning",
) -> None:
    """Serve until interrupted."""
    import uvicorn

    app = http_app(server, token=token, max_request_bytes=max_request_bytes)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
