"""Video analysis: streamed frames, face identity across frames, smoothing, a per-person baseline, a summary.

from fea_agent import FEAPipeline
from fea_agent.video import summarize, to_dataframe

results = list(FEAPipeline().analyze_video("clip.mp4", stride=2))
print(summarize(results).model_dump_json(indent=2))
to_dataframe(results).to_csv("clip.csv")
"""

from __future__ import annotations

from fea_agent.video.analyzer import analyze_video
from fea_agent.video.dataframe import frame_rows, to_dataframe
from fea_agent.video.frames import VIDEO_EXTENSIONS, Frame, VideoReader
from fea_agent.video.summary import summarize

__all__ = [
    "VIDEO_EXTENSIONS",
    "Frame",
    "VideoReader",
    "analyze_video",
    "frame_rows",
    "summarize",
    "to_dataframe",
]
