"""The one resolver of the ``image`` (and ``video``) string argument every agent tool takes.

A tool argument is text, so an image reaches a tool as one of:

- base64 of the file's bytes (standard or URL-safe alphabet, padding optional, whitespace ignored);
- a data URI, ``data:image/png;base64,...``;
- a file path, accepted only under directories the operator allowed (:class:`ImagePolicy`); symlinks and
  ``..`` are resolved first, so a path cannot escape its directory. A relative path is looked for in the
  current folder when that is inside an allowed directory, then in each allowed directory in turn; when it is
  in none, the refusal names the folders searched.

Anything else is refused with an :class:`~fea_agent.errors.InvalidInputError` that names the problem
(not base64, empty, too large, outside the allowed directories, ...). Decoding the bytes into pixels is
:func:`fea_agent.io.images.load_image`'s job, which says "not an image" or "file is empty".
Nothing is written to disk and the image bytes are never logged.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from fea_agent.errors import InvalidInputError
from fea_agent.io.files import check_regular, expand_path, read_file

#: Largest image accepted through a tool argument (decoded bytes).
MAX_IMAGE_BYTES = 25 * 1024 * 1024

_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=_-]")  # standard and URL-safe alphabets
_WHITESPACE = re.compile(r"\s+")
_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),(?P<data>.*)", re.DOTALL)
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:[\\/]")
_HOW = "send the image as base64 of the file's bytes or as a data URI (data:image/jpeg;base64,...)"


@dataclass(frozen=True)
class ImagePolicy:
    """What a tool may read: file paths only under ``allowed_dirs`` (none by default), at most ``max_bytes``.

    ``allowed_dirs`` are resolved (absolute, symlinks followed) on construction.
    """

    allowed_dirs: tuple[Path, ...] = ()
    max_bytes: int = MAX_IMAGE_BYTES
    _resolved: tuple[Path, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        resolved = []
        for d in self.allowed_dirs:
            path = Path(d).expanduser().resolve()
            if not path.is_dir():
                raise ValueError(f"allowed directory {d} does not exist or is not a directory")
            resolved.append(path)
        object.__setattr__(self, "allowed_dirs", tuple(resolved))
        object.__setattr__(self, "_resolved", tuple(resolved))

    @classmethod
    def allowing(cls, *dirs: str | os.PathLike[str], max_bytes: int = MAX_IMAGE_BYTES) -> ImagePolicy:
        """A policy that reads files under ``dirs``."""
        return cls(allowed_dirs=tuple(Path(d) for d in dirs), max_bytes=max_bytes)

    def check_path(self, text: str) -> Path:
        """The resolved path if it lies under an allowed directory; InvalidInputError otherwise.

        A relative path is looked for in :meth:`search_dirs` in order, and the first place that holds it wins;
        a relative path found in none of them is refused naming them all. The policy is checked before the
        file system is asked whether a file exists, so a refused path reveals nothing about what exists
        outside the allowed directories.
        """
        if not self._resolved:
            raise InvalidInputError(
                f"{text!r} looks like a file path, but this server accepts no file paths; {_HOW}"
            )
        path = expand_path(text)
        if path.is_absolute():
            return self._allowed(text, _resolved(text, path))
        searched = self.search_dirs()
        candidates = [_resolved(text, base / path) for base in searched]
        inside = [p for p in candidates if self._is_allowed(p)]
        if not inside:
            return self._allowed(text, candidates[0])  # every candidate escapes (``../``): that refusal
        found = next((p for p in inside if p.exists()), None)
        if found is not None:
            return found
        folders = ", ".join(str(d) for d in searched)
        raise InvalidInputError(
            f"{text}: no such file in {folders} (a relative path is looked for in the current folder when it "
            f"is inside an allowed directory, then in each allowed directory); give the full path or {_HOW}"
        )

    def search_dirs(self) -> list[Path]:
        """Where a relative path is looked for: the current folder if it is inside an allowed directory, then
        the allowed directories in the order given."""
        try:
            here = Path.cwd().resolve()
        except OSError:  # the current folder was removed
            return list(self._resolved)
        if self._is_allowed(here):
            return [here, *(d for d in self._resolved if d != here)]
        return list(self._resolved)

    def _is_allowed(self, resolved: Path) -> bool:
        return any(resolved.is_relative_to(d) for d in self._resolved)

    def _allowed(self, text: str, resolved: Path) -> Path:
        if self._is_allowed(resolved):
            return resolved
        allowed = ", ".join(str(d) for d in self._resolved)
        raise InvalidInputError(
            f"{text}: path is outside the allowed directories ({allowed}); move the file there or {_HOW}"
        )


def _resolved(text: str, path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # too long, a symlink loop (RuntimeError before Python 3.13)
        raise InvalidInputError(f"{text}: not a usable path ({exc})") from None


@dataclass(frozen=True)
class ResolvedImage:
    """Encoded image bytes (not yet decoded) and what to call them in results and errors."""

    data: bytes
    source: str


def _looks_like_path(text: str) -> bool:
    # Base64 never holds '.', '\\' or ':'; an image's base64 is long. Short text with a path shape is a path.
    if len(text) > 4096:
        return False
    if text.startswith(("/", "~", "./", "../", "\\")) or _WINDOWS_DRIVE.match(text):
        return True
    return any(c in text for c in ".\\:")


def _decode_base64(text: str, what: str, max_bytes: int) -> bytes:
    compact = _WHITESPACE.sub("", text)
    if not compact:
        raise InvalidInputError(f"{what} is empty; {_HOW}")
    if len(compact) * 3 // 4 > max_bytes:
        raise InvalidInputError(
            f"{what} is about {len(compact) * 3 // 4:,} bytes, above the limit of {max_bytes:,}; downscale it"
        )
    bad = _NOT_BASE64.search(compact)
    if bad is not None:
        raise InvalidInputError(
            f"{what} is not valid base64: character {bad.group()!r} at position {bad.start()}; {_HOW}"
        )
    urlsafe = "-" in compact or "_" in compact
    body = compact.rstrip("=")
    if len(body) % 4 == 1:
        raise InvalidInputError(f"{what} is not valid base64: its length ({len(body)}) is impossible; {_HOW}")
    padded = body + "=" * (-len(body) % 4)
    try:
        return (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(padded)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(f"{what} is not valid base64 ({exc}); {_HOW}") from None


def resolve_image(value: str, policy: ImagePolicy | None = None, *, what: str = "image") -> ResolvedImage:
    """The bytes an ``image`` argument stands for: base64, a data URI, or an allowed file path.

    Raises InvalidInputError naming the problem. The bytes are not decoded here: pass them to
    :func:`fea_agent.io.images.load_image`, which says whether they are an image.
    """
    policy = policy or ImagePolicy()
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{what} must be a string (base64, a data URI or a file path), not {type(value).__name__}"
        )
    text = value.strip()
    if not text:
        raise InvalidInputError(f"{what} is empty; {_HOW}")
    if text[:5].lower() == "data:":
        match = _DATA_URI.fullmatch(text)
        if match is None:
            raise InvalidInputError(f"{what} is a malformed data URI (no comma before the data); {_HOW}")
        if ";base64" not in match["params"].lower():
            raise InvalidInputError(
                f"{what} is a data URI without ';base64'; only base64 data URIs are accepted"
            )
        mime = match["mime"] or "unknown type"
        if not mime.startswith("image/") and mime != "application/octet-stream":
            raise InvalidInputError(f"{what} is a data URI of type {mime}, not an image")
        return ResolvedImage(
            _decode_base64(match["data"], f"{what} (data URI)", policy.max_bytes), f"<{mime}>"
        )
    if _looks_like_path(text):
        path = policy.check_path(text)
        return ResolvedImage(read_file(path, label=text, max_bytes=policy.max_bytes), text)
    return ResolvedImage(_decode_base64(text, f"{what} (base64)", policy.max_bytes), "<base64 image>")


def resolve_path(value: str, policy: ImagePolicy | None = None, *, what: str = "video") -> Path:
    """An allowed, existing, non-empty file path (for videos, which are not sent inline)."""
    policy = policy or ImagePolicy()
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInputError(f"{what} is empty; give the path of a file under an allowed directory")
    if not _looks_like_path(text) and len(text) > 256:
        raise InvalidInputError(
            f"{what} looks like inline data; give a file path under an allowed directory instead"
        )
    return check_regular(policy.check_path(text), label=text)
