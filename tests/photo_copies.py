"""Finding copies of a photo on disk: photos with bytes no other file holds, and a search of the temp folders
and /dev/shm for pieces of them (raw and base64). Used by the privacy tests of the demo."""

from __future__ import annotations

import base64
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

#: Where a server or a library would leave a temp file.
TEMP_ROOTS = tuple(
    dict.fromkeys(
        p
        for p in (Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
        if p.is_dir()
    )
)


def unique_photo(source: Path) -> bytes:
    """``source`` with a corner of fresh noise, as PNG: bytes no other file on this machine holds."""
    rgb = np.asarray(Image.open(source).convert("RGB")).copy()
    rgb[-48:, -48:] = np.random.default_rng().integers(0, 256, (48, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def needles(data: bytes) -> list[bytes]:
    """Pieces of the file (raw and base64) that only a copy of it would hold: the end, after the noise."""
    tail = data[-4096:-16]
    return [tail[:64], tail[-64:], base64.b64encode(data)[-400:-200]]


def copies(
    pieces: list[bytes], roots: tuple[Path, ...] | list[Path], since: float, exclude: tuple[Path, ...] = ()
) -> list[Path]:
    """Files under ``roots`` changed since ``since`` that hold one of ``pieces``; ``exclude`` (the test's own
    folders: its inputs, the browser's profile) is not searched."""
    skip = tuple(p.resolve() for p in exclude)
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root, onerror=lambda _: None):
            here = Path(folder).resolve()
            if any(here == s or s in here.parents for s in skip):
                dirs.clear()
                continue
            for name in files:
                path = Path(folder) / name
                try:
                    info = path.lstat()
                    if not path.is_file() or info.st_mtime < since or info.st_size > 200 << 20:
                        continue
                    content = path.read_bytes()
                except OSError:
                    continue
                if any(n in content for n in pieces):
                    found.append(path)
    return found
