"""Nothing of a photo stays on disk: ``fea-agent demo --mcp`` as a real process, a photo sent to its MCP endpoint
as a data URI, then every temp directory and /dev/shm searched for the photo's bytes, after the call and after
SIGTERM."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import EDGE, MODELS, needs_shared
from PIL import Image

pytest.importorskip("gradio")
pytestmark = [needs_shared, pytest.mark.slow]


def _unique_photo() -> bytes:
    """The astronaut with a corner of fresh noise: bytes no other file on this machine holds."""
    rgb = np.asarray(Image.open(EDGE / "skimage_astronaut.png").convert("RGB")).copy()
    rgb[-48:, -48:] = np.random.default_rng().integers(0, 256, (48, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def _needles(data: bytes) -> list[bytes]:
    """Pieces of the file (raw and base64) that only a copy of it would hold: the end, after the noise."""
    tail = data[-4096:-16]
    return [tail[:64], tail[-64:], base64.b64encode(data)[-400:-200]]


def _copies(needles: list[bytes], roots: list[Path], since: float) -> list[Path]:
    found = []
    for root in roots:
        for folder, _, files in os.walk(root, onerror=lambda _: None):
            for name in files:
                path = Path(folder) / name
                try:
                    info = path.lstat()
                    if not path.is_file() or info.st_mtime < since or info.st_size > 200 << 20:
                        continue
                    content = path.read_bytes()
                except OSError:
                    continue
                if any(n in content for n in needles):
                    found.append(path)
    return found


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    if not MODELS.is_dir():
        pytest.skip(f"shared models not found at {MODELS}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tmp_path / "tmp"  # the demo's own temp dir, so its leftovers (not other tests') are found
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("GRADIO_TEMP_DIR", None)
    log = (tmp_path / "demo.log").open("w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fea_agent", "demo", "--mcp", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"demo exited: {log.read().decode()[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "demo did not start within 180 s"
            time.sleep(0.5)
        yield proc, url, temp
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_demo_mcp_endpoint_leaves_no_copy_of_a_photo_after_the_call_and_after_sigterm(demo):
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    proc, url, temp = demo
    photo = _unique_photo()
    needles = _needles(photo)
    roots = [temp, Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
    roots = [r for r in dict.fromkeys(roots) if r.is_dir()]
    since = time.time() - 1

    async def call() -> dict:
        async with (
            streamablehttp_client(f"{url}/gradio_api/mcp/", timeout=120) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            image = "data:image/png;base64," + base64.b64encode(photo).decode()
            result = await session.call_tool("analyze_face", {"image": image})
            assert not result.isError, result.content[0].text
            return result

    result = anyio.run(call)
    assert "happiness" in result.content[0].text
    assert _copies(needles, roots, since) == [], "a copy of the photo is left after the call"
    private = [p for p in temp.iterdir() if p.name.startswith("fea-agent-demo-")]
    assert len(private) == 1 and oct(private[0].stat().st_mode & 0o777) == "0o700"
    assert not (temp / "gradio").exists(), "Gradio wrote to its shared default cache"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert _copies(needles, roots, since) == []
    assert not private[0].exists(), "the private cache folder is removed on SIGTERM"
