"""Image input: every supported kind of input decodes to RGB uint8, and every bad input gets a clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import SAMPLES, needs_shared
from PIL import Image

from fea_agent.errors import InvalidInputError
from fea_agent.io.images import load_image


def _encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_path_bytes_pil_and_array_agree(astronaut):
    from_path = load_image(astronaut)
    assert from_path.rgb.shape == (512, 512, 3) and from_path.rgb.dtype == np.uint8
    assert from_path.source == str(astronaut)
    assert np.array_equal(load_image(astronaut.read_bytes()).rgb, from_path.rgb)
    assert np.array_equal(load_image(Image.open(astronaut)).rgb, from_path.rgb)
    assert np.array_equal(load_image(from_path.rgb.copy()).rgb, from_path.rgb)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "LA"])
def test_modes_convert_to_rgb(mode):
    img = Image.new("RGB", (40, 30), (200, 100, 50)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode == "I;16" else "PNG"
    out = load_image(_encode(img, fmt)).rgb
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8


def test_sixteen_bit_scales_to_eight_bit():
    arr = np.full((10, 10), 65535, dtype=np.uint16)
    assert load_image(arr).rgb.max() == 255
    img = Image.fromarray(np.full((10, 10), 40000, dtype=np.uint16))
    assert 150 < load_image(_encode(img, "PNG")).rgb[0, 0, 0] < 160


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (60, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    out = load_image(_encode(img, "JPEG", exif=exif)).rgb
    assert out.shape == (60, 20, 3)


def test_arrays_of_other_kinds():
    assert load_image(np.zeros((8, 9), dtype=np.uint8)).rgb.shape == (8, 9, 3)
    assert load_image(np.ones((8, 9, 3), dtype=np.float32)).rgb.max() == 255
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    assert load_image(rgba).rgb.max() == 255  # fully transparent -> white background


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"upload.jpg: file is empty \(0 bytes\)"),
        (b"hello, this is text and not a picture\n", "not an image"),
        (_encode(Image.new("RGB", (64, 64)), "JPEG")[:200], "truncated or corrupt"),
        (_encode(Image.new("RGB", (64, 64)), "PNG")[:-30], "truncated or corrupt"),
    ],
    ids=["zero-bytes", "text", "truncated-jpeg", "truncated-png"],
)
def test_bad_bytes_are_named(data, message):
    with pytest.raises(InvalidInputError, match=message):
        load_image(data, source="upload.jpg")


def test_bad_paths_are_named(tmp_path):
    with pytest.raises(InvalidInputError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(InvalidInputError, match="is a directory"):
        load_image(tmp_path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInputError, match=r"empty.png: file is empty"):
        load_image(empty)


def test_huge_images_are_refused_before_decoding():
    data = _encode(Image.new("L", (4000, 4000)), "PNG")
    with pytest.raises(InvalidInputError, match="above the limit"):
        load_image(data, max_pixels=10_000_000)


def test_wrong_types_and_shapes():
    with pytest.raises(InvalidInputError, match="unsupported input type int"):
        load_image(42)
    with pytest.raises(InvalidInputError, match="not an image"):
        load_image(np.zeros((3, 4, 5, 6)))
    with pytest.raises(InvalidInputError, match="NaN"):
        load_image(np.full((4, 4, 3), np.nan))


def test_every_sample_photo_loads_and_has_its_source():
    photos = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    assert len(photos) >= 3
    source = (SAMPLES / "SOURCE.md").read_text()
    for path in photos:
        assert path.name in source, f"{path.name} has no entry in samples/SOURCE.md"
        assert load_image(path).rgb.shape[2] == 3


@needs_shared
def test_every_shared_image_loads():
    from conftest import EDGE

    for path in sorted(EDGE.iterdir()):
        rgb = load_image(path).rgb
        assert rgb.ndim == 3 and rgb.shape[2] == 3


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_jpeg_fast_path_matches_pillow_for_every_exif_orientation(orientation):
    from PIL import ImageOps

    base = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 60, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(base, "JPEG", exif=exif, quality=95)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert np.array_equal(load_image(data).rgb, expected)
