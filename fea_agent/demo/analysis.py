"""The demo's calls into the pipeline: decode an upload, analyse it with the chosen reasoner, and turn
fea-agent's errors into messages the page shows (``gr.Error``), never tracebacks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from fea_agent.backends.registry import names as backend_names
from fea_agent.errors import FEAError, describe_error
from fea_agent.io.images import LoadedImage, load_image
from fea_agent.pipeline import USE_PIPELINE, FEAPipeline
from fea_agent.reasoning import Reasoner, get_reasoner
from fea_agent.results import ImageResult

log = logging.getLogger(__name__)


@dataclass
class Reasoners:
    """The reasoners the page offers: those that could be built here, and why the others could not."""

    available: dict[str, Reasoner] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def probe(cls, pipeline: FEAPipeline, names: tuple[str, ...] | None = None) -> Reasoners:
        """Try to build each named reasoner; the pipeline's own is reused, failures keep their message."""
        out = cls()
        own = pipeline.reasoner
        for name in names if names is not None else backend_names("reasoner"):
            if own is not None and getattr(own, "name", None) == name:
                out.available[name] = own
                continue
            try:
                out.available[name] = get_reasoner(name)
            except Exception as exc:  # any backend failure means "not here"; its message says why
                out.unavailable[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return out


@contextmanager
def user_errors(what: str) -> Iterator[None]:
    """Show fea-agent's errors as a message naming the problem; anything unexpected as a short message too."""
    try:
        yield
    except gr.Error:
        raise
    except FEAError as exc:
        raise gr.Error(describe_error(exc), title=f"Cannot analyse {what}") from None
    except Exception as exc:
        log.exception("demo: unexpected error while analysing %s", what)
        raise gr.Error(describe_error(exc), title=f"Analysis of {what} failed") from None


def decode(data: bytes, name: str, pipeline: FEAPipeline) -> LoadedImage:
    """Decode uploaded bytes (EXIF orientation applied); :class:`InvalidInputError` names the file."""
    return load_image(data, source=name, max_pixels=pipeline.options.max_pixels)


def analyze(
    pipeline: FEAPipeline, loaded: LoadedImage, reasoner: Reasoner | None, min_confidence: Any = USE_PIPELINE
) -> ImageResult:
    """Analyse with the pipeline; a reasoner other than the pipeline's own replaces its reasoning stage, and
    ``min_confidence`` (the page's slider; 0: always answer) its confidence bar."""
    return pipeline.run(
        loaded, reasoner=reasoner if reasoner is not None else USE_PIPELINE, min_confidence=min_confidence
    ).result
