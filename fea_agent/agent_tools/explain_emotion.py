"""``explain_emotion``: which emotion a face shows and why, from a photo or from action units already measured."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fea_agent.agent_tools.spec import (
    IMAGE_DESCRIPTION,
    MIN_CONFIDENCE_DESCRIPTION,
    REASONING,
    ToolContext,
    ToolInput,
    ToolResult,
    ToolSpec,
    run_image,
)
from fea_agent.backends.registry import spec as backend_spec
from fea_agent.errors import BackendUnavailableError, InvalidInputError
from fea_agent.pipeline import MAX_FACES
from fea_agent.pipeline.confidence import withhold
from fea_agent.results import (
    EXPRESSION_LABELS,
    PRESENCE,
    ActionUnit,
    BoundingBox,
    Expression,
    Face,
    FaceQuality,
    Reasoning,
)

DESCRIPTION = (
    "Explain which emotion a face shows and why, grounded in facial action units: the answer "
    "states the label first, then the facial actions that support or contradict it, and says "
    "when the evidence is ambiguous or mixed (or, below min_confidence, that it is uncertain "
    "between two labels, naming neither). Give either an image, or action units you already "
    "have (e.g. from detect_action_units), optionally with appearance probabilities to fuse with"
    " them."
)


class AUObservation(ToolInput):
    """An action unit a client already measured."""

    code: str = Field(description="FACS code such as 'AU12', '12' or 'au6'.")
    intensity: float | None = Field(
        None, ge=0, le=5, description="Intensity 0-5 (1-5 = FACS grades A-E). Default 3 when present."
    )
    probability: float | None = Field(
        None, ge=0, le=1, description="Probability the AU is present, 0-1. Default: intensity/2, capped at 1."
    )


class ExplainEmotionInput(ToolInput):
    image: str | None = Field(
        None, description=IMAGE_DESCRIPTION + " Give either image or action_units, not both."
    )
    action_units: list[AUObservation | str] | None = Field(
        None,
        description="Action units already measured on one face, instead of an image: codes ('AU6', 'AU12') "
        "for AUs that are present, or objects with code, intensity (0-5) and/or probability (0-1).",
    )
    appearance: dict[str, float] | None = Field(
        None,
        description="Optional, with action_units: an appearance classifier's probabilities per expression "
        "(neutral, happiness, sadness, surprise, fear, disgust, anger, contempt) to fuse with the AUs.",
    )
    max_faces: int | None = Field(
        None, ge=1, description=f"With an image: explain at most this many faces (default {MAX_FACES})."
    )
    min_confidence: float | None = Field(None, ge=0, le=1, description=MIN_CONFIDENCE_DESCRIPTION)


class FaceExplanation(BaseModel):
    bbox: BoundingBox | None = Field(None, description="The face's box; None when reasoning from given AUs.")
    expression: Expression | None = None
    reasoning: Reasoning


#: What an answer from given action units says about itself.
AUS_ONLY_NOTE = (
    "Explained from the given action units alone: the face's appearance and shape, which the expression model "
    "weighs with the AUs when it sees the photo, were not available, so the label can differ from "
    "analyze_face's on the same photo. For the full answer, call explain_emotion or analyze_face with image=."
)


class EmotionExplanation(BaseModel):
    """The reasoner's answer per face: label first, then a description grounded in the action units."""

    source: str = Field(description="'image' or 'action_units': what the reasoning started from.")
    faces: list[FaceExplanation] = Field(default_factory=list)
    note: str | None = Field(
        None, description="What the answer rests on, when that is less than the photo (action units alone)."
    )


def _au_from_observation(obs: AUObservation | str) -> ActionUnit:
    from fea_agent.facs.catalogue import describe

    if isinstance(obs, str):
        obs = AUObservation(code=obs)
    try:
        info = describe(obs.code)
    except (KeyError, ValueError) as exc:
        raise InvalidInputError(str(exc).strip("'\"")) from None
    intensity, probability = obs.intensity, obs.probability
    if intensity is None and probability is None:
        intensity, probability = 3.0, 1.0
    elif probability is None:
        assert intensity is not None
        probability = min(1.0, intensity / 2.0)  # grade A (1) sits at the presence threshold
    elif intensity is None:
        intensity = 3.0 * probability if probability >= PRESENCE else 0.0
    return ActionUnit.measured(info.code, info.name, probability=probability, intensity=intensity)


def _appearance_expression(appearance: dict[str, float]) -> Expression:
    unknown = sorted(set(appearance) - set(EXPRESSION_LABELS))
    if unknown:
        raise InvalidInputError(
            f"appearance has unknown labels {unknown}; use {', '.join(EXPRESSION_LABELS)}"
        )
    if any(v < 0 for v in appearance.values()) or sum(appearance.values()) <= 0:
        raise InvalidInputError("appearance probabilities must be >= 0 and not all zero")
    total = sum(appearance.values())
    return Expression.from_probabilities({k: appearance.get(k, 0.0) / total for k in EXPRESSION_LABELS})


def explain_emotion(ctx: ToolContext, args: ExplainEmotionInput) -> ToolResult:
    if (args.image is None) == (args.action_units is None):
        raise InvalidInputError("explain_emotion needs exactly one of image or action_units")
    reasoner = ctx.pipeline.reasoner
    if reasoner is None:
        raise BackendUnavailableError(
            "explain_emotion: reasoning is switched off on this server (started with --reasoner none); "
            "use classify_expression or detect_action_units, or start the server with a reasoner"
        )
    if args.image is not None:
        analysis = run_image(ctx, args.image, args.max_faces, reason=True, min_confidence=args.min_confidence)
        faces = analysis.result.faces
        explained = [
            FaceExplanation(bbox=f.bbox, expression=f.expression, reasoning=f.reasoning)
            for f in faces
            if f.reasoning is not None
        ]
        return ToolResult(EmotionExplanation(source="image", faces=explained))
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
    if ctx.pipeline.options.reasoner and backend_spec("reasoner", ctx.pipeline.options.reasoner).needs_image:
        raise InvalidInputError(
            f"explain_emotion: the {reasoner.name!r} reasoner on this server looks at the face itself, so it "
            "needs image=...; explaining from action_units alone needs a server with the 'facs' reasoner"
        )
    (reasoned,) = reasoner.reason([face], None)
    bar = ctx.pipeline.options.min_confidence if args.min_confidence is None else args.min_confidence
    reasoned = withhold(reasoned, bar)
    assert reasoned.reasoning is not None  # a usable face with AUs is always explained
    answer = FaceExplanation(bbox=None, expression=reasoned.expression, reasoning=reasoned.reasoning)
    return ToolResult(EmotionExplanation(source="action_units", faces=[answer], note=AUS_ONLY_NOTE))


SPEC = ToolSpec(
    name="explain_emotion",
    description=DESCRIPTION,
    summary="The reasoner's label-first explanation grounded in AUs, from an image or from given AUs.",
    input_model=ExplainEmotionInput,
    output_model=EmotionExplanation,
    func=explain_emotion,
    groups=frozenset({REASONING}),
)
