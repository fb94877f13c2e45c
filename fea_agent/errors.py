"""Errors raised by fea-agent. Each message names the problem and, where there is one, the fix."""

from __future__ import annotations


class FEAError(Exception):
    """Base class of every error fea-agent raises on purpose."""


class InvalidInputError(FEAError, ValueError):
    """The input is not something fea-agent can analyse (not an image, empty, truncated, too large...)."""


class ModelFileError(FEAError, FileNotFoundError):
    """A model file is missing or does not match its registered sha256."""


class BackendUnavailableError(FEAError, RuntimeError):
    """A backend was asked for but cannot run here (missing package, weights or service)."""
