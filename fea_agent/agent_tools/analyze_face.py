"""``analyze_face``: everything measured on every face of a photo, with the reasoner's grounded explanation."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fea_agent.agent_tools.spec import (
    PERCEPTION,
    REASONING,
    EncodedImage,
    ExpressionToolInput,
    ToolContext,
    ToolResult,
    ToolSpec,
    run_image,
)
from fea_agent.results import ImageResult

DESCRIPTION = (
    "Full facial emotion analysis of a photo: finds every face, then for each gives its box, "
    "head pose, facial action units (FACS AUs, probability 0-1 and intensity 0-5), the "
    "expression (neutral, happiness, sadness, surprise, fear, disgust, anger, contempt) fused "
    "from appearance and AUs, and a reasoning text that states the label first and then the "
    "facial actions behind it (e.g. 'Happiness. ... raised cheeks (AU06), lip corners pulled up "
    "(AU12)'). Also returns an annotated picture. Use this when asked how someone feels or what "
    "a face expresses. Check each face's quality.usable: when false the reasoning abstains and "
    "says why. With min_confidence, a face below it is 'uncertain between' two labels (expression.label null, "
    "expression.uncertain_between the two): report it so."
)


class AnalyzeFaceInput(ExpressionToolInput):
    annotate: bool = Field(
        True,
        description="Also return a picture with each face's box, label and strongest action units drawn.",
    )
    include_landmarks: bool = Field(
        False, description="Include the 478 3-D landmarks per face (large; only for geometry work)."
    )
    include_blendshapes: bool = Field(False, description="Include the 52 raw blendshape scores per face.")


class FaceAnalysis(ImageResult):
    """Everything measured on every face of the image, with the reasoner's grounded explanation."""


def analyze_face(ctx: ToolContext, args: AnalyzeFaceInput) -> ToolResult:
    analysis = run_image(ctx, args.image, args.max_faces, reason=True, min_confidence=args.min_confidence)
    result = analysis.result
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
    picture = EncodedImage.annotated(analysis.rgb, out) if args.annotate and faces else None
    return ToolResult(out, picture)


SPEC = ToolSpec(
    name="analyze_face",
    description=DESCRIPTION,
    summary="Full analysis of every face: box, pose, AUs, fused expression and the grounded reasoning.",
    input_model=AnalyzeFaceInput,
    output_model=FaceAnalysis,
    func=analyze_face,
    groups=frozenset({PERCEPTION, REASONING}),
)
