"""What is made from a video's frame results: tables, the summary, live input.

from fea_agent import FEAPipeline
from fea_agent.video import episodes_dataframe, summarize, timeline_text, to_dataframe

results = list(FEAPipeline().analyze_video("clip.mp4", stride=2))
summary = summarize(results)
print(timeline_text(summary))                      # the episodes in words, for a person or a model
to_dataframe(results).to_csv("clip.csv")           # one row per face per frame
episodes_dataframe(summary).to_csv("clip_episodes.csv")  # one row per episode

The frames themselves are analysed by the pipeline's VIDEO mode (:meth:`fea_agent.pipeline.FEAPipeline.run_video`)
and read by :class:`fea_agent.io.video.VideoReader`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fea_agent.io.video import VIDEO_EXTENSIONS, Frame, VideoReader
from fea_agent.results import ImageResult
from fea_agent.video.dataframe import episodes_dataframe, frame_rows, to_dataframe
from fea_agent.video.episodes import EpisodeEvent, EpisodeOptions
from fea_agent.video.summary import summarize
from fea_agent.video.timeline import timeline_text

if TYPE_CHECKING:
    from fea_agent.pipeline import FEAPipeline


def analyze_video(
    pipeline: FEAPipeline, path: str | os.PathLike[str], **options: Any
) -> Iterator[ImageResult]:
    """``pipeline.analyze_video(path, **options)``: one result per analysed frame, streamed."""
    return pipeline.analyze_video(path, **options)


__all__ = [
    "VIDEO_EXTENSIONS",
    "EpisodeEvent",
    "EpisodeOptions",
    "Frame",
    "VideoReader",
    "analyze_video",
    "episodes_dataframe",
    "frame_rows",
    "summarize",
    "timeline_text",
    "to_dataframe",
]
