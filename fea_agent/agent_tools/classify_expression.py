"""``classify_expression``: each face's expression, from appearance alone and fused with the action units."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fea_agent.agent_tools.outputs import ImageToolOutput
from fea_agent.agent_tools.spec import ExpressionToolInput, ToolContext, ToolResult, ToolSpec, run_image
from fea_agent.pipeline.confidence import withhold_expression
from fea_agent.results import BoundingBox, Expression, FaceQuality

DESCRIPTION = (
    "Classify each face's expression in a photo: probabilities over neutral, happiness, sadness,"
    " surprise, fear, disgust, anger, contempt. 'appearance' is the image classifier alone; "
    "'fused' combines it with the facial action units and is the more reliable answer. Use "
    "analyze_face when an explanation is wanted too. With min_confidence, an answer below it names no "
    "label: it is 'uncertain between' the two labels in uncertain_between."
)


class ClassifyExpressionInput(ExpressionToolInput):
    fuse_with_action_units: bool = Field(
        True,
        description="Also return the expression fused with the facial action units (more reliable than "
        "appearance alone); false returns only the appearance classifier's answer.",
    )


class FaceExpression(BaseModel):
    bbox: BoundingBox
    appearance: Expression | None = Field(None, description="The appearance classifier's answer alone.")
    fused: Expression | None = Field(None, description="Appearance fused with the action units.")
    quality: FaceQuality


class ExpressionResult(ImageToolOutput[FaceExpression]):
    """Expression probabilities per face."""


def classify_expression(ctx: ToolContext, args: ClassifyExpressionInput) -> ToolResult:
    analysis = run_image(ctx, args.image, args.max_faces, reason=False, min_confidence=args.min_confidence)
    looks = list(analysis.appearance) or [None] * len(analysis.faces)
    if args.fuse_with_action_units:
        ctx.pipeline.reason(analysis)
    result = ctx.pipeline.finish(analysis)
    bar = analysis.min_confidence
    faces = [
        FaceExpression(
            bbox=g.bbox,
            # An abstained face gets no label from either view (its quality issues say why); each view names
            # its label only above the confidence bar (else it is uncertain between its top two).
            appearance=withhold_expression(Expression.from_probabilities(look.probabilities), bar)
            if look and g.quality.usable
            else None,
            fused=g.expression
            if args.fuse_with_action_units and g.expression is not None and g.expression.probabilities
            else None,
            quality=g.quality,
        )
        for look, g in zip(looks, result.faces, strict=True)
    ]
    return ToolResult(ExpressionResult.of(result, faces))


SPEC = ToolSpec(
    name="classify_expression",
    description=DESCRIPTION,
    summary="Expression probabilities per face, appearance alone and fused with the AUs.",
    input_model=ClassifyExpressionInput,
    output_model=ExpressionResult,
    func=classify_expression,
)
