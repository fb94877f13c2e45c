"""Starting ``fea-agent serve mcp --transport http`` on a free loopback port, for the MCP benchmark and stress
tools (imported from the scripts beside it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def start_http_server(
    workers: int, token: str, *extra: str, timeout_s: float = 300.0
) -> tuple[subprocess.Popen, str]:
    """The server process and its ``/mcp`` URL, once it answers; RuntimeError if it exits or never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "fea_agent", "serve", "mcp", "--transport", "http", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--workers", str(workers), *extra],
        env={**os.environ, "FEA_AGENT_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=1)
            return proc, url
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the MCP server did not start") from None
            time.sleep(0.2)
