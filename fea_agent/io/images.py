"""Image input: every way an image reaches fea-agent ends here as an RGB uint8 array.

Accepts a path, raw bytes, a PIL image or a numpy array (RGB, as MediaPipe and PIL use; grayscale, RGBA,
16-bit and float arrays are converted). Files are decoded with Pillow, which applies EXIF orientation and
converts grayscale, palette, CMYK, 16-bit and alpha images. Every failure is an :class:`InvalidInputError`
whose message names the input and the problem.

Only the raster formats of :data:`PHOTO_FORMATS` are decoded, recognised from their first bytes before any
Pillow plugin sees them, and handed to that format's plugin alone. Pillow would otherwise try every format it
knows, and some are programs: it hands EPS and PostScript to Ghostscript (an interpreter, with no timeout,
through a temp file holding the bytes), so an 84-byte ``{} loop`` would hang the caller where ``gs`` is
installed. A PIL image a caller opened is held to the same list.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fea_agent.errors import InvalidInputError
from fea_agent.io.files import read_file, short_label

#: Largest image accepted, in pixels (about 8k x 6k). Larger inputs are refused before decoding.
MAX_PIXELS = 50_000_000

#: The formats decoded, by Pillow's name, with what users call them (GIF and APNG: the first frame).
PHOTO_FORMATS: dict[str, str] = {
    "JPEG": "JPEG",
    "PNG": "PNG",
    "WEBP": "WebP",
    "GIF": "GIF",
    "BMP": "BMP",
    "TIFF": "TIFF",
    "PPM": "PPM/PGM/PBM",
    "AVIF": "AVIF",
}
_ACCEPTED = ", ".join(PHOTO_FORMATS.values())

#: Formats people send that are not decoded, recognised by their first bytes so the refusal can name them.
_REFUSED: tuple[tuple[tuple[bytes, ...], str], ...] = (
    ((b"%!PS", b"\xc5\xd0\xd3\xc6"), "a PostScript/EPS document (a program, not a picture)"),
    ((b"%PDF",), "a PDF document"),
    ((b"<svg", b"<?xml"), "an SVG or XML document"),
    ((b"#define",), "an XBM bitmap (C source)"),
    ((b"/* XPM */",), "an XPM bitmap (C source)"),
    ((b"8BPS",), "a Photoshop document"),
    ((b"\x00\x00\x01\x00",), "an icon file"),
    ((b"\xffO\xffQ", b"\x00\x00\x00\x0cjP  "), "a JPEG 2000 image"),
)

T = TypeVar("T")

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray


@dataclass(frozen=True)
class LoadedImage:
    """An RGB uint8 array (H, W, 3), C-contiguous, and a description of where it came from."""

    rgb: np.ndarray
    source: str | None

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def load_image(image: ImageInput, *, source: str | None = None, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Load any supported input as RGB uint8.

    Args:
        image: a path (str or PathLike), encoded bytes, a PIL image or a numpy array (RGB order).
        source: what to call the input in results and errors; defaults to the path, or None.
        max_pixels: refuse images with more pixels than this.
    """
    if isinstance(image, (str, os.PathLike)):
        label = source if source is not None else short_label(str(image))
        return LoadedImage(_decode(read_file(image, label=label), label, max_pixels), label)
    if isinstance(image, (bytes, bytearray, memoryview)):
        label = source if source is not None else "<bytes>"
        return LoadedImage(_decode(bytes(image), label, max_pixels), source)
    if isinstance(image, Image.Image):
        label = source if source is not None else "<PIL image>"
        return LoadedImage(_guarded(_pil_image_to_rgb, image, label, max_pixels), source)
    if isinstance(image, np.ndarray):
        label = source if source is not None else "<array>"
        return LoadedImage(_array_to_rgb(image, label, max_pixels), source)
    raise InvalidInputError(
        f"unsupported input type {type(image).__name__}: give a file path, image bytes, a PIL image "
        "or a numpy array"
    )


def _check_size(width: int, height: int, label: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"{label}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise InvalidInputError(
            f"{label}: image is {width}x{height} = {width * height:,} pixels, above the limit of "
            f"{max_pixels:,}; downscale it first"
        )


def _guarded(
    decode: Callable[[T, str, int], np.ndarray], value: T, label: str, max_pixels: int
) -> np.ndarray:
    """``decode(value)``, with every decoder failure as an InvalidInputError that names the input.

    Pillow's decoders raise many kinds of error on hostile data (OSError, ValueError for a text chunk that
    decompresses too far, SyntaxError for a broken PNG, struct.error, EOFError, IndexError...); none of them
    may reach a caller as anything but "this input is not a usable image".
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return decode(value, label, max_pixels)
    except InvalidInputError:
        raise
    except UnidentifiedImageError:
        raise InvalidInputError(f"{label}: not an image, or an image format Pillow cannot read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise InvalidInputError(f"{label}: image is too large to decode safely") from None
    except Exception as exc:  # see the docstring: any decoder error means a corrupt or unusable input
        raise InvalidInputError(
            f"{label}: image data is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from None


def _decode(data: bytes, label: str, max_pixels: int) -> np.ndarray:
    if not data:
        raise InvalidInputError(f"{label}: file is empty (0 bytes)")
    return _guarded(_decode_bytes, data, label, max_pixels)


def photo_format(head: bytes) -> str | None:
    """The format of :data:`PHOTO_FORMATS` that a file's first bytes (16 or more) announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"  # Pillow's JPEG opener also reads a camera's multi-picture (MPO) file
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")):
        return "TIFF"
    if head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "PPM"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF"
    return None


def _refuse_unlisted(data: bytes, label: str) -> str:
    """The Pillow format to open ``data`` with; InvalidInputError, naming what it is, for anything else."""
    fmt = photo_format(data[:16])
    if fmt is not None:
        return fmt
    head = data[:16].lstrip()
    what = next((name for magics, name in _REFUSED if head.startswith(magics)), None)
    if what is None:
        raise InvalidInputError(f"{label}: not an image, or not a format fea-agent decodes ({_ACCEPTED})")
    raise InvalidInputError(f"{label}: {what}, not a photo; fea-agent decodes {_ACCEPTED}")


def _decode_bytes(data: bytes, label: str, max_pixels: int) -> np.ndarray:
    fmt = _refuse_unlisted(data, label)
    img = Image.open(io.BytesIO(data), formats=[fmt])  # that plugin alone: no other one ever sees the bytes
    _check_size(img.width, img.height, label, max_pixels)
    if img.format == "JPEG" and img.mode in ("RGB", "L") and data.rstrip(b"\0").endswith(b"\xff\xd9"):
        rgb = _decode_jpeg_fast(data)
        if rgb is not None:
            return rgb
    img.load()
    return _pil_to_rgb(img, label)


def _pil_image_to_rgb(img: Image.Image, label: str, max_pixels: int) -> np.ndarray:
    """A caller's PIL image: maybe lazily opened (decoded on ``load()``, which may fail) or closed; one opened
    from a file of another format (``img.format``) is refused before ``load()`` runs its decoder."""
    if img.format is not None and img.format not in PHOTO_FORMATS and img.format != "MPO":
        raise InvalidInputError(
            f"{label}: a {img.format} image, not a format fea-agent decodes ({_ACCEPTED})"
        )
    _check_size(img.width, img.height, label, max_pixels)
    img.load()
    return _pil_to_rgb(img, label)


def _decode_jpeg_fast(data: bytes) -> np.ndarray | None:
    """A complete 8-bit JPEG decoded by OpenCV straight into an array: twice as fast as Pillow's decode plus
    its copy into numpy (20 ms against 40 ms for 1350x1350). OpenCV applies the EXIF orientation as Pillow's
    ``exif_transpose`` does. Truncated files (no end-of-image marker) stay on Pillow's path, which names them."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _pil_to_rgb(img: Image.Image, label: str) -> np.ndarray:
    with contextlib.suppress(Exception):  # a broken EXIF block should not lose the picture
        img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        gray = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if img.mode == "F":
        return _array_to_rgb(np.asarray(img), label, MAX_PIXELS)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _array_to_rgb(arr: np.ndarray, label: str, max_pixels: int) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InvalidInputError(
            f"{label}: array of shape {arr.shape} is not an image; expected (H, W), (H, W, 3) RGB or (H, W, 4) RGBA"
        )
    _check_size(int(arr.shape[1]), int(arr.shape[0]), label, max_pixels)
    if arr.dtype.kind not in "biuf":  # complex, object, strings, structured records, dates
        raise InvalidInputError(f"{label}: unsupported array dtype {arr.dtype}; give uint8, uint16 or float")
    if not arr.dtype.isnative:  # big-endian uint16 is not == np.uint16 and would fall to the clipping branch
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.uint16:
        out = (arr >> 8).astype(np.uint8)
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InvalidInputError(f"{label}: array holds NaN or infinite values")
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        out = np.clip(arr * scale, 0, 255).astype(np.uint8)
    else:  # other integers
        out = np.clip(arr, 0, 255).astype(np.uint8)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    elif out.shape[2] == 4:
        alpha = out[..., 3:4].astype(np.float32) / 255.0
        out = (out[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(out)
