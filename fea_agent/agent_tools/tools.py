"""Every agent tool, defined once: name, model-facing description, input and output models, implementation.

MCP, LangChain and LlamaIndex are thin skins over :data:`TOOL_SPECS`: they translate their protocol to
``spec.run(ctx, arguments)`` and the typed output back. The implementations call the pipeline's stages
(detect, perceive, reason) and never re-implement analysis.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ValidationError

from fea_agent.agent_tools.image_input import ImagePolicy, resolve_image, resolve_path
from fea_agent.agent_tools.schemas import (
    ActionUnitDescription,
    ActionUnitDescriptions,
    ActionUnitsResult,
    AnalyzeFaceInput,
    AnalyzeVideoInput,
    AUObservation,
    ClassifyExpressionInput,
    DescribeActionUnitInput,
    DetectActionUnitsInput,
    DetectedFace,
    DetectFacesInput,
    EmotionExplanation,
    ExplainEmotionInput,
    ExpressionResult,
    FaceActionUnits,
    FaceAnalysis,
    FaceDetections,
    FaceExplanation,
    FaceExpression,
    VideoAnalysis,
)
from fea_agent.errors import BackendUnavailableError, InvalidInputError
from fea_agent.results import (
    EXPRESSION_LABELS,
    ActionUnit,
    BoundingBox,
    Expression,
    Face,
    FaceQuality,
    ImageResult,
)

if TYPE_CHECKING:
    from fea_agent.pipeline import Analysis

#: Longer side of the annotated picture a tool returns (smaller pictures are sent as they are).
ANNOTATED_MAX_SIDE = 768
ANNOTATED_JPEG_QUALITY = 85

ProgressCallback = Callable[[int, "int | None"], None]


@dataclass
class ToolContext:
    """What a tool call runs with: a pipeline, the image policy and an optional progress callback.

    Reasoning is the pipeline's own: a pipeline built with ``reasoner=None`` gives tools no reasoning, and
    ``explain_emotion`` then says so. A context is cheap: interfaces that report progress make one per call
    with :meth:`with_progress`.
    """

    pipeline: Any  # FEAPipeline; Any so that importing this module does not load models
    policy: ImagePolicy = field(default_factory=ImagePolicy)
    progress: ProgressCallback | None = None

    def with_progress(self, progress: ProgressCallback | None) -> ToolContext:
        return ToolContext(self.pipeline, self.policy, progress)


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, the description a model reads, its input and output models and implementation."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    func: Callable[[ToolContext, Any], BaseModel]
    returns_image: bool = False
    groups: frozenset[str] = frozenset({"perception"})

    def parse(self, arguments: BaseModel | Mapping[str, Any] | None) -> BaseModel:
        """Validate arguments into the input model; InvalidInputError naming each bad field."""
        if isinstance(arguments, self.input_model):
            return arguments
        try:
            if isinstance(arguments, BaseModel):
                arguments = arguments.model_dump()
            return self.input_model.model_validate(dict(arguments or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInputError(f"{self.name}: invalid arguments: {problems}") from None

    def run(self, ctx: ToolContext, arguments: BaseModel | Mapping[str, Any] | None) -> BaseModel:
        """Validate the arguments and run the tool. Raises FEAError subclasses for bad input."""
        return self.func(ctx, self.parse(arguments))


# -- shared steps ------------------------------------------------------------------------------------------


def _run(ctx: ToolContext, image: str, max_faces: int | None, *, reason: bool) -> Analysis:
    """The pipeline's one analysis path on the tool's image argument (reasoning only when asked)."""
    from fea_agent.pipeline import USE_PIPELINE

    resolved = resolve_image(image, ctx.policy)
    return ctx.pipeline.run(
        resolved.data, source=resolved.source, max_faces=max_faces, reasoner=USE_PIPELINE if reason else None
    )


def _result(analysis: Analysis) -> ImageResult:
    assert analysis.result is not None
    return analysis.result


def _encode_annotated(rgb: np.ndarray, result: ImageResult) -> bytes:
    """The annotated picture as JPEG, downscaled to ANNOTATED_MAX_SIDE (a PNG of a photo is 10x larger)."""
    from PIL import Image

    from fea_agent.render import annotate

    picture = Image.fromarray(annotate(rgb, result, landmarks=False))
    if max(picture.size) > ANNOTATED_MAX_SIDE:
        picture.thumbnail((ANNOTATED_MAX_SIDE, ANNOTATED_MAX_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=ANNOTATED_JPEG_QUALITY)
    return buffer.getvalue()


# -- implementations ---------------------------------------------------------------------------------------


def analyze_face(ctx: ToolContext, args: AnalyzeFaceInput) -> FaceAnalysis:
    analysis = _run(ctx, args.image, args.max_faces, reason=True)
    result = _result(analysis)
    faces = result.faces
    # Drop the bulky fields before the output is built: they are most of its bytes and its copying cost.
    update: dict[str, Any] = {}
    if not args.include_landmarks:
        update["landmarks"] = []
    if not args.include_blendshapes:
        update["blendshapes"] = {}
    if update:
        faces = [f.model_copy(update=update) for f in faces]
    fields = {name: getattr(result, name) for name in ImageResult.model_fields}
    out = FaceAnalysis.model_construct(**{**fields, "faces": faces})
    if args.annotate and faces:
        out._annotated = _encode_annotated(analysis.rgb, out)
    return out


def detect_faces(ctx: ToolContext, args: DetectFacesInput) -> FaceDetections:
    analysis = _run(ctx, args.image, args.max_faces, reason=False)
    result = _result(analysis)
    out = FaceDetections(
        source=result.source,
        image=result.image,
        faces_found=result.faces_found,
        faces=[
            DetectedFace(
                bbox=f.bbox, score=f.score, keypoints=f.keypoints, head_pose=f.head_pose, quality=f.quality
            )
            for f in result.faces
        ],
        timings_ms=result.timings_ms,
    )
    if args.annotate and result.faces:
        # Boxes and numbers only: the detector's answer, not the expression.
        bare = result.model_copy(
            update={"faces": [f.model_copy(update={"aus": [], "expression": None}) for f in result.faces]}
        )
        out._annotated = _encode_annotated(analysis.rgb, bare)
    return out


def detect_action_units(ctx: ToolContext, args: DetectActionUnitsInput) -> ActionUnitsResult:
    result = _result(_run(ctx, args.image, args.max_faces, reason=False))
    return ActionUnitsResult(
        source=result.source,
        image=result.image,
        faces_found=result.faces_found,
        faces=[
            FaceActionUnits(
                bbox=f.bbox,
                head_pose=f.head_pose,
                aus=[a for a in f.aus if a.present or not args.present_only],
                quality=f.quality,
            )
            for f in result.faces
        ],
        timings_ms=result.timings_ms,
    )


def classify_expression(ctx: ToolContext, args: ClassifyExpressionInput) -> ExpressionResult:
    analysis = _run(ctx, args.image, args.max_faces, reason=False)
    looks = list(analysis.appearance) or [None] * len(analysis.faces)
    if args.fuse_with_action_units:
        ctx.pipeline.reason(analysis)
    result = ctx.pipeline.finish(analysis)
    return ExpressionResult(
        source=result.source,
        image=result.image,
        faces_found=result.faces_found,
        faces=[
            FaceExpression(
                bbox=g.bbox,
                # An abstained face gets no label from either view (its quality issues say why).
                appearance=Expression.from_probabilities(look.probabilities)
                if look and g.quality.usable
                else None,
                fused=g.expression
                if args.fuse_with_action_units and g.expression is not None and g.expression.label is not None
                else None,
                quality=g.quality,
            )
            for look, g in zip(looks, result.faces, strict=True)
        ],
        timings_ms=result.timings_ms,
    )


def _au_from_observation(obs: AUObservation | str) -> ActionUnit:
    from fea_agent.facs.catalogue import describe

    if isinstance(obs, str):
        obs = AUObservation(code=obs)
    try:
        info = describe(obs.code)
    except (KeyError, ValueError) as exc:
        raise InvalidInputError(str(exc).strip("'\"")) from None
    intensity = obs.intensity
    probability = obs.probability
    if intensity is None and probability is None:
        intensity, probability = 3.0, 1.0
    elif probability is None:
        probability = min(1.0, intensity / 2.0)  # grade A (1) sits at the presence threshold
    elif intensity is None:
        intensity = 3.0 * probability if probability >= 0.5 else 0.0
    return ActionUnit(
        code=info.code,
        name=info.name,
        probability=probability,
        present=probability >= 0.5,
        intensity=intensity,
    )


def _appearance_expression(appearance: dict[str, float]) -> Expression:
    unknown = sorted(set(appearance) - set(EXPRESSION_LABELS))
    if unknown:
        raise InvalidInputError(
            f"appearance has unknown labels {unknown}; use {', '.join(EXPRESSION_LABELS)}"
        )
    if any(v < 0 for v in appearance.values()) or sum(appearance.values()) <= 0:
        raise InvalidInputError("appearance probabilities must be >= 0 and not all zero")
    total = sum(appearance.values())
    probabilities = {k: appearance.get(k, 0.0) / total for k in EXPRESSION_LABELS}
    return Expression(label=max(probabilities, key=probabilities.__getitem__), probabilities=probabilities)


def explain_emotion(ctx: ToolContext, args: ExplainEmotionInput) -> EmotionExplanation:
    if (args.image is None) == (args.action_units is None):
        raise InvalidInputError("explain_emotion needs exactly one of image or action_units")
    reasoner = ctx.pipeline.reasoner
    if reasoner is None:
        raise BackendUnavailableError(
            "explain_emotion: reasoning is switched off on this server (started with --reasoner none); "
            "use classify_expression or detect_action_units, or start the server with a reasoner"
        )
    if args.image is not None:
        faces = _result(_run(ctx, args.image, args.max_faces, reason=True)).faces
        return EmotionExplanation(
            source="image",
            faces=[
                FaceExplanation(bbox=f.bbox, expression=f.expression, reasoning=f.reasoning)
                for f in faces
                if f.reasoning is not None
            ],
        )
    if not args.action_units:
        raise InvalidInputError("action_units is empty: give at least one AU, e.g. ['AU6', 'AU12']")
    aus = [_au_from_observation(o) for o in args.action_units]
    codes = [a.code for a in aus]
    if len(set(codes)) != len(codes):
        raise InvalidInputError(f"action_units repeats a code: {codes}")
    face = Face(
        bbox=BoundingBox(x=0, y=0, width=0, height=0),
        score=1.0,
        aus=aus,
        expression=_appearance_expression(args.appearance) if args.appearance else None,
        # The client vouches for its measurements: nothing here says the face is unreadable.
        quality=FaceQuality(
            face_size_px=0,
            detection_score=1.0,
            landmarks_found=True,
            landmark_presence=1.0,
            frontal=True,
            usable=True,
        ),
    )
    if _needs_image(reasoner):
        raise InvalidInputError(
            f"explain_emotion: the {reasoner.name!r} reasoner on this server looks at the face itself, so it "
            "needs image=...; explaining from action_units alone needs a server with the 'facs' reasoner"
        )
    (reasoned,) = reasoner.reason([face], None)
    return EmotionExplanation(
        source="action_units",
        faces=[FaceExplanation(bbox=None, expression=reasoned.expression, reasoning=reasoned.reasoning)],
    )


def _needs_image(reasoner: Any) -> bool:
    from fea_agent.backends.registry import BACKENDS

    spec = BACKENDS.get(("reasoner", getattr(reasoner, "name", "")))
    return spec.needs_image if spec is not None else False


def describe_action_unit(ctx: ToolContext, args: DescribeActionUnitInput) -> ActionUnitDescriptions:
    from fea_agent.facs import AU_CATALOGUE, describe, roles

    text = args.code.strip()
    if text.lower() == "all":
        infos = list(AU_CATALOGUE.values())
    else:
        codes = [c for c in re.split(r"[+,;\s]+", text) if c]
        if not codes:
            raise InvalidInputError("code is empty: give an AU code such as 'AU12', or 'all'")
        infos = []
        for code in codes:
            try:
                infos.append(describe(code))
            except (KeyError, ValueError) as exc:
                raise InvalidInputError(str(exc).strip("'\"")) from None
    return ActionUnitDescriptions(
        action_units=[
            ActionUnitDescription(
                code=i.code,
                name=i.name,
                muscle=i.muscle,
                appearance=i.appearance,
                core_of=list(roles(i.code).core_of),
                supports=list(roles(i.code).supports),
                contradicts=list(roles(i.code).contradicts),
            )
            for i in infos
        ]
    )


def analyze_video(ctx: ToolContext, args: AnalyzeVideoInput) -> VideoAnalysis:
    path = resolve_path(args.video, ctx.policy, what="video")
    try:
        from fea_agent import video
    except ImportError as exc:
        raise BackendUnavailableError(
            f"video analysis is not available in this installation ({exc})"
        ) from None
    if not hasattr(ctx.pipeline, "analyze_video"):
        raise BackendUnavailableError("video analysis is not available: this pipeline has no analyze_video")
    frames = ctx.pipeline.analyze_video(
        path, stride=args.stride, tracking=args.tracking, progress=ctx.progress
    )
    results = list(itertools.islice(frames, args.max_frames) if args.max_frames else frames)
    if hasattr(frames, "close"):
        frames.close()  # stop decoding when max_frames cut the video short
    summary = video.summarize(results)
    return VideoAnalysis(
        source=args.video,
        stride=args.stride,
        frames_analysed=len(results),
        summary=summary.model_dump(mode="json") if isinstance(summary, BaseModel) else dict(summary),
    )


# -- the registry ------------------------------------------------------------------------------------------

_BOTH = frozenset({"perception", "reasoning"})

TOOL_SPECS: dict[str, ToolSpec] = {
    s.name: s
    for s in (
        ToolSpec(
            name="analyze_face",
            description=(
                "Full facial emotion analysis of a photo: finds every face, then for each gives its box, "
                "head pose, facial action units (FACS AUs, probability 0-1 and intensity 0-5), the "
                "expression (neutral, happiness, sadness, surprise, fear, disgust, anger, contempt) fused "
                "from appearance and AUs, and a reasoning text that states the label first and then the "
                "facial actions behind it (e.g. 'Happiness. ... raised cheeks (AU06), lip corners pulled up "
                "(AU12)'). Also returns an annotated picture. Use this when asked how someone feels or what "
                "a face expresses. Check each face's quality.usable: when false the reasoning abstains and "
                "says why."
            ),
            input_model=AnalyzeFaceInput,
            output_model=FaceAnalysis,
            func=analyze_face,
            returns_image=True,
            groups=_BOTH,
        ),
        ToolSpec(
            name="detect_faces",
            description=(
                "Find the faces in a photo: for each, its box (pixels), detector score, 5 keypoints (eyes, "
                "nose, mouth corners), head pose (yaw, pitch, roll in degrees) and quality (size, frontal, "
                "usable). Largest face first. Returns a picture with the boxes numbered. Use it to count "
                "faces or locate them; use analyze_face for expressions."
            ),
            input_model=DetectFacesInput,
            output_model=FaceDetections,
            func=detect_faces,
            returns_image=True,
        ),
        ToolSpec(
            name="detect_action_units",
            description=(
                "Measure facial action units (FACS) on every face of a photo: for each AU (AU01 inner brow "
                "raiser, AU04 brow lowerer, AU06 cheek raiser, AU12 lip corner puller, ...) its probability "
                "of being present (0-1) and intensity (0-5, 1-5 = FACS grades A-E). The values come from the "
                "server's action-unit backend (by default estimated from a face mesh, approximate; the "
                "fea://backends resource names it). Use it when facial movements, not an emotion label, "
                "are asked for, or to pass to explain_emotion."
            ),
            input_model=DetectActionUnitsInput,
            output_model=ActionUnitsResult,
            func=detect_action_units,
        ),
        ToolSpec(
            name="classify_expression",
            description=(
                "Classify each face's expression in a photo: probabilities over neutral, happiness, sadness,"
                " surprise, fear, disgust, anger, contempt. 'appearance' is the image classifier alone; "
                "'fused' combines it with the facial action units and is the more reliable answer. Use "
                "analyze_face when an explanation is wanted too."
            ),
            input_model=ClassifyExpressionInput,
            output_model=ExpressionResult,
            func=classify_expression,
        ),
        ToolSpec(
            name="explain_emotion",
            description=(
                "Explain which emotion a face shows and why, grounded in facial action units: the answer "
                "states the label first, then the facial actions that support or contradict it, and says "
                "when the evidence is ambiguous or mixed. Give either an image, or action units you already "
                "have (e.g. from detect_action_units), optionally with appearance probabilities to fuse with"
                " them."
            ),
            input_model=ExplainEmotionInput,
            output_model=EmotionExplanation,
            func=explain_emotion,
            groups=frozenset({"reasoning"}),
        ),
        ToolSpec(
            name="describe_action_unit",
            description=(
                "Look up facial action units in the FACS catalogue: name, muscle, what the movement looks "
                "like, and which expressions it is part of, supports or argues against. Accepts 'AU12', "
                "'12', several codes ('6+12') or 'all'. Needs no image."
            ),
            input_model=DescribeActionUnitInput,
            output_model=ActionUnitDescriptions,
            func=describe_action_unit,
            groups=_BOTH,
        ),
        ToolSpec(
            name="analyze_video",
            description=(
                "Analyse a video file on the server over time: tracks each face (face_id) and summarises, "
                "per face, the dominant expression, how often each action unit is active and the expression "
                "peaks with their timestamps. Takes a while: analyse every stride-th frame, or cap "
                "max_frames. The video must be a path under a directory the server allows; reports progress."
            ),
            input_model=AnalyzeVideoInput,
            output_model=VideoAnalysis,
            func=analyze_video,
        ),
    )
}

#: Tool sets a server can expose.
TOOL_GROUPS: dict[str, tuple[str, ...]] = {
    "perception": tuple(n for n, s in TOOL_SPECS.items() if "perception" in s.groups),
    "reasoning": tuple(n for n, s in TOOL_SPECS.items() if "reasoning" in s.groups),
    "all": tuple(TOOL_SPECS),
}


def tools_for(group: str = "all") -> list[ToolSpec]:
    """The specs of a tool set: 'perception', 'reasoning' or 'all'."""
    try:
        return [TOOL_SPECS[n] for n in TOOL_GROUPS[group]]
    except KeyError:
        raise ValueError(f"unknown tool set {group!r}; choose one of {', '.join(TOOL_GROUPS)}") from None
