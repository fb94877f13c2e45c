"""``detect_action_units``: the facial action units (FACS) measured on every face of a photo."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fea_agent.agent_tools.outputs import ImageToolOutput
from fea_agent.agent_tools.spec import ImageToolInput, ToolContext, ToolResult, ToolSpec, run_image
from fea_agent.results import PRESENCE, ActionUnit, BoundingBox, FaceQuality, HeadPose

DESCRIPTION = (
    "Measure facial action units (FACS) on every face of a photo: for each AU (AU01 inner brow "
    "raiser, AU04 brow lowerer, AU06 cheek raiser, AU12 lip corner puller, ...) its probability "
    "of being present (0-1) and intensity (0-5, 1-5 = FACS grades A-E). The values come from the "
    "server's action-unit backend (by default estimated from a face mesh, approximate; the "
    "fea://backends resource names it). Use it when facial movements, not an emotion label, "
    "are asked for, or to pass to explain_emotion."
)


class DetectActionUnitsInput(ImageToolInput):
    present_only: bool = Field(
        False,
        description=f"Return only the AUs judged present (probability >= {PRESENCE}) instead of all measured.",
    )


class FaceActionUnits(BaseModel):
    bbox: BoundingBox
    head_pose: HeadPose | None = None
    aus: list[ActionUnit] = Field(
        default_factory=list, description="Action units: probability 0-1, present flag, intensity 0-5."
    )
    quality: FaceQuality


class ActionUnitsResult(ImageToolOutput[FaceActionUnits]):
    """Facial action units (FACS) per face, from the action-unit backend (by default estimated from MediaPipe
    blendshapes: approximate)."""


def detect_action_units(ctx: ToolContext, args: DetectActionUnitsInput) -> ToolResult:
    result = run_image(ctx, args.image, args.max_faces, reason=False).result
    faces = [
        FaceActionUnits(
            bbox=f.bbox,
            head_pose=f.head_pose,
            aus=[a for a in f.aus if a.present or not args.present_only],
            quality=f.quality,
        )
        for f in result.faces
    ]
    return ToolResult(ActionUnitsResult.of(result, faces))


SPEC = ToolSpec(
    name="detect_action_units",
    description=DESCRIPTION,
    summary="Facial action units (FACS) per face: probability 0-1, intensity 0-5.",
    input_model=DetectActionUnitsInput,
    output_model=ActionUnitsResult,
    func=detect_action_units,
)
