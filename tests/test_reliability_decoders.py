"""Only photo formats are decoded: an EPS, a PostScript file, a PDF, XBM/XPM sources and other formats Pillow
knows are refused from their first bytes, in under 0.1 s, with no child process and no temp file, in every
interface (Ghostscript is installed here, so Pillow's EPS plugin would run it on the bytes)."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import pytest
from conftest import SERVER_ENV
from mcp.shared.memory import create_connected_server_and_client_session
from PIL import Image

from fea_agent.errors import InvalidInputError
from fea_agent.io.images import PHOTO_FORMATS, load_image

#: The issue's reproducer: Ghostscript loops forever on it.
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n{} loop\n"


def _encoded(fmt: str, mode: str = "RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (24, 16), (200, 40, 40) if mode == "RGB" else 1).save(buffer, fmt, **options)
    return buffer.getvalue()


HOSTILE = {
    "EPS": (EPS, "PostScript/EPS"),
    "PostScript": (b"%!PS\n{} loop\nshowpage\n", "PostScript/EPS"),
    "DOS EPS": (b"\xc5\xd0\xd3\xc6" + b"\x00" * 28 + EPS, "PostScript/EPS"),
    "PDF": (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", "PDF"),
    "XBM": (_encoded("XBM", "1"), "XBM"),
    "XBM after a comment": (b"/* made by hand */\n" + _encoded("XBM", "1"), "not an image"),
    "XPM": (b'/* XPM */\nstatic char *x[] = {"1 1 1 1", "a c #ff0000", "a"};\n', "XPM"),
    "SVG": (b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>', "SVG"),
    "ICO": (_encoded("ICO"), "icon"),
    "TGA (no signature)": (_encoded("TGA"), "not an image"),
    "PCX": (_encoded("PCX"), "not an image"),
    "JPEG 2000": (_encoded("JPEG2000"), "JPEG 2000"),
    "Photoshop": (b"8BPS\x00\x01" + b"\x00" * 40, "Photoshop"),
    "text that Pillow's TGA plugin would try": (b"\x00\x00\x02" + b"\x00" * 40, "not an image"),
}


@pytest.fixture
def watched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No child process may start (Pillow runs gs through subprocess), and temp files land in a fresh folder."""
    started: list[object] = []

    def no_children(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise AssertionError(f"a child process was started: {args[:1]}")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_children)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    yield temp
    assert not started
    assert list(temp.iterdir()) == []


def test_ghostscript_is_here_so_pillow_alone_would_run_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The hazard is real on this machine: Pillow's own open hands the EPS to gs (stopped here at the spawn)."""
    if not shutil.which("gs"):  # the refusals below hold without it, but only gs makes them a safeguard
        if os.environ.get("FEA_AGENT_REQUIRE_GHOSTSCRIPT") == "1":
            pytest.fail(
                "ghostscript (Debian's ghostscript package) must be installed for these tests to mean anything"
            )
        pytest.skip(
            "ghostscript is not installed: `apt-get install ghostscript` to test against the real hazard"
        )
    spawned: list[object] = []

    def record(self: object, args: object, *rest: object, **kwargs: object) -> None:
        spawned.append(args)
        raise OSError("stopped by the test")

    monkeypatch.setattr(subprocess.Popen, "__init__", record)
    with pytest.raises(OSError):  # Pillow first runs `gs --version`, then gs on the bytes
        Image.open(io.BytesIO(EPS)).load()
    assert spawned and "gs" in str(spawned[0])


@pytest.mark.parametrize("what", list(HOSTILE))
def test_formats_that_are_not_photos_are_refused_from_their_bytes(what: str, watched: Path):
    data, words = HOSTILE[what]
    started = time.perf_counter()
    with pytest.raises(InvalidInputError, match=words) as info:
        load_image(data, source="upload")
    assert time.perf_counter() - started < 0.1
    assert str(info.value).startswith("upload: ")
    assert "JPEG, PNG" in str(info.value)  # and says what is decoded


def test_a_path_and_a_pil_image_of_an_eps_are_refused_too(tmp_path: Path, watched: Path):
    path = tmp_path / "photo.jpg"  # the name does not matter: the bytes do
    path.write_bytes(EPS)
    with pytest.raises(InvalidInputError, match="PostScript/EPS"):
        load_image(path)
    opened = Image.open(io.BytesIO(EPS))  # a caller's lazily opened EPS: load() would start gs
    with pytest.raises(InvalidInputError, match="<PIL image>: a EPS image, not a format fea-agent decodes"):
        load_image(opened)


@pytest.mark.parametrize("fmt", list(PHOTO_FORMATS))
def test_every_listed_format_decodes(fmt: str, watched: Path):
    rgb = load_image(_encoded(fmt)).rgb
    assert rgb.shape == (16, 24, 3)
    assert abs(int(rgb[8, 12, 0]) - 200) < 12 and abs(int(rgb[8, 12, 1]) - 40) < 12


def test_photo_variants_users_send_decode(watched: Path):
    gray_pgm = _encoded("PPM", "L")
    assert gray_pgm.startswith(b"P5") and load_image(gray_pgm).rgb.shape == (16, 24, 3)
    assert load_image(_encoded("PPM", "1")).rgb.shape == (16, 24, 3)  # PBM
    assert load_image(_encoded("TIFF", compression="tiff_lzw")).rgb.shape == (16, 24, 3)
    frames = [Image.new("RGB", (24, 16), c) for c in ((250, 0, 0), (0, 250, 0))]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    assert load_image(gif.getvalue()).rgb[0, 0, 0] > 200  # the first frame
    mpo = io.BytesIO()
    frames[0].save(mpo, "MPO", save_all=True, append_images=frames[1:])
    assert load_image(mpo.getvalue()).rgb[0, 0, 0] > 200  # a camera's multi-picture JPEG


def _mcp_call(runtime, tool: str, image: str):
    from fea_agent.mcp import build_server

    async def go():
        async with create_connected_server_and_client_session(build_server(runtime)._mcp_server) as client:
            await client.call_tool("describe_action_unit", {"code": "AU12"})  # the session is warm
            started = time.perf_counter()
            result = await client.call_tool(tool, {"image": image})
            return result, time.perf_counter() - started

    return anyio.run(go)


@pytest.mark.parametrize("what", ["EPS", "PostScript", "PDF"])
def test_mcp_refuses_them_at_once_and_answers_the_next_call(pipeline, what: str, watched: Path):
    from fea_agent.agent_tools import ImagePolicy
    from fea_agent.mcp import Runtime

    runtime = Runtime(policy=ImagePolicy(), pipelines=[pipeline])
    data = HOSTILE[what][0]
    for tool in ("analyze_face", "detect_faces", "classify_expression", "detect_action_units"):
        result, seconds = _mcp_call(runtime, tool, base64.b64encode(data).decode())
        assert result.isError and HOSTILE[what][1] in result.content[0].text, result.content[0].text
        assert seconds < 0.1, (tool, seconds)


def test_langchain_and_llamaindex_tools_refuse_an_eps(pipeline, watched: Path):
    from fea_agent.integrations.langchain import FEAToolkit
    from fea_agent.integrations.llama_index import FEAToolSpec

    image = base64.b64encode(EPS).decode()
    tool = next(t for t in FEAToolkit(pipeline=pipeline).get_tools() if t.name == "analyze_face")
    started = time.perf_counter()
    message = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name, "args": {"image": image}})
    assert time.perf_counter() - started < 0.1
    assert "PostScript/EPS" in str(message.content)
    spec = FEAToolSpec(pipeline=pipeline)
    with pytest.raises(Exception, match="PostScript/EPS"):  # LlamaIndex's agents turn it into a message
        spec.detect_faces(image=image)


def test_cli_refuses_eps_pdf_and_postscript_and_analyses_the_photo_after(tmp_path: Path, astronaut: Path):
    files = []
    for what in ("EPS", "PDF", "PostScript"):
        path = tmp_path / f"{what}.jpg"
        path.write_bytes(HOSTILE[what][0])
        files.append(str(path))
    temp = tmp_path / "tmp"
    temp.mkdir()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fea_agent", "analyze", *files, str(astronaut), "--format", "jsonl"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**SERVER_ENV, "TMPDIR": str(temp)},
    )
    assert time.monotonic() - started < 60  # model start-up; gs on the EPS would never return
    lines = done.stdout.splitlines()  # one JSON object per input, in order
    assert len(lines) == 4 and done.returncode == 1, done.stderr
    assert all("not a photo" in line for line in lines[:3]) and "PostScript/EPS" in lines[0]
    assert "PDF" in lines[1] and '"faces"' in lines[3]  # the photo after them is analysed
    assert list(temp.iterdir()) == []
