"""The one way fea-agent opens a file it was given: regular files only, bounded, and never blocking.

A path from a user, an agent or an MCP client may name anything: ``/dev/zero`` (endless), a FIFO (blocks the
reader forever), a device, a folder, a path too long for the file system, ``~nosuchuser/...`` or text holding
a NUL byte. :func:`open_regular` opens with ``O_NONBLOCK`` (so a FIFO cannot block the open) and checks with
``fstat`` on the open descriptor (so the check and the read see the same file) that it is a regular file; the
size is checked before reading and enforced while reading, in case the file grows. Every refusal is an
:class:`~fea_agent.errors.InvalidInputError` that names the path and the problem.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fea_agent.errors import InvalidInputError

#: Largest file read by default (an image of 50 Mpx compresses well below this).
MAX_FILE_BYTES = 256 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "is a directory, not a file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def short_label(text: str, limit: int = 200) -> str:
    """A path for an error message: over-long ones cut in the middle, so the message stays readable."""
    return (
        text
        if len(text) <= limit
        else f"{text[: limit // 2]}...{text[-limit // 2 :]} ({len(text):,} characters)"
    )


def expand_path(path: str | os.PathLike[str], label: str | None = None) -> Path:
    """``path`` as a Path, with ``~`` expanded; refuses NUL bytes and unknown users by name."""
    text = os.fspath(path)
    label = label if label is not None else short_label(str(text))
    if isinstance(text, bytes):
        try:
            text = os.fsdecode(text)
        except UnicodeDecodeError:
            raise InvalidInputError(f"{label!r}: path is not valid text") from None
    if "\0" in text:
        raise InvalidInputError(f"{label!r}: path contains a NUL byte")
    if text.startswith("~"):
        expanded = os.path.expanduser(text)
        if expanded.startswith("~"):
            user = text[1:].split("/", 1)[0]
            raise InvalidInputError(f"{label}: no such user {user!r} for '~{user}'")
        text = expanded
    return Path(text)


def describe_os_error(exc: OSError) -> str:
    """An OSError in words, for a path that could not be opened."""
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.ENAMETOOLONG:
        return "path is too long"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is not a directory"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    if exc.errno == errno.EISDIR:
        return "is a directory, not a file"
    if exc.errno == errno.ENXIO:
        return "is a special file with no reader or device behind it"
    return f"cannot be opened ({exc.strerror or exc})"


def _os_call(call: Any, path: Path, label: str, *args: Any) -> Any:
    """``call(path, *args)`` with its OSError (and ValueError, for a path the OS cannot take) in words."""
    try:
        return call(path, *args)
    except OSError as exc:
        raise InvalidInputError(f"{label}: {describe_os_error(exc)}") from None
    except ValueError as exc:
        raise InvalidInputError(f"{label}: not a usable path ({exc})") from None


def _refuse_special(mode: int, label: str) -> None:
    for is_kind, message in _KINDS:
        if is_kind(mode):
            raise InvalidInputError(f"{label}: {message}")
    if not stat.S_ISREG(mode):
        raise InvalidInputError(f"{label}: not a regular file")


@contextlib.contextmanager
def open_regular(
    path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Iterator[tuple[int, int]]:
    """An open descriptor of a regular, non-empty file of at most ``max_bytes``, and its size.

    Raises InvalidInputError for anything else (missing, a folder, a FIFO, a device, a socket, too big, empty,
    a bad path). Special files are refused from ``stat`` before they are opened, and again from ``fstat``
    after the non-blocking open. The descriptor is in blocking mode again (regular files never block) and
    closed on exit.
    """
    label = label if label is not None else short_label(str(path))
    real = expand_path(path, label)
    # Refused before opening too: opening some devices acts (a watchdog arms, a tape rewinds).
    _refuse_special(_os_call(os.stat, real, label).st_mode, label)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = _os_call(os.open, real, label, flags)
    try:
        info = os.fstat(fd)  # again on the open file: the path may have been swapped since the stat
        _refuse_special(info.st_mode, label)
        if info.st_size == 0:
            raise InvalidInputError(f"{label}: file is empty (0 bytes)")
        if info.st_size > max_bytes:
            raise InvalidInputError(
                f"{label}: file is {info.st_size:,} bytes, above the limit of {max_bytes:,}"
            )
        os.set_blocking(fd, True)
        yield fd, info.st_size
    finally:
        os.close(fd)


class HeldFile:
    """A regular file opened once and held open, for readers that open files by name themselves (FFmpeg).

    ``reader_path`` names the open descriptor (``/proc/self/fd/N``, or ``/dev/fd/N``): a reader that opens it
    gets the very file that was checked, even if the path now names another one (a FIFO or device swapped in
    after the check). Where the system has neither, it is the checked path. Closed by :meth:`close`, on exit
    from ``with``, or when garbage-collected.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
    ) -> None:
        with open_regular(path, label=label, max_bytes=max_bytes) as (fd, size):
            self.fd = os.dup(fd)
        self.size = size
        self.path = expand_path(path, label)
        self._close = weakref.finalize(self, os.close, self.fd)
        by_fd = [Path(f"/proc/self/fd/{self.fd}"), Path(f"/dev/fd/{self.fd}")]
        self.reader_path = str(next((p for p in by_fd if p.exists()), self.path))

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes (at most)."""
        return os.pread(self.fd, n, 0)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> HeldFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_regular(
    path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Path:
    """The path, expanded, if it names a regular non-empty file of at most ``max_bytes`` (for readers such as
    FFmpeg that open the file themselves); InvalidInputError otherwise."""
    with open_regular(path, label=label, max_bytes=max_bytes):
        return expand_path(path, label)


def read_file(
    path: str | os.PathLike[str], *, label: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; InvalidInputError for anything else."""
    label = label if label is not None else short_label(str(path))
    with open_regular(path, label=label, max_bytes=max_bytes) as (fd, _size):
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:  # the file grew after fstat
                    raise InvalidInputError(f"{label}: file is larger than the limit of {max_bytes:,} bytes")
                chunks.append(chunk)
        except OSError as exc:
            raise InvalidInputError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    if total == 0:
        raise InvalidInputError(f"{label}: file is empty (0 bytes)")
    return b"".join(chunks)
