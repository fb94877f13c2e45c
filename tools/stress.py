"""Load the MCP server over streamable HTTP on 127.0.0.1: N concurrent clients, mixed good and bad inputs;
latency percentiles, failures on good inputs, and the server's RSS over time.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/stress.py --clients 16 --calls 1000 [--max-minutes 60]

The server is ``fea-agent serve mcp --transport http`` in a subprocess (a token, ``--workers``), with one
folder allowed for paths (it holds a FIFO, a folder and a photo). Each client opens its own session and makes
``--calls`` calls in a seeded random mix: good photos (real portraits and the edge-case photos, inline as
base64, through analyze_face, detect_faces, classify_expression), catalogue look-ups, and bad inputs (text
that is not base64, bytes that are not an image, a truncated photo, a PNG whose text chunk inflates past Pillow's limit, an empty argument, a FIFO, a
folder, a path outside the allowed folder, an unknown AU, an EPS, a PostScript file and a PDF). A good call that errors is a failure; a bad call
that does not error is a failure too. The run stops issuing calls after ``--max-minutes``.

Printed: calls, failures, latency p50/p90/p99/max for good and bad calls, throughput, and RSS (MB) sampled
twice a second, with the growth from the sample at call 200 (after warm-up) to the end (target: < 5 %).
``--json PATH`` writes every figure and the RSS series.

Attacks that run beside the clients (each also alone, with ``--calls 0``):

- ``--slowloris N``: N connections that never finish their headers, from ``--slowloris-addresses`` other
  loopback addresses (127.0.0.2, ...), for ``--slowloris-seconds``; each is reopened as soon as the server
  closes it. Reported: the good calls' latency while it lasts (target p99 < 5 s), connections the server
  cut or refused, the server's open descriptors at most, and any "Too many open files" (in the server's
  log, or a client's error). ``--nofile 1024`` starts the server with that limit on open files, hard and soft.
- ``--big-request``: one request of 33 MB of empty JSON lists (under the size limit), sent once the clients
  run; reported: its answer and time, the slowest good call while it was in flight (target < 2 s) and the
  server's RSS before it and 10 s after (target: within 10 %).
- ``--sessions N``: N sessions opened and never closed (the server started with a 20 s idle limit), another
  token's use of one (must be 404), the RSS with them open and after they expired.

The attacks start ``--attack-after`` seconds (10) into the run, when the server's RSS has settled; a probe
session looks up the catalogue every 0.2 s throughout, so stalls show even with ``--calls 0``.
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
from _paths import DATA
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from PIL import Image

WARM_UP_CALLS = 200
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n{} loop\n"
#: The idle limit the server gets for --sessions, so that the tool sees sessions expire.
SESSION_IDLE_S = 20.0


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
    fds_max: int | None = None
    attacks: dict[str, dict] = field(default_factory=dict)


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
        # Ghostscript would loop on these for ever if the decoder let them through (it is installed here)
        ("analyze_face", {"image": base64.b64encode(EPS).decode()}),
        ("detect_faces", {"image": base64.b64encode(b"%!PS\n{} loop\nshowpage\n").decode()}),
        ("classify_expression", {"image": base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()}),
    ]


def _open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def _window(samples: list[tuple[float, float]], start: float, end: float) -> dict[str, float]:
    """Percentiles of the latencies (ms) of calls that started between ``start`` and ``end``."""
    return _percentiles([ms for at, ms in samples if start <= at <= end])


async def _slowloris(port: int, n: int, addresses: int, seconds: float) -> dict:
    """``n`` connections (over ``addresses`` source addresses) that never finish their headers, each reopened
    as soon as the server closes it, for ``seconds``."""
    counts = {"opened": 0, "cut_408": 0, "refused_503": 0, "closed_silently": 0, "connect_errors": 0}
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    async def hold(i: int) -> None:
        source = f"127.0.0.{2 + i % addresses}"
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            except OSError as exc:
                counts["connect_errors"] += 1
                errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)
                continue
            counts["opened"] += 1
            try:
                writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
                left = deadline - time.monotonic()
                answer = await asyncio.wait_for(reader.read(4096), timeout=max(0.1, left))
                kind = answer[9:12]
                key = {b"408": "cut_408", b"503": "refused_503"}.get(kind, "closed_silently")
                counts[key] += 1
            except (TimeoutError, OSError):
                pass
            finally:
                writer.close()
            await asyncio.sleep(0.05)  # then at once again, as an attacker would

    await asyncio.gather(*(hold(i) for i in range(n)))
    counts["client_errors"] = errors[:5]
    return counts


async def _big_request(url: str, token: str, pid: int) -> dict:
    """One request of 33 MB of empty lists: how it is answered, and the server's RSS before and after."""
    import httpx

    body = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"describe_action_unit",'
        b'"arguments":{"code":[' + b"[]," * 11_000_000 + b"[]]}}}"
    )
    before = _rss_mb(pid)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=300) as client:
        answer = await client.post(url, content=body, headers=headers)
    ended = time.monotonic()
    await asyncio.sleep(10)
    after = _rss_mb(pid)
    return {
        "bytes": len(body),
        "status": answer.status_code,
        "answer": answer.text[:200],
        "seconds": round(ended - started, 2),
        "window": (started, ended),
        "rss_before_mb": before,
        "rss_10s_after_mb": after,
        "rss_change_pct": round(100 * (after / before - 1), 1) if before and after else None,
    }


async def _sessions(url: str, tokens: tuple[str, str], pid: int, n: int, idle_s: float) -> dict:
    """``n`` sessions opened and left open; another token's use of one; RSS open and after they expire."""
    import httpx

    mine = {"Authorization": f"Bearer {tokens[0]}", "Accept": "application/json, text/event-stream"}
    theirs = {**mine, "Authorization": f"Bearer {tokens[1]}"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "s", "version": "0"},
        },
    }
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    before = _rss_mb(pid)
    opened, refused, ids = 0, 0, []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(n):
            answer = await client.post(url, json=init, headers=mine)
            if answer.status_code == 200:
                opened += 1
                ids.append(answer.headers["mcp-session-id"])
            else:
                refused += 1
        with_sessions = _rss_mb(pid)
        first = {**mine, "mcp-session-id": ids[0]}
        stolen = await client.post(url, json=ping, headers={**theirs, "mcp-session-id": ids[0]})
        deleted = await client.delete(url, headers={**theirs, "mcp-session-id": ids[0]})
        still_mine = await client.post(url, json=ping, headers=first)
        await asyncio.sleep(idle_s + 10)
        expired = await client.post(url, json=ping, headers=first)
    return {
        "opened": opened,
        "refused_503": refused,
        "rss_before_mb": before,
        "rss_open_mb": with_sessions,
        "rss_after_expiry_mb": _rss_mb(pid),
        "other_token_ping_status": stolen.status_code,
        "other_token_delete_status": deleted.status_code,
        "owner_ping_status": still_mine.status_code,
        "after_idle_status": expired.status_code,
    }


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
            fds = _open_fds(pid)
            if fds is not None:
                figures.fds_max = max(figures.fds_max or 0, fds)
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
                        timed.append((time.monotonic() - ms / 1000, ms))
                        if result.isError:
                            figures.good_failures.append(f"{call[0]}: {result.content[0].text[:200]}")
                    else:
                        figures.bad_calls += 1
                        bad_ms.append(ms)
                        if not result.isError:
                            figures.bad_accepted.append(f"{call[0]} {str(call[1])[:80]}")
        except Exception as exc:  # a broken session is a finding, reported, not a crash of the tool
            figures.transport_errors.append(f"client {index}: {type(exc).__name__}: {exc}"[:300])

    timed: list[tuple[float, float]] = []  # (start, ms) of good calls and probes
    probing = True

    async def probe() -> None:
        """A catalogue look-up every 0.2 s in its own session: how long the server keeps anyone waiting."""
        async with (
            streamablehttp_client(url, headers=headers, timeout=300) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            while probing:
                t0 = time.monotonic()
                result = await session.call_tool("describe_action_unit", {"code": "AU12"})
                timed.append((t0, (time.monotonic() - t0) * 1000))
                if result.isError:
                    figures.good_failures.append(f"probe: {result.content[0].text[:200]}")
                await asyncio.sleep(0.2)

    port = int(url.rsplit(":", 1)[1].split("/")[0])
    attacks: dict[str, asyncio.Task] = {}
    sampler = asyncio.create_task(sample_rss())
    prober = asyncio.create_task(probe())
    clients = asyncio.gather(*(client(i) for i in range(args.clients)))
    await asyncio.sleep(args.attack_after)  # the clients warm the server up first (its RSS settles)
    if args.slowloris:
        attacks["slowloris"] = asyncio.create_task(
            _slowloris(port, args.slowloris, args.slowloris_addresses, args.slowloris_seconds)
        )
    if args.big_request:
        attacks["big_request"] = asyncio.create_task(_big_request(url, token, pid))
    if args.sessions:
        attacks["sessions"] = asyncio.create_task(
            _sessions(url, (token, args.other_token), pid, args.sessions, SESSION_IDLE_S)
        )
    attack_started = time.monotonic()
    await clients
    for name, task in attacks.items():
        figures.attacks[name] = await task
    attack_ended = time.monotonic()
    probing = False
    await prober
    sampler.cancel()
    if "slowloris" in figures.attacks:
        end = attack_started + args.slowloris_seconds
        figures.attacks["slowloris"]["good_ms_during"] = _window(timed, attack_started, end)
    if "big_request" in figures.attacks:
        start, end = figures.attacks["big_request"].pop("window")
        figures.attacks["big_request"]["good_ms_during"] = _window(timed, start - 0.5, end)
    figures.attacks["probe_ms"] = {"all": _window(timed, started, attack_ended)}
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
    parser.add_argument("--slowloris", type=int, default=0, metavar="N", help="N half-open connections")
    parser.add_argument("--slowloris-addresses", type=int, default=1, metavar="A", help="from A addresses")
    parser.add_argument("--slowloris-seconds", type=float, default=60.0)
    parser.add_argument("--big-request", action="store_true", help="one 33 MB request of empty lists")
    parser.add_argument("--sessions", type=int, default=0, metavar="N", help="N sessions left open")
    parser.add_argument("--nofile", type=int, help="the server's limit on open files (e.g. 1024)")
    parser.add_argument(
        "--attack-after", type=float, default=10.0, help="seconds of calls before the attacks"
    )
    args = parser.parse_args(argv)
    args.workers = args.workers or min(4, os.cpu_count() or 1)
    token = secrets.token_urlsafe(24)
    args.other_token = secrets.token_urlsafe(24)
    env = {"FEA_AGENT_TOKEN": f"{token},{args.other_token}"}
    if args.sessions:
        env["FEA_AGENT_HTTP_LIMITS"] = json.dumps({"session_idle_s": SESSION_IDLE_S})
    with tempfile.TemporaryDirectory(prefix="fea-stress-") as folder:
        allowed = Path(folder)
        os.mkfifo(allowed / "fifo.jpg")
        (allowed / "folder.jpg").mkdir()
        log = allowed / "server.log"
        with log.open("wb") as server_log:
            proc, url = start_http_server(
                args.workers,
                token,
                "--allow-dir",
                str(allowed),
                env=env,
                stderr=server_log,
                nofile=args.nofile,
            )
            try:
                figures = asyncio.run(_run(args, url, token, proc.pid, allowed))
                alive = proc.poll() is None
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        server_text = log.read_text(errors="replace")
    emfile = server_text.count("Too many open files") + sum(
        "Too many open files" in e for e in figures.transport_errors
    )
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
    print(f"server descriptors at most: {figures.fds_max}; 'Too many open files': {emfile}")
    for name, what in figures.attacks.items():
        print(f"{name}: {json.dumps(what)}")
    for what in (figures.good_failures, figures.bad_accepted, figures.transport_errors):
        for line in what[:5]:
            print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(asdict(figures) | {"too_many_open_files": emfile}, indent=1))
    ok = alive and not (figures.good_failures or figures.bad_accepted or figures.transport_errors or emfile)
    growth_ok = figures.rss_growth_pct is None or figures.rss_growth_pct < 5
    attacks = figures.attacks
    if "slowloris" in attacks:
        ok = ok and attacks["slowloris"]["good_ms_during"].get("p99", 0) < 5000
    if "big_request" in attacks:
        big = attacks["big_request"]
        ok = ok and big["good_ms_during"].get("max", 0) < 2000 and abs(big["rss_change_pct"] or 0) <= 10
    if "sessions" in attacks:
        sessions = attacks["sessions"]
        ok = ok and sessions["other_token_ping_status"] == 404 and sessions["after_idle_status"] == 404
    return 0 if ok and growth_ok else 1


if __name__ == "__main__":
    sys.exit(main())
