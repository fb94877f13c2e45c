"""Fuzz fea-agent's image decoding with mutated PNG, JPEG and WebP files made from real photos.

Every case must either decode to an RGB uint8 array or be refused with ``InvalidInputError``; anything else
is an unhandled exception, printed with the case number (re-create it with the same seed). The suite runs a
few hundred cases (tests/test_reliability_inputs.py); the full run is

    python tools/fuzz_images.py --count 5000 --seed 13
"""

from __future__ import annotations

import argparse
import io
import random
import struct
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _paths import EDGE as PHOTOS
from PIL import Image

SEED_PHOTOS = ("skimage_astronaut.png", "pexels_group.jpeg", "webmorph_lisa_lisa1.jpg", "skimage_coffee.png")
_INTERESTING = (b"\x00", b"\xff", b"\x7f\xff\xff\xff", b"\xff\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00\x00")


def seed_files(photos: Path = PHOTOS, side: int = 128) -> list[bytes]:
    """Small PNG, JPEG (baseline and progressive) and WebP encodings of real photos: the corpus to mutate."""
    files = []
    for name in SEED_PHOTOS:
        img = Image.open(photos / name).convert("RGB")
        img.thumbnail((side, side))
        for fmt, options in (
            ("PNG", {}),
            ("JPEG", {"quality": 85}),
            ("JPEG", {"quality": 70, "progressive": True}),
            ("WEBP", {"quality": 80}),
        ):
            buffer = io.BytesIO()
            img.save(buffer, fmt, **options)
            files.append(buffer.getvalue())
    # a PNG with text and colour-profile chunks, so chunk-level mutations have something to break
    buffer = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "fuzz seed " * 20, zip=True)
    img.save(buffer, "PNG", pnginfo=info, icc_profile=b"\0" * 512)
    files.append(buffer.getvalue())
    return files


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def mutate(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    """One to four random mutations: bit flips, byte runs, interesting values, cuts, splices, repeats and
    (for PNG) well-formed chunks with hostile content."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        pos = rng.randrange(max(1, len(out)))
        if kind == 0:  # flip a few bits, mostly in the header where the parsers decide sizes
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(min(len(out), 200 if rng.random() < 0.6 else len(out)))
                out[i] ^= 1 << rng.randrange(8)
        elif kind == 1:  # overwrite a run with random bytes
            out[pos : pos + rng.randint(1, 16)] = rng.randbytes(rng.randint(1, 16))
        elif kind == 2:  # an interesting value (0, -1, 2^31...) over a field
            value = rng.choice(_INTERESTING)
            out[pos : pos + len(value)] = value
        elif kind == 3:  # truncate
            del out[max(8, pos) :]
        elif kind == 4:  # splice in the tail of another file
            other = rng.choice(corpus)
            out[pos:] = other[rng.randrange(len(other)) :]
        elif kind == 5:  # repeat a block
            block = out[pos : pos + rng.randint(1, 256)]
            out[pos:pos] = block * rng.randint(1, 8)
        elif kind == 6:  # delete a block
            del out[pos : pos + rng.randint(1, 64)]
        elif out[:8] == b"\x89PNG\r\n\x1a\n":  # a valid chunk with hostile content after IHDR
            chunk_kind = rng.choice([b"iCCP", b"zTXt", b"iTXt", b"tEXt", b"PLTE", b"tRNS", b"IDAT", b"acTL"])
            payload = rng.choice(
                [
                    b"x\0\0" + zlib.compress(b"\0" * rng.choice([10, 1 << 20, 4 << 20])),
                    rng.randbytes(rng.randint(0, 64)),
                    b"",
                ]
            )
            out[33:33] = _png_chunk(chunk_kind, payload)
    return bytes(out)


@dataclass
class Report:
    count: int = 0
    decoded: int = 0
    refused: int = 0
    unhandled: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


def run(count: int, seed: int, corpus: list[bytes] | None = None, stop_after: int = 20) -> Report:
    """Decode ``count`` mutated files with :func:`fea_agent.io.images.load_image`."""
    from fea_agent.errors import InvalidInputError
    from fea_agent.io.images import load_image

    corpus = corpus or seed_files()
    rng = random.Random(seed)
    report = Report()
    started = time.perf_counter()
    for i in range(count):
        case = mutate(rng.choice(corpus), rng, corpus)
        report.count += 1
        try:
            rgb = load_image(case).rgb
        except InvalidInputError:
            report.refused += 1
            continue
        except Exception as exc:  # the point of the tool: report, do not stop
            report.unhandled.append((i, f"{type(exc).__name__}: {exc}"))
            if len(report.unhandled) >= stop_after:
                break
            continue
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            report.unhandled.append((i, f"bad output {rgb.dtype} {rgb.shape}"))
        report.decoded += 1
    report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    report = run(args.count, args.seed)
    print(
        f"{report.count} fuzzed images (seed {args.seed}) in {report.seconds:.1f} s: {report.decoded} decoded, "
        f"{report.refused} refused with InvalidInputError, {len(report.unhandled)} unhandled"
    )
    for i, what in report.unhandled:
        print(f"  case {i}: {what}")
    return 1 if report.unhandled else 0


if __name__ == "__main__":
    sys.exit(main())
