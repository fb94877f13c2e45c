"""``fea-agent serve mcp`` as a real stdio subprocess, driven by the SDK's stdio client (one server per module)."""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import ASTRONAUT, SERVER_ENV, SEVEN_TOOLS
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def upload_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("uploads")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("a text file, not a photo\n")
    return folder


@pytest.fixture(scope="module")
async def client(upload_dir: Path, astronaut: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "fea_agent", "serve", "mcp", "--workers", "1", "--allow-dir", str(upload_dir)],
        env=SERVER_ENV,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        session.init_result = await session.initialize()
        yield session


async def test_server_names_itself_fea_agent_and_its_version(client: ClientSession):
    from fea_agent import __version__

    info = client.init_result.serverInfo
    assert (info.name, info.version) == ("fea-agent", __version__)


async def test_lists_the_seven_tools(client: ClientSession):
    names = {t.name for t in (await client.list_tools()).tools}
    assert names == SEVEN_TOOLS


async def test_analyze_face_on_the_astronaut_is_happiness(client: ClientSession, astronaut: Path):
    image = base64.b64encode(astronaut.read_bytes()).decode()
    result = await client.call_tool("analyze_face", {"image": image})
    assert not result.isError
    assert result.structuredContent["faces"][0]["expression"]["label"] == "happiness"
    assert result.content[-1].type == "image"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("%%%garbage base64%%%", "not valid base64"),
        (str(ASTRONAUT), "outside the allowed directories"),
        ("empty.jpg", "file is empty (0 bytes)"),
        ("notes.txt", "not an image"),
    ],
    ids=["garbage-base64", "outside-allowed-dirs", "zero-byte-file", "text-file"],
)
async def test_bad_input_is_an_error_result_and_the_next_call_succeeds(
    client: ClientSession, astronaut: Path, image: str, message: str
):
    bad = await client.call_tool("analyze_face", {"image": image})
    assert bad.isError
    assert message in bad.content[0].text
    good = await client.call_tool(
        "detect_faces", {"image": base64.b64encode(astronaut.read_bytes()).decode(), "annotate": False}
    )
    assert not good.isError and len(good.structuredContent["faces"]) == 1
