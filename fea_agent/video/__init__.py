"""What is made from a video's frame results: tables, the summary, live input.

from fea_agent import FEAPipeline
from fea_agent.video import summarize, to_dataframe

results = list(FEAPipeline().analyze_video("clip.mp4", stride=2))
print(summarize(results).model_dump_json(indent=2))
to_dataframe(results).to_csv("clip.csv")

The frames themselves are analysed by the pipeline's VIDEO mode (:meth:`fea_agent.pipeline.FEAPipeline.run_video`)
and read by :class:`fea_agent.io.video.VideoReader`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fea_agent.io.video import VIDEO_EXTENSIONS, Frame, VideoReader
from fea_agent.results import ImageResult
from fea_agent.video.dataframe import frame_rows, to_dataframe
from fea_agent.video.summary import summarize

if TYPE_CHECKING:
    from fea_agent.pipeline import FEAPipeline


def analyze_video(
    pipeline: FEAPipeline, path: str | os.PathLike[str], **options: Any
) -> Iterator[ImageResult]:
    """``pipeline.analyze_video(path, **options)``: one result per analysed frame, streamed."""
    return pipeline.analyze_video(path, **options)


__all__ = [
    "VIDEO_EXTENSIONS",
    "Frame",
    "VideoReader",
    "analyze_video",
    "frame_rows",
    "summarize",
    "to_dataframe",
]
