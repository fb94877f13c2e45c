"""Connection limits for the HTTP server, below ASGI: uvicorn's h11 protocol with a header timeout and caps.

Uvicorn times a connection out only while it idles between two requests (``timeout_keep_alive``), and only
until its next byte arrives: a client that opens connections and sends their headers a byte at a time
(slowloris), or nothing at all, holds them for ever, until the process runs out of file descriptors and
every new client gets "Too many open files". :func:`guarded_protocol` gives uvicorn a protocol that

- closes a connection whose request headers are not complete ``header_timeout_s`` after it opened, or after
  its last response ended (a whole-header deadline: trickling bytes does not extend it), with 408;
- refuses a connection at once, with 503, while ``max_connections`` are open, or ``max_connections_per_client``
  from the same address (so one client cannot take every slot);
- answers malformed HTTP with a JSON body like every other refusal (uvicorn's is plain text).

:func:`raise_open_file_limit` lifts the soft limit on open files to the hard one, and :func:`connection_cap`
keeps ``max_connections`` below it, so the cap, not the kernel, is what a flood meets.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

LIMITS_ENV = "FEA_AGENT_HTTP_LIMITS"
#: Connections the event loop accepts in one go (uvicorn's default, 2,048, could take every free descriptor in
#: one burst of reconnecting clients before the refusals above the cap have closed any).
ACCEPT_BACKLOG = 128
#: Descriptors kept free beside the connections: models, logs, the listening socket, a client's video file, and
#: one accept burst of connections that are refused but not yet closed.
_RESERVED_FDS = 64 + ACCEPT_BACKLOG


class HttpLimits(BaseModel):
    """What the HTTP server allows each connection, client and request."""

    header_timeout_s: float = Field(10.0, gt=0, description="A request's headers must be complete this soon.")
    keep_alive_s: int = Field(
        5, ge=1, description="An idle connection between two requests is closed after this."
    )
    body_timeout_s: float = Field(120.0, gt=0, description="A request's body must be complete this soon.")
    max_connections: int | None = Field(
        None,
        ge=1,
        description="Open connections in all; None: 1,024, or fewer if the open-file limit is lower.",
    )
    max_connections_per_client: int = Field(64, ge=1, description="Open connections from one address.")
    max_json_values: int = Field(
        10_000,
        ge=16,
        description="A request holding more JSON arrays, objects and values is refused unparsed.",
    )
    session_idle_s: float = Field(600.0, gt=0, description="An HTTP session with no request this long ends.")
    max_sessions: int = Field(1_000, ge=1, description="Open HTTP sessions in all; more get 503.")

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def from_env(cls) -> HttpLimits:
        """The defaults, with any fields given as a JSON object in ``FEA_AGENT_HTTP_LIMITS``
        (``'{"max_connections_per_client": 16, "session_idle_s": 300}'``); ValueError naming a bad one."""
        text = os.environ.get(LIMITS_ENV, "").strip()
        if not text:
            return cls()
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"{LIMITS_ENV} is not valid ({problems})") from None


def raise_open_file_limit() -> int:
    """Lift the soft limit on open files to the hard limit (never lower it); the soft limit after."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(limits: HttpLimits, open_file_limit: int) -> int:
    """``limits.max_connections``, or 4,096; never above what the open-file limit leaves room for."""
    room = max(16, open_file_limit - _RESERVED_FDS)
    return min(limits.max_connections or 4096, room)


def refusal(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, with ``{"error": message}``."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def guarded_protocol(limits: HttpLimits, max_connections: int) -> type[asyncio.Protocol]:
    """A uvicorn ``http=`` protocol class with the limits above (one class per server: it counts clients)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    per_client: Counter[str] = Counter()

    class GuardedH11Protocol(H11Protocol):
        _address = ""
        _header_timer: asyncio.TimerHandle | None = None
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._address = self.client[0] if self.client else ""
            per_client[self._address] += 1
            if len(self.connections) > max_connections:
                self._refuse(503, f"the server has {max_connections:,} connections open; try again shortly")
            elif per_client[self._address] > limits.max_connections_per_client:
                self._refuse(
                    503,
                    f"{limits.max_connections_per_client} connections from your address are open already; "
                    "reuse one, or close some",
                )
            else:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            per_client[self._address] -= 1
            if per_client[self._address] <= 0:
                del per_client[self._address]
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._refused:  # bytes a refused client sent before it saw the refusal
                super().data_received(data)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's headers are complete: its cycle started
                self._disarm()

        def on_response_complete(self) -> None:
            self._arm()  # before uvicorn starts a pipelined request, which disarms it again
            super().on_response_complete()

        def send_400_response(self, msg: str) -> None:
            self._refuse(400, msg)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(limits.header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            self._refuse(408, f"the request's headers did not arrive within {limits.header_timeout_s:g} s")

        def _refuse(self, status: int, message: str) -> None:
            self._refused = True
            self._disarm()
            if not self.transport.is_closing():
                self.transport.write(refusal(status, message))
                self.transport.close()

    return GuardedH11Protocol


def server_config(app: Any, *, host: str, port: int, limits: HttpLimits, log_level: str = "warning") -> Any:
    """The ``uvicorn.Config`` for ``app`` with ``limits`` (the open-file limit raised first)."""
    import uvicorn

    cap = connection_cap(limits, raise_open_file_limit())
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits, cap),
        backlog=ACCEPT_BACKLOG,
        timeout_keep_alive=limits.keep_alive_s,
        log_level=log_level,
        access_log=False,
    )
