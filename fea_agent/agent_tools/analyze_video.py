"""``analyze_video``: a video file on the server, each face tracked and summarised over time (streamed)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fea_agent.agent_tools.image_input import resolve_path
from fea_agent.agent_tools.spec import ToolContext, ToolInput, ToolResult, ToolSpec
from fea_agent.results import VideoSummary

DESCRIPTION = (
    "Analyse a video file on the server over time: tracks each face (face_id) and summarises, "
    "per face, the dominant expression, how often each action unit is active and the expression "
    "peaks with their timestamps. Takes a while: analyse every stride-th frame, or cap "
    "max_frames. The video must be a path under a directory the server allows; reports progress."
)


class AnalyzeVideoInput(ToolInput):
    video: str = Field(
        description="Path of a video file on the server (MP4, AVI, MOV, ...), under a directory the "
        "server's operator allowed; a relative path is looked for as for images. Videos are not accepted inline."
    )
    stride: int = Field(5, ge=1, le=1000, description="Analyse every stride-th frame (1 = every frame).")
    tracking: bool = Field(True, description="Follow each face across frames and give it a stable face_id.")
    max_frames: int | None = Field(
        None, ge=1, description="Stop after analysing this many frames (None: the whole video)."
    )


class VideoAnalysis(BaseModel):
    """A video summarised over time: per tracked face, the dominant expression, AU activation rates, peaks."""

    source: str
    stride: int
    frames_analysed: int
    summary: VideoSummary


def analyze_video(ctx: ToolContext, args: AnalyzeVideoInput) -> ToolResult:
    from fea_agent.video.summary import Summarizer

    path = resolve_path(args.video, ctx.policy, what="video")
    frames = ctx.pipeline.analyze_video(
        path, stride=args.stride, max_frames=args.max_frames, tracking=args.tracking, progress=ctx.progress
    )
    # Each frame's result is folded into the summary and dropped: memory stays flat however long the video.
    summarizer = Summarizer()
    for result in frames:
        summarizer.add(result)
    summary = summarizer.summary()
    return ToolResult(
        VideoAnalysis(source=args.video, stride=args.stride, frames_analysed=summary.frames, summary=summary)
    )


SPEC = ToolSpec(
    name="analyze_video",
    description=DESCRIPTION,
    summary="A video summarised per tracked face: dominant expression, AU activation rates, peaks.",
    input_model=AnalyzeVideoInput,
    output_model=VideoAnalysis,
    func=analyze_video,
)
