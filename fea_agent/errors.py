"""Errors raised by fea-agent, and the one route from any exception to the message a user or model reads.

Each message names the problem and, where there is one, the fix. Every skin (CLI, MCP, LangChain, LlamaIndex,
the demo, batch) shows :func:`describe_error`'s words, so the same failure reads the same everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class FEAError(Exception):
    """Base class of every error fea-agent raises on purpose."""


class InvalidInputError(FEAError, ValueError):
    """The input is not something fea-agent can analyse (not an image, empty, truncated, too large...)."""


class ModelFileError(FEAError, FileNotFoundError):
    """A model file is missing or does not match its registered sha256."""


class BackendUnavailableError(FEAError, RuntimeError):
    """A backend was asked for but cannot run here (missing package, weights or service)."""


class ModelRefusalError(FEAError, RuntimeError):
    """The model declined to answer (a refusal or a content filter), so the face has no reading."""


class BadResponseError(FEAError, RuntimeError):
    """The endpoint answered with something that is not an OpenAI chat completion."""


def describe_validation(exc: ValidationError) -> str:
    """Arguments that break a schema, named field by field (not pydantic's multi-line report), so a model or a
    person can correct the call: ``invalid arguments: max_faces: Input should be greater than or equal to 1``."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
    )
    return f"invalid arguments: {problems}"


def describe_error(exc: BaseException) -> str:
    """The message any skin shows for ``exc``: an :class:`FEAError`'s own words; invalid arguments field by
    field; anything else (a bug, a RuntimeError from torch or onnxruntime) as ``internal error: Type: msg``,
    so the caller learns what broke and the server, batch or agent run goes on."""
    from pydantic import ValidationError

    if isinstance(exc, FEAError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return describe_validation(exc)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"internal error: {type(exc).__name__}" + (f": {detail}" if detail else "")
