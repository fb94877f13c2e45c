"""``detect_faces``: where the faces of a photo are, how the heads are turned, and whether each can be read."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fea_agent.agent_tools.outputs import ImageToolOutput
from fea_agent.agent_tools.spec import (
    EncodedImage,
    ImageToolInput,
    ToolContext,
    ToolResult,
    ToolSpec,
    run_image,
)
from fea_agent.results import BoundingBox, FaceQuality, HeadPose

DESCRIPTION = (
    "Find the faces in a photo: for each, its box (pixels), detector score, 5 keypoints (eyes, "
    "nose, mouth corners), head pose (yaw, pitch, roll in degrees) and quality (size, frontal, "
    "usable). Largest face first. Returns a picture with the boxes numbered. Use it to count "
    "faces or locate them; use analyze_face for expressions."
)


class DetectFacesInput(ImageToolInput):
    annotate: bool = Field(True, description="Also return a picture with the face boxes drawn and numbered.")


class DetectedFace(BaseModel):
    bbox: BoundingBox
    score: float = Field(ge=0, le=1, description="Face detector confidence.")
    keypoints: list[list[float]] = Field(
        default_factory=list,
        description="5 points [x, y]: right eye, left eye, nose tip, right and left mouth corner.",
    )
    head_pose: HeadPose | None = None
    quality: FaceQuality


class FaceDetections(ImageToolOutput[DetectedFace]):
    """The faces found in the image, largest first."""


def detect_faces(ctx: ToolContext, args: DetectFacesInput) -> ToolResult:
    analysis = run_image(ctx, args.image, args.max_faces, reason=False)
    result = analysis.result
    out = FaceDetections.of(
        result,
        [
            DetectedFace(
                bbox=f.bbox, score=f.score, keypoints=f.keypoints, head_pose=f.head_pose, quality=f.quality
            )
            for f in result.faces
        ],
    )
    picture = None
    if args.annotate and result.faces:
        # Boxes and numbers only: the detector's answer, not the expression.
        bare = result.model_copy(
            update={"faces": [f.model_copy(update={"aus": [], "expression": None}) for f in result.faces]}
        )
        picture = EncodedImage.annotated(analysis.rgb, bare)
    return ToolResult(out, picture)


SPEC = ToolSpec(
    name="detect_faces",
    description=DESCRIPTION,
    summary="Face boxes, keypoints, head pose and quality.",
    input_model=DetectFacesInput,
    output_model=FaceDetections,
    func=detect_faces,
)
