"""``analyze_video``: a video file on the server, each face tracked, summarised over time and told as a timeline
of episodes (streamed: memory does not grow with the video)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from fea_agent.agent_tools.image_input import resolve_path
from fea_agent.agent_tools.spec import EncodedImage, ToolContext, ToolInput, ToolResult, ToolSpec
from fea_agent.pipeline import USE_PIPELINE
from fea_agent.results import VideoSummary

DESCRIPTION = (
    "Analyse a video file on the server over time: tracks each face (face_id) and returns a timeline of "
    "episodes in seconds: when each expression starts, peaks and ends, which action units go with it, and "
    "where the face is covered, turned away or missing (nothing is read there); plus per-face totals. "
    "Use focus to ask when one expression or AU occurs ('happiness', 'AU12'), chart for a picture of the "
    "timeline. Takes a while: analyse every stride-th frame, or cap max_frames. The video must be a path "
    "under a directory the server allows; reports progress."
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
    focus: str | None = Field(
        None,
        description="Only the moments of one expression ('happiness', 'smile', 'sadness', ...) or one action "
        "unit ('AU12', '6'); the spans where the face cannot be read are kept. None: every episode.",
    )
    chart: bool = Field(
        False,
        description="Also return the timeline as a PNG chart (an image; off by default to save tokens).",
    )
    min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Count a frame as showing an expression only when its answer's confidence (0-1) reaches "
        "this; frames below it are uncertain between their two most probable labels (no label: they start no "
        "expression episode and count in uncertain_share, not in expression_share). Omit for the server's "
        "default (usually no bar).",
    )

    @field_validator("focus")
    @classmethod
    def _known_focus(cls, value: str | None) -> str | None:
        from fea_agent.video.timeline import parse_focus

        return None if value is None or not value.strip() else parse_focus(value)


class VideoAnalysis(BaseModel):
    """A video over time: per tracked face, its episodes (expressions, AU events, spans where the face cannot
    be read) and totals (dominant expression, AU activation rates, peaks)."""

    source: str
    stride: int
    frames_analysed: int
    focus: str | None = Field(
        None, description="The expression or AU asked for; its episodes alone are kept."
    )
    summary: VideoSummary


def analyze_video(ctx: ToolContext, args: AnalyzeVideoInput) -> ToolResult:
    from fea_agent.video.summary import Summarizer
    from fea_agent.video.timeline import keeps

    path = resolve_path(args.video, ctx.policy, what="video")
    frames = ctx.pipeline.analyze_video(
        path,
        stride=args.stride,
        max_frames=args.max_frames,
        tracking=args.tracking,
        progress=ctx.progress,
        min_confidence=USE_PIPELINE if args.min_confidence is None else args.min_confidence,
    )
    # Each frame's result is folded into the summary and dropped: memory stays flat however long the video.
    summarizer = Summarizer()
    for result in frames:
        summarizer.add(result)
    summary = summarizer.summary()
    if args.focus is not None:
        faces = [
            face.model_copy(update={"episodes": [e for e in face.episodes if keeps(e, args.focus)]})
            for face in summary.faces
        ]
        summary = summary.model_copy(update={"faces": faces})
    image = None
    if args.chart:
        from fea_agent.render.plots import episode_chart

        image = EncodedImage(episode_chart(summary), "image/png")
    output = VideoAnalysis(
        source=args.video,
        stride=args.stride,
        frames_analysed=summary.frames,
        focus=args.focus,
        summary=summary,
    )
    return ToolResult(output, image)


SPEC = ToolSpec(
    name="analyze_video",
    description=DESCRIPTION,
    summary="A video as a timeline of episodes per tracked face (expressions, AUs, covered spans), with totals.",
    input_model=AnalyzeVideoInput,
    output_model=VideoAnalysis,
    func=analyze_video,
)
