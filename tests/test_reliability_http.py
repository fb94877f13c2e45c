"""The MCP server over real streamable HTTP (uvicorn in a thread, bound to each loopback spelling): DNS-rebinding
checks, auth header parsing, the request size limit end to end, JSON-RPC framing errors, special files."""

from __future__ import annotations

import base64
import io
import json
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
from fea_agent.mcp.connections import ACCEPT_BACKLOG, HttpLimits, connection_cap, server_config
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
def serving(
    runtime: Runtime,
    host: str,
    *,
    token: str | None = None,
    limits: HttpLimits | None = None,
    **options: int,
) -> Iterator[str]:
    """A real uvicorn server bound to ``host`` in a thread, configured as ``fea-agent serve`` configures it
    (its connection guard included); yields the endpoint URL."""
    import uvicorn

    port = _free_port(host)
    limits = limits or HttpLimits()
    app = http_app(
        build_server(runtime, host=host, port=port), token=token, host=host, limits=limits, **options
    )
    server = uvicorn.Server(server_config(app, host=host, port=port, limits=limits, log_level="error"))
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
            "deep nesting": b"[" * 5_000 + b"]" * 5_000,  # under the value limit: the parser refuses it
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


# -- slow and greedy clients --------------------------------------------------------------------------------


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _half_open(
    port: int, source: str, n: int, head: bytes = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
) -> list:
    """``n`` connections from ``source`` that send the start of a request and never finish its headers."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(head)
        s.settimeout(10)
        socks.append(s)
    return socks


def _answer(s: socket.socket) -> bytes:
    """What the server sent before it closed the connection."""
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except ConnectionResetError:  # closed with our bytes unread: what arrived before still counts
        pass
    s.close()
    return data


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _initialized(client: httpx.Client, url: str, headers: dict) -> str:
    """A new session's id, after initialize and the initialized notification."""
    opened = client.post(url, json=INIT, headers={**ACCEPT, **headers})
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    sent = client.post(url, json=note, headers={**ACCEPT, **headers, "mcp-session-id": session})
    assert sent.status_code == 202, sent.text
    return session


def _ping(client: httpx.Client, url: str, headers: dict, session: str) -> httpx.Response:
    message = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    return client.post(url, json=message, headers={**ACCEPT, **headers, "mcp-session-id": session})


def test_connections_that_never_finish_their_headers_are_cut_and_capped_while_good_calls_go_on(
    runtime: Runtime,
):
    limits = HttpLimits(header_timeout_s=1.0, max_connections_per_client=20)
    with serving(runtime, "127.0.0.1", limits=limits) as url:
        fds = _open_fds()
        started = time.monotonic()
        held = _half_open(_port(url), "127.0.0.2", 50, b"")  # a slowloris from another address: connected,
        latencies = []
        with httpx.Client(timeout=10) as client:
            for _ in range(5):  # good calls from this address, each on a new connection
                t0 = time.monotonic()
                assert httpx.post(url, json=INIT, headers=ACCEPT).status_code == 200
                latencies.append(time.monotonic() - t0)
            del client
        answers = [_answer(s) for s in held]
        took = time.monotonic() - started
        time.sleep(0.2)
        assert _open_fds() <= fds + 2  # every one of them closed
    cut = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
    refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
    assert (len(cut), len(refused)) == (20, 30), answers[:3]
    assert b'"error": "the request\'s headers did not arrive within 1 s"' in cut[0]  # and silent
    assert b"20 connections from your address are open already" in refused[0]
    assert took < 5 and max(latencies) < 1


def test_a_header_sent_a_byte_at_a_time_is_cut_at_its_deadline_also_on_a_reused_connection(runtime: Runtime):
    with serving(runtime, "127.0.0.1", limits=HttpLimits(header_timeout_s=0.6)) as url:
        (s,) = _half_open(_port(url), "127.0.0.1", 1, b"P")
        started = time.monotonic()
        try:
            for byte in b"OST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40:
                s.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _answer(s)
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 1.5
        # after a whole request and its answer, the next request's headers have the same deadline
        body = json.dumps(INIT).encode()
        request = (
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        (s,) = _half_open(_port(url), "127.0.0.1", 1, request)
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        s.sendall(b"POST /mcp HTTP/1.1\r\n")
        rest = _answer(s)
        assert b"HTTP/1.1 408" in rest


def test_one_accept_burst_over_the_cap_still_fits_in_the_open_file_limit():
    """Reconnecting clients refused at the cap are accepted in bursts of the backlog before any closes: with
    uvicorn's 2,048 a limit of 1,024 files ran out ("Too many open files" 690,282 times under tools/stress.py's
    slowloris); with the small backlog the cap, the burst and the server's own files fit."""
    for open_files in (256, 1024, 4096):
        assert connection_cap(HttpLimits(), open_files) + ACCEPT_BACKLOG + 32 <= open_files
    assert server_config(object(), host="127.0.0.1", port=0, limits=HttpLimits()).backlog == ACCEPT_BACKLOG


def test_the_total_connection_cap_refuses_cleanly_and_frees_up(runtime: Runtime):
    limits = HttpLimits(header_timeout_s=1.0, max_connections=8)
    with serving(runtime, "127.0.0.1", limits=limits) as url:
        held = [s for i in range(4) for s in _half_open(_port(url), f"127.0.0.{10 + i}", 3, b"")]
        answers = [_answer(s) for s in held]
        assert sum(a.startswith(b"HTTP/1.1 503") for a in answers) == 4  # 12 tried, 8 allowed
        assert b"the server has 8 connections open" in next(a for a in answers if b" 503 " in a[:20])
        assert httpx.post(url, json=INIT, headers=ACCEPT).status_code == 200  # room again


def test_malformed_http_and_a_wrong_content_type_get_json_errors(runtime: Runtime):
    with serving(runtime, "127.0.0.1") as url:
        (s,) = _half_open(_port(url), "127.0.0.1", 1, b"GARBAGE\r\n\r\n")
        answer = _answer(s)
        assert answer.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "Invalid HTTP request received."
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"Accept": ACCEPT["Accept"], **({"Content-Type": content_type} if content_type else {})}
            wrong = httpx.post(url, content=json.dumps(INIT), headers=headers)
            assert wrong.status_code == 415, content_type
            assert "Content-Type: application/json" in wrong.json()["error"]


def test_a_request_of_too_many_json_values_is_refused_unparsed_without_stalling_others(runtime: Runtime):
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": [' + b"[]," * 1_000_000 + b"[]]}}"
    with serving(runtime, "127.0.0.1") as url:
        started = time.monotonic()
        refused = httpx.post(url, content=body, headers=ACCEPT, timeout=30)
        took = time.monotonic() - started
        assert refused.status_code == 400 and refused.json()["error"]["code"] == -32600
        assert "about 2,000,007 JSON values, above the limit of 10,000" in refused.json()["error"]["message"]
        assert took < 1.0, took
        assert httpx.post(url, json=INIT, headers=ACCEPT).status_code == 200


def test_a_body_that_stalls_gets_408(runtime: Runtime):
    with serving(runtime, "127.0.0.1", limits=HttpLimits(body_timeout_s=1.0)) as url:
        head = (
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{"
        )
        (s,) = _half_open(_port(url), "127.0.0.1", 1, head)
        started = time.monotonic()
        answer = _answer(s)
        assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in answer
        assert time.monotonic() - started < 3


def test_sessions_belong_to_the_token_that_opened_them_and_end_when_idle(runtime: Runtime):
    other = "o" * 8 + "fedcba9876543210"
    mine, theirs = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Bearer {other}"}
    with (
        serving(runtime, "127.0.0.1", token=f"{TOKEN},{other}", limits=HttpLimits(session_idle_s=0.6)) as url,
        httpx.Client(timeout=10) as client,
    ):
        session = _initialized(client, url, mine)
        assert _ping(client, url, mine, session).status_code == 200
        assert _ping(client, url, theirs, session).status_code == 404  # as if it did not exist
        deleted = client.delete(url, headers={**ACCEPT, **theirs, "mcp-session-id": session})
        assert deleted.status_code == 404
        assert _ping(client, url, mine, session).status_code == 200  # still there for its owner
        time.sleep(1.2)
        assert _ping(client, url, mine, session).status_code == 404  # idle for longer than 0.6 s: gone
        assert _ping(client, url, theirs, _initialized(client, url, theirs)).status_code == 200


def test_tokens_must_each_be_long_enough(monkeypatch):
    from fea_agent.mcp.http import resolve_token

    monkeypatch.setenv("FEA_AGENT_TOKEN", f"{TOKEN},short")
    with pytest.raises(ValueError, match="a token of 5 characters"):
        resolve_token("127.0.0.1")


@needs_shared
def test_a_video_call_stops_when_its_client_disconnects(pipeline, caplog: pytest.LogCaptureFixture):
    from conftest import VIDEO

    runtime = Runtime(policy=ImagePolicy.allowing(VIDEO.parent), pipelines=[pipeline])
    call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {
            "name": "analyze_video",
            "arguments": {"video": str(VIDEO)},
            "_meta": {"progressToken": 7},
        },
    }
    with serving(runtime, "127.0.0.1") as url, httpx.Client(timeout=30) as client:
        session = _initialized(client, url, {})
        headers = {**ACCEPT, "mcp-session-id": session}
        with caplog.at_level("INFO", logger="fea_agent.mcp.runtime"):
            with client.stream("POST", url, json=call, headers=headers) as response:
                for line in response.iter_lines():
                    if '"notifications/progress"' in line:
                        break  # a frame or more is done; now this client goes away
            started = time.monotonic()
            # One pipeline: the next call waits until the video call has let go of it (472 frames otherwise).
            with httpx.Client(timeout=60) as other:
                second = _initialized(other, url, {})
                message = {"jsonrpc": "2.0", "id": 4, "method": "tools/call"}
                message["params"] = {"name": "describe_action_unit", "arguments": {"code": "AU12"}}
                answered = other.post(url, json=message, headers={**ACCEPT, "mcp-session-id": second})
            waited = time.monotonic() - started
        assert answered.status_code == 200 and "Lip corner puller" in answered.text
        assert waited < 5, waited
        assert "analyze_video: the client disconnected; stopping the call" in caplog.text


def test_limits_come_from_the_environment_and_a_bad_one_stops_the_server_naming_it(monkeypatch):
    import subprocess
    import sys

    from conftest import SERVER_ENV

    monkeypatch.setenv("FEA_AGENT_HTTP_LIMITS", '{"max_connections_per_client": 8, "session_idle_s": 30}')
    limits = HttpLimits.from_env()
    assert (limits.max_connections_per_client, limits.session_idle_s, limits.header_timeout_s) == (8, 30, 10)
    bad = {**SERVER_ENV, "FEA_AGENT_HTTP_LIMITS": '{"header_timeout_s": -1, "max_conections": 3}'}
    cmd = [sys.executable, "-m", "fea_agent", "serve", "mcp", "--transport", "http", "--no-auth"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=bad)
    assert done.returncode == 2
    assert "FEA_AGENT_HTTP_LIMITS is not valid (header_timeout_s:" in done.stderr
    assert "max_conections: Extra inputs are not permitted" in done.stderr
