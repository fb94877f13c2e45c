"""One image on its way through the pipeline: the decoded pixels, what each stage found, the timings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from fea_agent.backends.base import AppearanceOutput, Detection
from fea_agent.io.images import LoadedImage
from fea_agent.results import Face, ImageResult


@dataclass
class Analysis:
    """The in-flight state of one image (or video frame).

    :meth:`FEAPipeline.run <fea_agent.pipeline.FEAPipeline.run>` returns it finished; renderers use ``rgb``
    (the decoded pixels) with :attr:`result`. Interfaces that run the stages one by one (the LangGraph agent)
    pass the same object along until :meth:`~fea_agent.pipeline.FEAPipeline.finish`.
    """

    loaded: LoadedImage
    started: float
    timings: dict[str, float] = field(default_factory=dict)
    detections: list[Detection] = field(default_factory=list)
    faces_found: int = 0
    faces: list[Face] = field(default_factory=list)
    #: Each face's appearance-backend output (None without one): the reasoner compares appearance and AUs
    #: with it once the expression model has replaced ``face.expression``; training reads its embedding.
    appearance: list[AppearanceOutput | None] = field(default_factory=list)
    frame_index: int | None = None
    timestamp_s: float | None = None
    reasoner_device: str | None = None
    #: The confidence bar :meth:`~fea_agent.pipeline.FEAPipeline.finish` applies (None: always name the label);
    #: the options' ``min_confidence`` unless the call gave its own.
    min_confidence: float | None = None
    _result: ImageResult | None = field(default=None, repr=False)

    @property
    def rgb(self) -> np.ndarray:
        return self.loaded.rgb

    @property
    def finished(self) -> bool:
        return self._result is not None

    @property
    def result(self) -> ImageResult:
        """The typed result; raises until the pipeline has finished the analysis."""
        if self._result is None:
            raise RuntimeError("the analysis is not finished: call FEAPipeline.finish(analysis) first")
        return self._result

    @result.setter
    def result(self, value: ImageResult) -> None:
        self._result = value

    def add_time(self, stage: str, started: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + (time.perf_counter() - started) * 1000.0
