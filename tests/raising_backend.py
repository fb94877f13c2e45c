"""A test backend, written as docs/backends.md says a backend is added (one module, one registry entry): the
real FER2013 classifier, which raises ``RuntimeError`` as torch or onnxruntime would (a CUDA error, a broken
kernel) for the next :attr:`FlakyAppearance.failures` calls. The error-route tests use it to check that every skin answers such a
failure with a message and goes on."""

from __future__ import annotations

import numpy as np

from fea_agent.backends.base import AppearanceOutput, Detection
from fea_agent.backends.context import BuildContext
from fea_agent.backends.registry import BackendSpec, register
from fea_agent.perception.fer import load_fer

MESSAGE = "CUDA error: an illegal memory access was encountered"


class FlakyAppearance:
    """The FER CNN; its next ``failures`` calls (a class attribute, so a pipeline built inside a CLI run is
    reached too) raise RuntimeError instead."""

    name = "flaky"
    device = "cpu"
    failures = 0

    def __init__(self, ctx: BuildContext) -> None:
        self._fer = load_fer(ctx)

    def predict(self, rgb: np.ndarray, detections: list[Detection]) -> list[AppearanceOutput]:
        if FlakyAppearance.failures > 0:
            FlakyAppearance.failures -= 1
            raise RuntimeError(MESSAGE)
        return self._fer.predict(rgb, detections)


def load_flaky(ctx: BuildContext) -> FlakyAppearance:
    return FlakyAppearance(ctx)


SPEC = BackendSpec(
    "appearance",
    "flaky",
    "the FER CNN, raising RuntimeError on demand (tests only)",
    "raising_backend:load_flaky",
    models=("fer",),
)


def ensure_registered() -> None:
    from fea_agent.backends.registry import BACKENDS

    if (SPEC.stage, SPEC.name) not in BACKENDS:
        register(SPEC)
