"""Starting ``fea-agent serve mcp --transport http`` on a free loopback port, for the MCP benchmark and stress
tools (imported from the scripts beside it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx


def start_http_server(
    workers: int,
    token: str,
    *extra: str,
    timeout_s: float = 300.0,
    env: dict[str, str] | None = None,
    stderr: Any = subprocess.DEVNULL,
    nofile: int | None = None,
) -> tuple[subprocess.Popen, str]:
    """The server process and its ``/mcp`` URL, once it answers; RuntimeError if it exits or never answers.

    ``env`` adds to the environment; ``nofile`` sets the server's limit on open files (soft and hard)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "fea_agent", "serve", "mcp", "--transport", "http", "--port", str(port)]

    def limit_files() -> None:
        if nofile is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        [*cmd, "--workers", str(workers), *extra],
        env={**os.environ, "FEA_AGENT_TOKEN": token, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        preexec_fn=limit_files if nofile is not None else None,
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
