"""Load the MCP server over streamable HTTP on 127.0.0.1: N concurrent clients, mixed good and bad inputs;
latency percentiles, failures on good inputs, and the server's RSS over time.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/stress.py --clients 16 --calls 1000 [--max-minutes 60]

The server is ``fea-agent serve mcp --transport http`` in a subprocess (a token, ``--workers``), with one
folder allowed for paths (it holds a FIFO, a folder and a photo). Each client opens its own session and makes
``--calls`` calls in a seeded random mix: good photos (real portraits and the edge-case photos, inline as
base64, through analyze_face, detect_faces, classify_expression), catalogue look-ups, and bad inputs (text
that is not base64, bytes that are not an image, a truncated photo, a PNG whose text chunk inflates past Pillow's limit, an empty argument, a FIFO, a
folder, a path outside the allowed folder, an unknown AU). A good call that errors is a failure; a bad call
that does not error is a failure too. The run stops issuing calls after ``--max-minutes``.

Printed: calls, failures, latency p50/p90/p99/max for good and bad calls, throughput, and RSS (MB) sampled
twice a second, with the growth from the sample at call 200 (after warm-up) to the end (target: < 5 %).
``--json PATH`` writes every figure and the RSS series.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import secrets
import struct
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _mcp_server import start_http_server
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WARM_UP_CALLS = 200


@dataclass
class Figures:
    clients: int
    calls_per_client: int
    seed: int
    workers: int
    calls: int = 0
    good_calls: int = 0
    bad_calls: int = 0
    good_failures: list[str] = field(default_factory=list)
    bad_accepted: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    good_ms: dict[str, float] = field(default_factory=dict)
    bad_ms: dict[str, float] = field(default_factory=dict)
    rss_mb: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, calls done, MB)
    rss_at_warm_up_mb: float | None = None
    rss_end_mb: float | None = None
    rss_growth_pct: float | None = None


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)

    return {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": round(ordered[-1], 1)}


def _photos(limit: int = 24) -> list[str]:
    """Real photos as base64: frl-london portraits (longer side 640 px) and the edge-case photos."""
    paths = sorted((DATA / "frl-london" / "images").rglob("*.jpg"))[: limit // 2]
    paths += sorted((DATA / "edge-cases" / "images").glob("pexels_*"))
    encoded = []
    for path in paths[:limit]:
        img = Image.open(path).convert("RGB")
        img.thumbnail((640, 640))
        buffer = io.BytesIO()
        img.save(buffer, "JPEG", quality=90)
        encoded.append(base64.b64encode(buffer.getvalue()).decode())
    if not encoded:
        raise SystemExit(f"no photos found under {DATA}")
    return encoded


def _text_bomb_png() -> bytes:
    """A small PNG with a zTXt chunk that decompresses to 50 MB (past Pillow's limit)."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (180, 120, 90)).save(buffer, "PNG")
    png = buffer.getvalue()
    body = b"Comment\0\0" + zlib.compress(b"a" * (50 << 20))
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body + struct.pack(">I", zlib.crc32(b"zTXt" + body))
    return png[:33] + chunk + png[33:]


def _bad_inputs(photo: str, allowed: Path) -> list[tuple[str, dict]]:
    raw = base64.b64decode(photo)
    bomb = base64.b64encode(_text_bomb_png()).decode()
    return [
        ("analyze_face", {"image": "this is not base64 at all!"}),
        ("analyze_face", {"image": base64.b64encode(b"just some text, not an image" * 10).decode()}),
        ("detect_faces", {"image": base64.b64encode(raw[: len(raw) // 3]).decode()}),
        ("classify_expression", {"image": "data:image/png;base64," + bomb}),
        ("analyze_face", {"image": ""}),
        ("analyze_face", {"image": str(allowed / "fifo.jpg")}),
        ("detect_faces", {"image": str(allowed / "folder.jpg")}),
        ("analyze_face", {"image": "/etc/hostname"}),
        ("describe_action_unit", {"code": "AU99"}),
    ]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def _run(args: argparse.Namespace, url: str, token: str, pid: int, allowed: Path) -> Figures:
    figures = Figures(clients=args.clients, calls_per_client=args.calls, seed=args.seed, workers=args.workers)
    photos = _photos()
    good_ms: list[float] = []
    bad_ms: list[float] = []
    started = time.monotonic()
    stop_at = started + args.max_minutes * 60
    headers = {"Authorization": f"Bearer {token}"}

    async def sample_rss() -> None:
        while True:
            rss = _rss_mb(pid)
            if rss is not None:
                figures.rss_mb.append((round(time.monotonic() - started, 1), figures.calls, round(rss, 1)))
                if figures.rss_at_warm_up_mb is None and figures.calls >= WARM_UP_CALLS:
                    figures.rss_at_warm_up_mb = round(rss, 1)
            await asyncio.sleep(0.5)

    async def client(index: int) -> None:
        rng = random.Random(args.seed * 1000 + index)
        bad = _bad_inputs(rng.choice(photos), allowed)
        try:
            async with (
                streamablehttp_client(url, headers=headers, timeout=300) as (read, write, _),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                for _ in range(args.calls):
                    if time.monotonic() > stop_at:
                        return
                    roll = rng.random()
                    if roll < 0.5:
                        tool = rng.choice(["analyze_face", "detect_faces", "classify_expression"])
                        call, good = (tool, {"image": rng.choice(photos)}), True
                    elif roll < 0.6:
                        call, good = (
                            ("describe_action_unit", {"code": rng.choice(["AU12", "6+12", "AU4"])}),
                            True,
                        )
                    else:
                        call, good = rng.choice(bad), False
                    t0 = time.perf_counter()
                    result = await session.call_tool(*call)
                    ms = (time.perf_counter() - t0) * 1000
                    figures.calls += 1
                    if good:
                        figures.good_calls += 1
                        good_ms.append(ms)
                        if result.isError:
                            figures.good_failures.append(f"{call[0]}: {result.content[0].text[:200]}")
                    else:
                        figures.bad_calls += 1
                        bad_ms.append(ms)
                        if not result.isError:
                            figures.bad_accepted.append(f"{call[0]} {str(call[1])[:80]}")
        except Exception as exc:  # a broken session is a finding, reported, not a crash of the tool
            figures.transport_errors.append(f"client {index}: {type(exc).__name__}: {exc}"[:300])

    sampler = asyncio.create_task(sample_rss())
    await asyncio.gather(*(client(i) for i in range(args.clients)))
    sampler.cancel()
    figures.seconds = round(time.monotonic() - started, 1)
    figures.good_ms = _percentiles(good_ms)
    figures.bad_ms = _percentiles(bad_ms)
    end = _rss_mb(pid)
    figures.rss_end_mb = round(end, 1) if end is not None else None
    if figures.rss_at_warm_up_mb and figures.rss_end_mb:
        figures.rss_growth_pct = round(100 * (figures.rss_end_mb / figures.rss_at_warm_up_mb - 1), 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--calls", type=int, default=1000, help="calls per client")
    parser.add_argument("--workers", type=int, default=None, help="server pipelines (default: its own)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=60.0, help="stop issuing calls after this")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    args.workers = args.workers or min(4, os.cpu_count() or 1)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="fea-stress-") as folder:
        allowed = Path(folder)
        os.mkfifo(allowed / "fifo.jpg")
        (allowed / "folder.jpg").mkdir()
        proc, url = start_http_server(args.workers, token, "--allow-dir", str(allowed))
        try:
            figures = asyncio.run(_run(args, url, token, proc.pid, allowed))
            alive = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"{figures.calls} calls ({figures.good_calls} good, {figures.bad_calls} bad) from {figures.clients} "
        f"clients in {figures.seconds} s ({figures.calls / max(figures.seconds, 1e-9):.1f} calls/s), "
        f"{figures.workers} server workers, seed {figures.seed}"
    )
    print(
        f"good inputs that failed: {len(figures.good_failures)}; bad inputs accepted: {len(figures.bad_accepted)}"
    )
    print(f"broken client sessions: {len(figures.transport_errors)}; server alive at the end: {alive}")
    print(f"latency ms, good: {figures.good_ms}")
    print(f"latency ms, bad:  {figures.bad_ms}")
    series = figures.rss_mb
    if series:
        step = max(1, len(series) // 12)
        print("RSS MB over time (s, calls, MB): " + ", ".join(str(s) for s in series[::step] + series[-1:]))
    print(
        f"RSS at call {WARM_UP_CALLS}: {figures.rss_at_warm_up_mb} MB, at the end: {figures.rss_end_mb} MB, "
        f"growth {figures.rss_growth_pct} %"
    )
    for what in (figures.good_failures, figures.bad_accepted, figures.transport_errors):
        for line in what[:5]:
            print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=1))
    ok = alive and not (figures.good_failures or figures.bad_accepted or figures.transport_errors)
    growth_ok = figures.rss_growth_pct is None or figures.rss_growth_pct < 5
    return 0 if ok and growth_ok else 1


if __name__ == "__main__":
    sys.exit(main())
