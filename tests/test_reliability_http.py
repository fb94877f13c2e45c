"""The MCP server over real streamable HTTP (uvicorn in a thread, bound to each loopback spelling): DNS-rebinding
checks, auth header parsing, the request size limit end to end, JSON-RPC framing errors, special files."""

from __future__ import annotations

import base64
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import EDGE, needs_shared
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

from fea_agent.agent_tools import MAX_IMAGE_BYTES, ImagePolicy
from fea_agent.mcp import Runtime, build_server
from fea_agent.mcp.http import http_app

TOKEN = "t" * 8 + "0123456789abcdef"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host if host != "localhost" else "127.0.0.1", 0))
        return s.getsockname()[1]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@contextmanager
def serving(runtime: Runtime, host: str, *, token: str | None = None, **limits: int) -> Iterator[str]:
    """A real uvicorn server bound to ``host`` in a thread; yields the endpoint URL."""
    import uvicorn

    port = _free_port(host)
    app = http_app(build_server(runtime, host=host, port=port), token=token, host=host, **limits)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://{_url_host(host)}:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def runtime(pipeline, tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    allowed = tmp_path_factory.mktemp("allowed")
    os.mkfifo(allowed / "fifo.jpg")
    (allowed / "folder.jpg").mkdir()
    return Runtime(policy=ImagePolicy.allowing(allowed, "/dev"), pipelines=[pipeline])


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "0:0:0:0:0:0:0:1"])
def test_every_loopback_spelling_without_a_token_refuses_foreign_hosts_and_origins(
    runtime: Runtime, host: str
):
    with serving(runtime, host) as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        evil_origin = httpx.post(url, json=INIT, headers={**ACCEPT, "Origin": "http://evil.example"})
        assert evil_origin.status_code == 403 and "other origins" in evil_origin.json()["error"]
        null_origin = httpx.post(url, json=INIT, headers={**ACCEPT, "Origin": "null"})
        assert null_origin.status_code == 403
        rebound = httpx.post(url, json=INIT, headers={**ACCEPT, "Host": f"evil.example:{port}"})
        assert rebound.status_code == 421 and "Host header" in rebound.json()["error"]
        ok = httpx.post(url, json=INIT, headers={**ACCEPT, "Origin": f"http://{_url_host(host)}:{port}"})
        assert ok.status_code == 200, ok.text
        assert "serverInfo" in ok.text


def test_bearer_scheme_is_case_insensitive_and_one_authorization_header_only(runtime: Runtime):
    with serving(runtime, "127.0.0.1", token=TOKEN) as url:
        for scheme in ("Bearer", "bearer", "BEARER"):
            response = httpx.post(url, json=INIT, headers={**ACCEPT, "Authorization": f"{scheme} {TOKEN}"})
            assert response.status_code == 200, (scheme, response.text)
        twice = httpx.Headers(
            [*ACCEPT.items(), ("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer x")]
        )
        response = httpx.post(url, json=INIT, headers=twice)
        assert response.status_code == 400 and "one Authorization header" in response.json()["error"]
        assert (
            httpx.post(url, json=INIT, headers={**ACCEPT, "Authorization": "Basic " + TOKEN}).status_code
            == 401
        )


def test_malformed_json_rpc_gets_parse_invalid_request_and_method_not_found_errors(runtime: Runtime):
    with serving(runtime, "127.0.0.1") as url:
        bodies = {
            "invalid UTF-8": b'{"jsonrpc": "2.0", "id": 1, "method": "\xff\xfe"}',
            "deep nesting": b"[" * 50_000 + b"]" * 50_000,
            "5,000-digit id": b'{"jsonrpc": "2.0", "id": ' + b"9" * 5000 + b', "method": "ping"}',
            "not JSON": b"{nope",
            "a lone surrogate": b'{"jsonrpc": "2.0", "id": "\\ud800", "method": "ping"}',
        }
        for what, body in bodies.items():
            response = httpx.post(url, content=body, headers=ACCEPT)
            assert response.status_code == 400, what
            assert response.json()["error"]["code"] == -32700, what
        unknown = httpx.post(url, json={"jsonrpc": "2.0", "id": 7, "method": "tools/destroy"}, headers=ACCEPT)
        assert unknown.json() == {
            "jsonrpc": "2.0",
            "id": 7,
            "error": {"code": -32601, "message": "Method not found: tools/destroy"},
        }
        invalid = {
            "a batch": [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
            "JSON-RPC 1.0": {"jsonrpc": "1.0", "id": 1, "method": "ping"},
            "no method": {"jsonrpc": "2.0", "id": 1},
            "a float id": {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
            "params not an object": {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": 5},
            "a string": "ping",
        }
        for what, message in invalid.items():
            response = httpx.post(url, json=message, headers=ACCEPT)
            assert response.status_code == 400, what
            assert response.json()["error"]["code"] == -32600 and response.json()["id"] is None, what
        assert httpx.post(url, json=INIT, headers=ACCEPT).status_code == 200  # and the server goes on


def test_oversized_request_is_a_413_json_error(runtime: Runtime):
    with serving(runtime, "127.0.0.1", max_request_bytes=100_000) as url:
        declared = httpx.post(url, content=b"x" * 200_000, headers=ACCEPT)
        assert declared.status_code == 413 and "larger than the limit of 100,000" in declared.json()["error"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
            for _ in range(20):
                yield b"x" * 10_000

        streamed = httpx.post(url, content=chunks(), headers=ACCEPT)
        assert streamed.status_code == 413 and "error" in streamed.json()


def _call_each(url: str, tool: str, images: list[str]) -> list:
    """One SDK client session calling ``tool`` once per image."""
    import anyio

    async def go() -> list:
        async with (
            streamablehttp_client(url, timeout=120) as (read, write, _),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            return [await s.call_tool(tool, {"image": image}) for image in images]

    return anyio.run(go)


@needs_shared
@pytest.mark.slow
def test_a_photo_near_the_documented_maximum_is_analysed_with_default_settings(
    runtime: Runtime, tmp_path: Path
):
    """A 25 MB photo (the astronaut, upscaled, as BMP) over streamable HTTP with the default limits."""
    from PIL import Image

    photo = Image.open(EDGE / "skimage_astronaut.png").convert("RGB").resize((2880, 2880))
    buffer = io.BytesIO()
    photo.save(buffer, "BMP")
    data = buffer.getvalue()
    assert 24_000_000 < len(data) <= MAX_IMAGE_BYTES
    image = "data:image/bmp;base64," + base64.b64encode(data).decode()
    with serving(runtime, "127.0.0.1") as url:
        (result,) = _call_each(url, "detect_faces", [image])
    assert not result.isError, result.content[0].text
    assert len(result.structuredContent["faces"]) == 1


def test_special_files_are_refused_over_mcp_within_a_second_and_the_server_goes_on(runtime: Runtime):
    allowed = runtime.policy.allowed_dirs[0]
    paths = [str(allowed / "fifo.jpg"), str(allowed / "folder.jpg"), "/dev/zero", "/dev/null"]
    with serving(runtime, "127.0.0.1") as url:
        started = time.monotonic()
        results = _call_each(url, "detect_faces", [*paths, "~nosuchuser/a.jpg"])
        elapsed = time.monotonic() - started
    expected = [
        "FIFO",
        "directory",
        "character device",
        "character device",
        "accepts no|outside|no such user",
    ]
    for result, words in zip(results, expected, strict=True):
        assert result.isError
        assert any(w in result.content[0].text for w in words.split("|")), result.content[0].text
    assert elapsed < 5  # five refusals and a session set-up; a FIFO read would block forever


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "::ffff:127.0.0.1", "127.1", "evil.example", "192.168.1.2"]
)
def test_addresses_that_are_not_plainly_loopback_do_not_start_without_a_token(
    runtime: Runtime, host: str, monkeypatch
):
    from fea_agent.mcp.http import resolve_token

    monkeypatch.delenv("FEA_AGENT_TOKEN", raising=False)
    with pytest.raises(ValueError, match="without a token"):
        resolve_token(host, allow_no_auth=True)
    with pytest.raises(ValueError, match="without a token"):
        http_app(build_server(runtime, host=host), token=None)
