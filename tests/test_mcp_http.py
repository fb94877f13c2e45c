"""``fea-agent serve mcp --transport http`` as a real server process: bearer token, size limit, real clients
(the SDK's streamable HTTP client and langchain-mcp-adapters). One server for the module."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _mcp_server import start_http_server
from conftest import SERVER_ENV
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

pytestmark = pytest.mark.slow

TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # stderr to a file, not a pipe nobody reads: a chatty server must never block on a full pipe.
    log = (tmp_path_factory.mktemp("http") / "server.log").open("w+b")
    try:
        proc, endpoint = start_http_server(
            1, TOKEN, "--max-request-mb", "2", env=SERVER_ENV, stderr=log, timeout_s=60
        )
    except RuntimeError:
        log.seek(0)
        pytest.fail(f"server did not start: {log.read().decode()[-2000:]}")
    try:
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_no_token_or_a_wrong_one_is_401(url: str):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 401
        assert "bearer token" in response.json()["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_oversized_request_is_413(url: str):
    response = httpx.post(
        url,
        content=b"x" * (3 * 1024 * 1024),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["error"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_sdk_client_with_the_token_gets_results(url: str, astronaut: Path, anyio_backend: str):
    image = base64.b64encode(astronaut.read_bytes()).decode()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        streamablehttp_client(url, headers=headers) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert len((await session.list_tools()).tools) == 7
        result = await session.call_tool("analyze_face", {"image": image})
        assert result.structuredContent["faces"][0]["expression"]["label"] == "happiness"
        bad = await session.call_tool("analyze_face", {"image": "/etc/hostname"})
        assert bad.isError and "accepts no file paths" in bad.content[0].text  # none allowed by default


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_langchain_mcp_adapters_load_and_call_a_tool(url: str, astronaut: Path, anyio_backend: str):
    from langchain_mcp_adapters.client import MultiServerMCPClient

    client = MultiServerMCPClient(
        {"fea": {"transport": "streamable_http", "url": url, "headers": {"Authorization": f"Bearer {TOKEN}"}}}
    )
    tools = {t.name: t for t in await client.get_tools()}
    assert {"analyze_face", "explain_emotion", "describe_action_unit"} <= set(tools)
    image = base64.b64encode(astronaut.read_bytes()).decode()
    message = await tools["classify_expression"].ainvoke(
        {"type": "tool_call", "id": "call-1", "name": "classify_expression", "args": {"image": image}}
    )
    assert "happiness" in str(message.content)
    described = await tools["describe_action_unit"].ainvoke({"code": "AU12"})
    assert "Lip corner puller" in str(described)


def test_non_loopback_bind_without_a_token_is_refused():
    env = {k: v for k, v in SERVER_ENV.items() if k != "FEA_AGENT_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "fea_agent", "serve", "mcp", "--transport", "http", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without a token" in done.stderr
