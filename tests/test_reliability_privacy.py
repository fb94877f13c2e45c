"""Nothing of a photo stays on disk: ``fea-agent demo --mcp`` as a real process, a photo sent to its MCP endpoint
as a data URI, then every temp directory and /dev/shm searched for the photo's bytes, after the call and after
SIGTERM."""

from __future__ import annotations

import base64
import contextlib
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
import pytest
from conftest import EDGE, MODELS, SEVEN_TOOLS, VIDEO, needs_shared
from photo_copies import copies, needles, unique_photo

pytest.importorskip("gradio")
pytestmark = [needs_shared, pytest.mark.slow]


@contextlib.contextmanager
def _running_demo(temp: Path, log_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``fea-agent demo --mcp`` as a process with ``temp`` as its temp dir, up and answering; killed at the end."""
    if not MODELS.is_dir():
        pytest.skip(f"shared models not found at {MODELS}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("GRADIO_TEMP_DIR", None)
    log = log_path.open("w+b")
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
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    temp = tmp_path / "tmp"  # the demo's own temp dir, so its leftovers (not other tests') are found
    temp.mkdir()
    with _running_demo(temp, tmp_path / "demo.log") as (proc, url):
        yield proc, url, temp


def test_demo_mcp_endpoint_leaves_no_copy_of_a_photo_after_the_call_and_after_sigterm(demo):
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    from fea_agent.demo.app import MCP_PATH

    proc, url, temp = demo
    photo = unique_photo(EDGE / "skimage_astronaut.png")
    pieces = needles(photo)
    roots = [temp, Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]
    roots = [r for r in dict.fromkeys(roots) if r.is_dir()]
    since = time.time() - 1

    async def call() -> dict:
        async with (
            streamablehttp_client(f"{url}{MCP_PATH}", timeout=120) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = {tool.name for tool in (await session.list_tools()).tools}
            assert listed == SEVEN_TOOLS - {"analyze_video"} | {"compare_faces"}, (
                "a path-reading tool is listed"
            )
            image = "data:image/png;base64," + base64.b64encode(photo).decode()
            result = await session.call_tool("analyze_face", {"image": image})
            assert not result.isError, result.content[0].text
            same = await session.call_tool("compare_faces", {"image_a": image, "image_b": image})
            assert not same.isError, same.content[0].text  # one photo twice: read once, not lost
            assert '"changes": []' in same.content[0].text
            return result

    result = anyio.run(call)
    assert "happiness" in result.content[0].text
    assert copies(pieces, roots, since) == [], "a copy of the photo is left after the call"
    private = [p for p in temp.iterdir() if p.name.startswith("fea-agent-demo-")]
    assert len(private) == 1 and oct(private[0].stat().st_mode & 0o777) == "0o700"
    assert not (temp / "gradio").exists(), "Gradio wrote to its shared default cache"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert copies(pieces, roots, since) == []
    assert not private[0].exists(), "the private cache folder is removed on SIGTERM"


def test_a_clip_left_by_a_sigkill_mid_analysis_is_removed_at_the_next_start(tmp_path):
    """SIGTERM cleans up; SIGKILL cannot, so the next start removes the killed run's folder (issue 20, 8)."""
    from gradio_client import Client, handle_file

    temp = tmp_path / "tmp"
    temp.mkdir()
    with _running_demo(temp, tmp_path / "first.log") as (proc, url):
        job = Client(url, verbose=False).submit(
            handle_file(str(VIDEO)), 1, True, api_name="/analyze_video_clip"
        )
        deadline = time.monotonic() + 60
        while not list(temp.glob(f"fea-agent-demo-*/*/{VIDEO.name}")):
            assert time.monotonic() < deadline, "the clip never reached the demo"
            time.sleep(0.2)
        time.sleep(2.0)  # into the analysis (about 20 s for every frame)
        assert not job.done()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    (killed,) = temp.glob("fea-agent-demo-*")
    assert list(killed.glob(f"*/{VIDEO.name}")), "the killed run left its clip (as it must: nothing ran)"
    with _running_demo(temp, tmp_path / "second.log"):
        assert not killed.exists(), "the next start removes the killed run's folder"
        (fresh,) = temp.glob("fea-agent-demo-*")
        assert fresh != killed
