"""Streamable HTTP for the MCP server: bearer-token auth, a request size limit, DNS-rebinding checks, loopback
by default, and limits that slow or greedy clients cannot get round.

The token comes from ``FEA_AGENT_TOKEN`` (several, comma-separated, give each client its own); a request
without ``Authorization: Bearer <token>`` gets 401 (the scheme is case-insensitive, RFC 6750; two
Authorization headers get 400). An HTTP session belongs to the token that opened it: another token's requests
for it get 404, as for a session that does not exist. The server refuses to bind an address other than
loopback without a token. On a loopback address, and whenever there is no token, the ``Host`` and ``Origin``
headers must name a loopback address (421 / 403 otherwise), whichever way the address is spelled
(``127.0.0.2``, ``0:0:0:0:0:0:0:1``, ``localhost``): a web page on another site cannot reach the server
through DNS rebinding. Requests larger than ``max_request_bytes`` get 413 before they are read into memory;
the SDK's own body limit (4 MiB by default) is set from the same number. A body that does not arrive within
``HttpLimits.body_timeout_s`` gets 408. A body holding more than ``HttpLimits.max_json_values`` JSON
arrays, objects and values is refused before it is parsed (a 33 MB list of empty lists would take seconds
and gigabytes to build). A POST body that is not JSON (invalid UTF-8, too deeply nested, a number too long
to convert) gets the JSON-RPC parse error -32700, and a request for a method MCP does not have gets -32601,
both as JSON-RPC error bodies; one without ``Content-Type: application/json`` gets 415. Every other refusal is a JSON body ``{"error": "..."}``. Connection-level
limits (header timeout, connection caps) are in :mod:`fea_agent.mcp.connections`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import typing
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from mcp import types as mcp_types

from fea_agent.agent_tools import MAX_IMAGE_BYTES
from fea_agent.mcp.connections import HttpLimits, server_config

TOKEN_ENV = "FEA_AGENT_TOKEN"
#: Default request limit: the largest image, base64-encoded (4/3), plus room for the JSON-RPC envelope.
MAX_REQUEST_BYTES = MAX_IMAGE_BYTES * 4 // 3 + 1024 * 1024

#: JSON-RPC error codes (https://www.jsonrpc.org/specification#error_object).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601

#: Bodies larger than this are parsed in a worker thread, so the event loop keeps serving the other clients.
_PARSE_IN_THREAD_BYTES = 1 << 20

#: A JSON escape of a UTF-16 surrogate: only these can put a lone surrogate (which cannot be encoded back to
#: UTF-8, so the SDK fails writing its answer) into a body that decodes as UTF-8.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

Scope = dict[str, Any]


def _mcp_methods() -> frozenset[str]:
    """Every method a client may send, from the SDK's own message unions."""
    methods: set[str] = set()
    for union in (mcp_types.ClientRequest, mcp_types.ClientNotification):
        for model in typing.get_args(union.model_fields["root"].annotation):
            methods.update(typing.get_args(model.model_fields["method"].annotation))
    return frozenset(methods)


MCP_METHODS = _mcp_methods()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is a loopback address."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(header: str) -> str:
    """The host part of a ``Host`` header: ``[::1]:8765`` -> ``::1``, ``localhost:80`` -> ``localhost``."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _origin_is_loopback(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")


async def _send_json(
    send: Any, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _reply(
    send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send_json(send, status, {"error": message}, headers)


async def _rpc_error(send: Any, status: int, request_id: Any, code: int, message: str) -> None:
    payload = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    await _send_json(send, status, payload)


class _TooLarge(Exception):
    pass


def json_values(body: bytes) -> int:
    """An upper bound on the values a JSON text holds beyond the first: one per array, object and comma.
    C-speed counting (40 ms for 33 MB here); characters inside strings count too, which only overstates
    (base64 has none of them)."""
    return body.count(b"[") + body.count(b"{") + body.count(b",")


def _tokens(token: str | None) -> list[bytes]:
    return [t.strip().encode() for t in token.split(",") if t.strip()] if token else []


class GuardMiddleware:
    """ASGI middleware in front of the SDK's app: Host/Origin checks (when ``check_host``), the bearer token
    (when ``token`` is set; several comma-separated), the request size and time limits and JSON-RPC framing
    errors. An authorised request carries its token's identity as ``scope["user"]``, which the SDK binds
    sessions to."""

    def __init__(
        self,
        app: Any,
        *,
        token: str | None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        check_host: bool = True,
        limits: HttpLimits | None = None,
    ) -> None:
        self.app = app
        self.tokens = _tokens(token)
        self.max_request_bytes = max_request_bytes
        self.check_host = check_host
        self.limits = limits or HttpLimits()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        if self.check_host and not await self._host_and_origin_ok(headers, send):
            return
        if self.tokens:
            user = await self._authorized(headers, send)
            if user is None:
                return
            scope = {**scope, "user": user}
        declared = [v for k, v in headers if k == b"content-length"]
        if declared and (not declared[0].isdigit() or len(declared) > 1):
            await _reply(send, 400, "malformed Content-Length header")
            return
        if declared and int(declared[0]) > self.max_request_bytes:
            await _reply(send, 413, self._too_large())
            return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        content_types = [v for k, v in headers if k == b"content-type"]
        if len(content_types) != 1 or not content_types[0].lower().startswith(b"application/json"):
            # the SDK's own answer to this is a plain-text 400
            await _reply(send, 415, "send the JSON-RPC message with 'Content-Type: application/json'")
            return
        try:
            with anyio.fail_after(self.limits.body_timeout_s):
                body = await self._read_body(receive)
        except _TooLarge:
            await _reply(send, 413, self._too_large())
            return
        except TimeoutError:
            message = f"the request body did not arrive within {self.limits.body_timeout_s:g} s"
            await _reply(send, 408, message, [(b"connection", b"close")])
            return
        if body is None:
            return  # the client went away before its body was complete: nobody to answer
        if not await self._json_rpc_ok(body, send):
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _host_and_origin_ok(self, headers: list[tuple[bytes, bytes]], send: Any) -> bool:
        hosts = [v.decode("latin-1") for k, v in headers if k == b"host"]
        if len(hosts) != 1 or not is_loopback(_host_of(hosts[0])):
            await _reply(send, 421, "the Host header must name this server's loopback address")
            return False
        origins = [v.decode("latin-1") for k, v in headers if k == b"origin"]
        if len(origins) > 1 or (origins and not _origin_is_loopback(origins[0])):
            await _reply(send, 403, "requests from web pages of other origins are refused")
            return False
        return True

    async def _authorized(self, headers: list[tuple[bytes, bytes]], send: Any) -> Any | None:
        """The token's identity (an SDK ``AuthenticatedUser``) when the request carries a valid token."""
        from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
        from mcp.server.auth.provider import AccessToken

        values = [v for k, v in headers if k == b"authorization"]
        if len(values) > 1:
            await _reply(send, 400, "send exactly one Authorization header")
            return None
        scheme, _, credentials = (values[0] if values else b"").strip().partition(b" ")
        if scheme.lower() == b"bearer":
            # every token compared, in constant time, so the answer's timing does not say which one matched
            matches = [hmac.compare_digest(credentials.strip(), token) for token in self.tokens]
            if any(matches):
                identity = f"token-{matches.index(True) + 1}"
                return AuthenticatedUser(AccessToken(token=identity, client_id=identity, scopes=[]))
        await _reply(
            send,
            401,
            "missing or wrong bearer token: send 'Authorization: Bearer <FEA_AGENT_TOKEN>'",
            [(b"www-authenticate", b'Bearer realm="fea-agent"')],
        )
        return None

    async def _read_body(self, receive: Any) -> bytes | None:
        """The whole body; None when the client disconnected first."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_request_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _json_rpc_ok(self, body: bytes, send: Any) -> bool:
        """Framing errors answered here, as JSON-RPC says: the SDK answers them with 500, an empty stream, or
        -32602 with the id "server-error"."""
        values = json_values(body)
        if values > self.limits.max_json_values:
            await _rpc_error(
                send,
                400,
                None,
                INVALID_REQUEST,
                f"Invalid Request: the body holds about {values:,} JSON values, above the limit of "
                f"{self.limits.max_json_values:,}",
            )
            return False
        try:
            if len(body) > _PARSE_IN_THREAD_BYTES:
                message = await anyio.to_thread.run_sync(_parse, body)
            else:
                message = _parse(body)
        except (UnicodeError, ValueError, RecursionError) as exc:
            # ValueError: bad JSON, or an integer too long to convert; RecursionError: nesting too deep
            reason = "too deeply nested" if isinstance(exc, RecursionError) else str(exc)[:200]
            await _rpc_error(send, 400, None, PARSE_ERROR, f"Parse error: {reason}")
            return False
        problem = _framing_problem(message)
        if problem is not None:
            await _rpc_error(send, 400, None, INVALID_REQUEST, f"Invalid Request: {problem}")
            return False
        method = message.get("method")
        if isinstance(method, str) and method not in MCP_METHODS:
            request_id = message.get("id")
            request_id = request_id if isinstance(request_id, (str, int)) else None
            status = 200 if "id" in message else 400  # a notification has no id and gets no JSON-RPC answer
            await _rpc_error(send, status, request_id, METHOD_NOT_FOUND, f"Method not found: {method[:100]}")
            return False
        return True

    def _too_large(self) -> str:
        return f"request is larger than the limit of {self.max_request_bytes:,} bytes; send a smaller image"


def _parse(body: bytes) -> Any:
    message = json.loads(body.decode("utf-8"))
    if _SURROGATE_ESCAPE.search(body):
        json.dumps(message, ensure_ascii=False).encode("utf-8")  # a lone surrogate fails here
    return message


def _framing_problem(message: Any) -> str | None:
    """What makes ``message`` not a single JSON-RPC 2.0 message (MCP has no batches since 2025-06-18)."""
    if not isinstance(message, dict):
        return f"expected one JSON-RPC message (an object), got {type(message).__name__}"
    if message.get("jsonrpc") != "2.0":
        return 'the "jsonrpc" member must be "2.0"'
    if "id" in message and (isinstance(message["id"], bool) or not isinstance(message["id"], (str, int))):
        return '"id" must be a string or an integer'
    if "method" in message:
        if not isinstance(message["method"], str):
            return '"method" must be a string'
        return None if isinstance(message.get("params", {}), dict) else '"params" must be an object'
    if ("result" in message or "error" in message) and "id" in message:
        return None
    return 'a message needs a "method" (request, notification) or an "id" with a "result" or "error"'


def resolve_token(host: str, token: str | None = None, *, allow_no_auth: bool = False) -> str | None:
    """The token(s) to require, from the argument or FEA_AGENT_TOKEN (comma-separated for several); refuses
    unsafe setups with ValueError."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    for one in _tokens(token):
        if len(one) < 16:
            raise ValueError(
                f"{TOKEN_ENV} holds a token of {len(one)} characters; use at least 16 random characters each"
            )
    if token is not None and not _tokens(token):
        token = None
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


def http_app(
    server: Any,
    *,
    token: str | None,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    host: str | None = None,
    limits: HttpLimits | None = None,
) -> Any:
    """The FastMCP server's streamable HTTP app (endpoint /mcp) behind the guard.

    ``host`` is the bind address (default ``server.settings.host``): Host/Origin checks are on when it is loopback (however
    spelled) and whenever there is no token; without a token a non-loopback address is refused.
    """
    from mcp.server.transport_security import TransportSecuritySettings

    limits = limits or HttpLimits()
    host = host if host is not None else server.settings.host
    loopback = is_loopback(host)
    if token is None and not loopback:
        raise ValueError(f"refusing to serve on {host} without a token")
    # The SDK enforces its own body limit (4 MiB by default) after ours: it must be ours. Its Host/Origin
    # check knows only three spellings of loopback and answers in plain text; ours covers every spelling.
    server.settings.max_request_body_size = max_request_bytes
    server.settings.transport_security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    # Sessions of clients that never close them (the SDK keeps them 30 minutes, up to 10,000 of them).
    server.settings.session_idle_timeout = limits.session_idle_s
    server.settings.max_sessions = limits.max_sessions
    return GuardMiddleware(
        server.streamable_http_app(),
        token=token,
        max_request_bytes=max_request_bytes,
        check_host=loopback or token is None,
        limits=limits,
    )


def run_http(
    server: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    log_level: str = "warning",
    limits: HttpLimits | None = None,
) -> None:
    """Serve until interrupted; ``limits`` default to :meth:`HttpLimits.from_env`."""
    import uvicorn

    limits = limits or HttpLimits.from_env()
    app = http_app(server, token=token, max_request_bytes=max_request_bytes, host=host, limits=limits)
    uvicorn.Server(server_config(app, host=host, port=port, limits=limits, log_level=log_level)).run()
