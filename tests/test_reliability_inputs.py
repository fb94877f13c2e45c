"""Hostile inputs: special files, path shapes, crafted and fuzzed images, odd arrays, videos that are not videos.

Each must end as an InvalidInputError naming the problem, quickly; good inputs next to them still work.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import EDGE, ROOT, VIDEO, needs_shared
from PIL import Image

from fea_agent.agent_tools import ImagePolicy
from fea_agent.agent_tools.image_input import resolve_image, resolve_path
from fea_agent.errors import InvalidInputError
from fea_agent.io.images import load_image
from fea_agent.io.video import VideoReader

_spec = importlib.util.spec_from_file_location("fuzz_images", ROOT / "tools" / "fuzz_images.py")
fuzz_images = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_images"] = fuzz_images  # dataclasses look their module up there
_spec.loader.exec_module(fuzz_images)


@pytest.fixture
def specials(tmp_path: Path) -> dict[str, Path]:
    os.mkfifo(tmp_path / "fifo.jpg")
    os.mkfifo(tmp_path / "fifo.mp4")
    (tmp_path / "folder.jpg").mkdir()
    return {
        "FIFO": tmp_path / "fifo.jpg",
        "directory": tmp_path / "folder.jpg",
        "character device": Path("/dev/zero"),
    }


def _refused_quickly(call, words: str) -> str:
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match=words) as info:
        call()
    assert time.monotonic() - started < 1.0
    return str(info.value)


def test_special_files_are_refused_by_name_within_a_second(specials: dict[str, Path], tmp_path: Path):
    policy = ImagePolicy.allowing(tmp_path, "/dev")
    for words, path in specials.items():
        message = _refused_quickly(lambda p=path: load_image(p), words)
        assert message.startswith(f"{path}: is a "), message
        _refused_quickly(lambda p=path: resolve_image(str(p), policy), words)
    _refused_quickly(lambda: load_image("/dev/null"), "character device")
    _refused_quickly(lambda: resolve_path(str(tmp_path / "fifo.mp4"), policy), "FIFO")
    _refused_quickly(lambda: VideoReader(tmp_path / "fifo.mp4"), "FIFO")
    _refused_quickly(lambda: VideoReader("/dev/zero"), "character device")


def test_path_shapes_get_clear_refusals(tmp_path: Path):
    policy = ImagePolicy.allowing(tmp_path)
    cases = {
        "~nosuchuser/a.jpg": "no such user 'nosuchuser'",
        "a\0b.jpg": "NUL byte",
        "/" + "a" * 5000 + ".jpg": "too long",
        str(tmp_path / ("d/" * 3000) / "a.jpg"): "too long|no such file",
        str(tmp_path / "missing.jpg"): "no such file",
    }
    for path, words in cases.items():
        message = _refused_quickly(lambda p=path: load_image(p), words)
        assert len(message) < 400  # an over-long path is cut in the message
        _refused_quickly(
            lambda p=path: resolve_image(p, policy), words + "|outside the allowed|not valid base64"
        )


def _png(size: tuple[int, int] = (64, 64), extra: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (180, 120, 90)).save(buffer, "PNG")
    data = buffer.getvalue()
    return data[:33] + extra + data[33:]  # after the signature and IHDR


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def test_crafted_images_are_refused_as_invalid_input():
    huge_text = zlib.compress(b"a" * (50 << 20))
    bomb_ihdr = bytearray(_png())
    bomb_ihdr[16:24] = struct.pack(">II", 100_000, 100_000)
    bomb_ihdr[29:33] = struct.pack(">I", zlib.crc32(bytes(bomb_ihdr[12:29])) & 0xFFFFFFFF)
    bad_crc = bytearray(_png(extra=_chunk(b"tEXt", b"Comment\0hello")))
    bad_crc[33 + 8 + 13] ^= 0xFF  # the tEXt chunk's CRC
    png = _png((300, 300))
    at = png.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", png[at : at + 4])
    pixels = png[at + 8 : at + 8 + length]
    broken_chunk = (  # the image data split in two, with a chunk of no valid type between: SyntaxError in Pillow
        png[:at]
        + _chunk(b"IDAT", pixels[: length // 2])
        + b"\x00\x00\x00\x10\x01\x02\x03\x04"
        + b"x" * 20
        + _chunk(b"IDAT", pixels[length // 2 :])
        + png[at + 12 + length :]
    )
    cases = {
        "iCCP that decompresses past Pillow's limit": (
            _png(extra=_chunk(b"iCCP", b"icc\0\0" + huge_text)),
            "corrupt",
        ),
        "zTXt that decompresses past Pillow's limit": (
            _png(extra=_chunk(b"zTXt", b"C\0\0" + huge_text)),
            "corrupt",
        ),
        "10 gigapixel header": (bytes(bomb_ihdr), "too large|above the limit"),
        "broken chunk CRC": (bytes(bad_crc), "not an image"),
        "broken chunk inside the image data": (broken_chunk, r"corrupt \(SyntaxError: broken PNG file"),
        "IDAT cut short": (_png((300, 300))[:-200], "corrupt"),
        "PNG signature only": (_png()[:8], "not an image|corrupt"),
        "JPEG markers only": (
            b"\xff\xd8\xff\xdb\x00\x43" + b"\x01" * 67 + b"\xff\xd9",
            "not an image|corrupt",
        ),
    }
    for what, (data, words) in cases.items():
        with pytest.raises(InvalidInputError) as info:
            load_image(data)
        assert re.search(words, str(info.value)), (what, str(info.value))


def test_lazy_and_closed_pil_images():
    truncated = Image.open(io.BytesIO(_png((300, 300))[:-200]))  # lazily opened: decoding fails later
    with pytest.raises(InvalidInputError, match="<PIL image>: image data is truncated or corrupt"):
        load_image(truncated)
    closed = Image.open(io.BytesIO(_png()))
    closed.close()
    with pytest.raises(InvalidInputError, match="closed image"):
        load_image(closed)
    assert load_image(Image.open(io.BytesIO(_png()))).rgb.shape == (64, 64, 3)  # a lazy good one is fine


def test_odd_array_dtypes_are_converted_or_refused():
    rgb = np.full((32, 32, 3), 200, np.uint8)
    for dtype in ("complex64", "object", "datetime64[s]", "U1"):
        with pytest.raises(InvalidInputError, match="unsupported array dtype"):
            load_image(np.zeros((8, 8, 3), dtype=dtype))
    wide = rgb.astype(np.uint16) * 257
    for dtype in (">u2", "<u2"):
        assert (load_image(wide.astype(dtype)).rgb == 200).all(), dtype
    assert (load_image((rgb / 255.0).astype(">f4")).rgb == 200).all()
    assert (load_image(rgb.astype(">i4")).rgb == 200).all()
    assert (load_image(rgb.astype(np.float16) / 255).rgb >= 199).all()


@needs_shared
def test_big_endian_uint16_finds_the_same_faces_as_native(pipeline, astronaut: Path):
    wide = load_image(astronaut).rgb.astype(np.uint16) * 257
    native = pipeline.analyze(wide.astype("<u2"))
    big = pipeline.analyze(wide.astype(">u2"))
    assert len(native.faces) == len(big.faces) == 1
    assert big.faces[0].bbox == native.faces[0].bbox


@needs_shared
def test_fuzzed_photos_decode_or_are_refused_never_anything_else():
    """400 mutated PNG/JPEG/WebP files made from real photos (seed 13): tools/fuzz_images.py runs 5,000."""
    report = fuzz_images.run(400, seed=13)
    assert report.unhandled == []
    assert report.decoded > 40 and report.refused > 40  # the mutations reach both outcomes
    assert report.seconds < 20


@needs_shared
def test_cli_prints_every_good_result_and_each_bad_input_in_order(specials: dict[str, Path], tmp_path: Path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(_png(extra=_chunk(b"zTXt", b"C\0\0" + zlib.compress(b"a" * (50 << 20)))))
    good = str(EDGE / "skimage_astronaut.png")
    args = [good, str(specials["FIFO"]), str(bad), "/dev/zero", good]
    done = subprocess.run(
        [sys.executable, "-m", "fea_agent", "analyze", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1
    records = json.loads(done.stdout)
    assert [r["source"] for r in records] == args
    assert [len(r.get("faces", [])) for r in records] == [1, 0, 0, 0, 1]
    assert set(records[1]) == {"source", "error"} and "FIFO" in records[1]["error"]
    assert "corrupt" in records[2]["error"] and "character device" in records[3]["error"]
    assert "Traceback" not in done.stderr


@needs_shared
def test_playlists_stills_and_huge_frames_are_not_decoded_as_video(tmp_path: Path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    # a playlist inside the allowed folder naming a video outside it: FFmpeg would follow it
    hls = "#EXTM3U\n#EXT-X-TARGETDURATION:20\n#EXTINF:20.0,\n" + f"file://{VIDEO}\n#EXT-X-ENDLIST\n"
    (allowed / "list.m3u8").write_text(hls)
    (allowed / "playlist.mp4").write_text(hls)
    (allowed / "list.ffconcat").write_text(f"ffconcat version 1.0\nfile '{VIDEO}'\n")
    (allowed / "photo.mp4").write_bytes((EDGE / "pexels_group.jpeg").read_bytes())
    policy = ImagePolicy.allowing(allowed)
    for name in ("list.m3u8", "playlist.mp4", "list.ffconcat", "photo.mp4"):
        path = resolve_path(name, policy)
        with pytest.raises(InvalidInputError, match="not a video"):
            VideoReader(path)
    with pytest.raises(InvalidInputError, match="above the limit of 100,000"):
        VideoReader(VIDEO, max_pixels=100_000)
    assert VideoReader(VIDEO).width == 640


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@needs_shared
def test_a_video_is_read_from_the_file_that_was_checked_and_closed_after(tmp_path: Path):
    """The reader holds the checked file open and FFmpeg reads it through the descriptor: swapping the path for
    a FIFO or a playlist after the check changes nothing; no descriptor is left open."""
    before = _open_fds()
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(VIDEO.read_bytes())
    reader = VideoReader(clip, max_frames=3, prefetch=0)
    clip.unlink()
    os.mkfifo(clip)  # would block FFmpeg forever if it opened the path again
    frames = list(reader)
    assert [f.index for f in frames] == [0, 1, 2] and frames[0].rgb.shape == (360, 640, 3)
    reader.close()
    for bad in (clip, tmp_path / "missing.mp4"):
        with pytest.raises(InvalidInputError):
            VideoReader(bad)
    with VideoReader(VIDEO, max_frames=1) as held:
        assert len(list(held)) == 1
    assert _open_fds() == before


@needs_shared
def test_a_video_cut_short_decodes_its_first_part_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    whole = VIDEO.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])  # the index (at the start) still says 472 frames
    with caplog.at_level("WARNING", logger="fea_agent.io.video"), VideoReader(cut, stride=8) as reader:
        frames = list(reader)
    assert reader.frame_count == 472 and 20 < len(frames) < 40
    (warning,) = reader.warnings
    assert re.search(r"decoding stopped at frame \d+ of the 472 its header announces", warning)
    assert warning in caplog.text
    with VideoReader(VIDEO, stride=8) as whole_reader:
        assert len(list(whole_reader)) == 59 and whole_reader.warnings == []  # the whole clip: no warning


def test_joined_streams_of_two_frame_sizes_say_so(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    import cv2

    parts = []
    for i, (w, h) in enumerate(((320, 240), (640, 360))):
        part = tmp_path / f"part{i}.ts"
        writer = cv2.VideoWriter(str(part), cv2.VideoWriter_fourcc(*"mp4v"), 24, (w, h))
        for _ in range(24):
            writer.write(np.full((h, w, 3), 60 + 100 * i, np.uint8))
        writer.release()
        parts.append(part.read_bytes())
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(parts))  # MPEG-TS files join by concatenation
    with caplog.at_level("WARNING", logger="fea_agent.io.video"), VideoReader(joined) as reader:
        frames = list(reader)
    assert len(frames) == 48 and {f.rgb.shape for f in frames} == {(240, 320, 3)}  # OpenCV rescales
    (warning,) = reader.warnings
    assert "the stream starts again at frame 24" in warning and "scaled to the first size" in warning


@needs_shared
def test_the_video_command_warns_about_a_cut_video(tmp_path: Path):
    from conftest import SERVER_ENV

    whole = VIDEO.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    done = subprocess.run(
        [sys.executable, "-m", "fea_agent", "video", str(cut), "--stride", "24", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        env=SERVER_ENV,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" in done.stderr and "its header announces (a damaged index or a cut file)" in done.stderr
