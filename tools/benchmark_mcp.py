"""Benchmark the MCP server: analyze_face latency in-process vs over stdio vs over streamable HTTP (the
overhead per call), and HTTP throughput with 1, 4 and 16 concurrent clients.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/benchmark_mcp.py [--runs 20] [--image PATH] [--no-annotate]

The image goes inline as base64 (as a remote client sends it). Latency is the median of ``--runs`` calls
after two warm-up calls; stdio and the latency part of HTTP use one pipeline (``--workers 1``) so that
they compare with the in-process call; the throughput part uses ``--http-workers`` pipelines.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path

from _mcp_server import start_http_server
from _paths import EDGE
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

DEFAULT_IMAGE = EDGE / "skimage_astronaut.png"


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples):7.1f} ms  (p10 {_pct(samples, 10):.1f}, p90 {_pct(samples, 90):.1f})"


def _pct(samples: list[float], q: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_in_process(args: dict, runs: int) -> list[float]:
    from fea_agent.agent_tools import TOOL_SPECS, ToolContext
    from fea_agent.mcp import to_call_result
    from fea_agent.pipeline import FEAPipeline

    spec = TOOL_SPECS["analyze_face"]
    with FEAPipeline() as pipeline:
        ctx = ToolContext(pipeline)
        samples = []
        for i in range(runs + 2):
            started = time.perf_counter()
            to_call_result(spec.call(ctx, args))  # the same work the server does, minus the transport
            if i >= 2:
                samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _timed_calls(session: ClientSession, args: dict, runs: int) -> list[float]:
    samples = []
    for i in range(runs + 2):
        started = time.perf_counter()
        result = await session.call_tool("analyze_face", args)
        if result.isError:
            raise RuntimeError(result.content[0].text)
        if i >= 2:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def bench_stdio(args: dict, runs: int) -> list[float]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "fea_agent", "serve", "mcp", "--workers", "1"],
        env=dict(os.environ),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await _timed_calls(session, args, runs)


async def bench_http_latency(url: str, token: str, args: dict, runs: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        streamablehttp_client(url, headers=headers) as (read, write, _),
        ClientSession(read, write) as s,
    ):
        await s.initialize()
        return await _timed_calls(s, args, runs)


async def bench_http_throughput(url: str, token: str, args: dict, clients: int, calls_each: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}

    async def client() -> None:
        async with (
            streamablehttp_client(url, headers=headers, timeout=300) as (read, write, _),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            await s.call_tool("analyze_face", args)  # warm-up, not timed
            await barrier.wait()
            for _ in range(calls_each):
                result = await s.call_tool("analyze_face", args)
                if result.isError:
                    raise RuntimeError(result.content[0].text)

    barrier = asyncio.Barrier(clients + 1)
    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await barrier.wait()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    return clients * calls_each / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-annotate", action="store_true", help="leave the annotated picture out")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="send the file's own bytes (default: re-encoded as JPEG q90, as clients do)",
    )
    parser.add_argument("--http-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--calls-per-client", type=int, default=8)
    opts = parser.parse_args()

    payload = opts.image.read_bytes()
    if not opts.raw:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.open(opts.image).convert("RGB").save(buffer, format="JPEG", quality=90)
        payload = buffer.getvalue()
    args = {"image": base64.b64encode(payload).decode(), "annotate": not opts.no_annotate}
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"image: {opts.image.name} ({len(args['image']):,} base64 chars), annotate={args['annotate']}")

    in_process = bench_in_process(args, opts.runs)
    print(f"in-process      {_ms(in_process)}")
    stdio = asyncio.run(bench_stdio(args, opts.runs))
    print(
        f"stdio           {_ms(stdio)}   overhead {statistics.median(stdio) - statistics.median(in_process):+.1f} ms"
    )

    token = secrets.token_urlsafe(24)
    proc, url = start_http_server(1, token, timeout_s=120)
    try:
        http = asyncio.run(bench_http_latency(url, token, args, opts.runs))
    finally:
        proc.terminate()
        proc.wait()
    print(
        f"http            {_ms(http)}   overhead {statistics.median(http) - statistics.median(in_process):+.1f} ms"
    )

    proc, url = start_http_server(opts.http_workers, token, timeout_s=120)
    try:
        for clients in opts.concurrency:
            rate = asyncio.run(bench_http_throughput(url, token, args, clients, opts.calls_per_client))
            print(
                f"http throughput {clients:3d} clients: {rate:6.1f} calls/s ({opts.http_workers} pipelines)"
            )
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
