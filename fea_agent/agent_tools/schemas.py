"""Pydantic inputs and outputs of the agent tools.

Inputs: one model per tool; the ``Field`` descriptions are what a language model reads to fill the arguments.
Outputs: :class:`~fea_agent.results.ImageResult` where a tool returns everything, and small models built from
the same result types where a tool returns less. Conventions (pixels, 0-1 probabilities, 0-5 AU intensities,
degrees) are those of :mod:`fea_agent.results`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from fea_agent.pipeline import MAX_FACES
from fea_agent.results import (
    ActionUnit,
    BoundingBox,
    Expression,
    FaceQuality,
    HeadPose,
    ImageInfo,
    ImageResult,
    Reasoning,
)

IMAGE_DESCRIPTION = (
    "The photo to analyse: base64 of the image file's bytes (JPEG, PNG, WebP, ...), or a data URI "
    "('data:image/jpeg;base64,...'), or a file path on the server, accepted only under directories the "
    "server's operator allowed."
)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _WithAnnotatedImage(BaseModel):
    """An output that may carry an annotated picture beside its JSON (never serialised into the JSON)."""

    _annotated: bytes | None = PrivateAttr(default=None)
    _annotated_mime: str = PrivateAttr(default="image/jpeg")


def annotated_image(output: BaseModel) -> tuple[bytes, str] | None:
    """The annotated image an output carries, as (encoded bytes, MIME type), or None."""
    data = getattr(output, "_annotated", None)
    return (data, getattr(output, "_annotated_mime", "image/jpeg")) if data else None


# -- inputs ------------------------------------------------------------------------------------------------


class ImageToolInput(_Input):
    image: str = Field(description=IMAGE_DESCRIPTION)
    max_faces: int | None = Field(
        None, ge=1, description=f"Analyse at most this many faces, largest first (default {MAX_FACES})."
    )


class AnalyzeFaceInput(ImageToolInput):
    annotate: bool = Field(
        True,
        description="Also return a picture with each face's box, label and strongest action units drawn.",
    )
    include_landmarks: bool = Field(
        False, description="Include the 478 3-D landmarks per face (large; only for geometry work)."
    )
    include_blendshapes: bool = Field(False, description="Include the 52 raw blendshape scores per face.")


class DetectFacesInput(ImageToolInput):
    annotate: bool = Field(True, description="Also return a picture with the face boxes drawn and numbered.")


class DetectActionUnitsInput(ImageToolInput):
    present_only: bool = Field(
        False, description="Return only the AUs judged present (probability >= 0.5) instead of all measured."
    )


class ClassifyExpressionInput(ImageToolInput):
    fuse_with_action_units: bool = Field(
        True,
        description="Also return the expression fused with the facial action units (more reliable than "
        "appearance alone); false returns only the appearance classifier's answer.",
    )


class AUObservation(_Input):
    """An action unit a client already measured."""

    code: str = Field(description="FACS code such as 'AU12', '12' or 'au6'.")
    intensity: float | None = Field(
        None, ge=0, le=5, description="Intensity 0-5 (1-5 = FACS grades A-E). Default 3 when present."
    )
    probability: float | None = Field(
        None, ge=0, le=1, description="Probability the AU is present, 0-1. Default: intensity/2, capped at 1."
    )


class ExplainEmotionInput(_Input):
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


class DescribeActionUnitInput(_Input):
    code: str = Field(
        description="One or more FACS action-unit codes, e.g. 'AU12', '6', or several joined by '+' or ',' "
        "('6+12'). 'all' lists the whole catalogue."
    )


class AnalyzeVideoInput(_Input):
    video: str = Field(
        description="Path of a video file on the server (MP4, AVI, MOV, ...), under a directory the "
        "server's operator allowed. Videos are not accepted inline."
    )
    stride: int = Field(5, ge=1, le=1000, description="Analyse every stride-th frame (1 = every frame).")
    tracking: bool = Field(True, description="Follow each face across frames and give it a stable face_id.")
    max_frames: int | None = Field(
        None, ge=1, description="Stop after analysing this many frames (None: the whole video)."
    )


# -- outputs -----------------------------------------------------------------------------------------------


class FaceAnalysis(ImageResult, _WithAnnotatedImage):
    """Everything measured on every face of the image, with the reasoner's grounded explanation."""


class DetectedFace(BaseModel):
    bbox: BoundingBox
    score: float = Field(ge=0, le=1, description="Face detector confidence.")
    keypoints: list[list[float]] = Field(
        default_factory=list,
        description="5 points [x, y]: right eye, left eye, nose tip, right and left mouth corner.",
    )
    head_pose: HeadPose | None = None
    quality: FaceQuality


class FaceDetections(_WithAnnotatedImage):
    """The faces found in the image, largest first."""

    source: str | None = None
    image: ImageInfo
    faces: list[DetectedFace] = Field(default_factory=list)
    faces_found: int | None = Field(
        None, description="Faces the detector found, set only when max_faces left some out."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)


class FaceActionUnits(BaseModel):
    bbox: BoundingBox
    head_pose: HeadPose | None = None
    aus: list[ActionUnit] = Field(
        default_factory=list, description="Action units: probability 0-1, present flag, intensity 0-5."
    )
    quality: FaceQuality


class ActionUnitsResult(BaseModel):
    """Facial action units (FACS) per face, from the action-unit backend (by default estimated from MediaPipe
    blendshapes: approximate)."""

    source: str | None = None
    image: ImageInfo
    faces: list[FaceActionUnits] = Field(default_factory=list)
    faces_found: int | None = Field(
        None, description="Faces the detector found, set only when max_faces left some out."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)


class FaceExpression(BaseModel):
    bbox: BoundingBox
    appearance: Expression | None = Field(None, description="The appearance classifier's answer alone.")
    fused: Expression | None = Field(None, description="Appearance fused with the action units.")
    quality: FaceQuality


class ExpressionResult(BaseModel):
    """Expression probabilities per face."""

    source: str | None = None
    image: ImageInfo
    faces: list[FaceExpression] = Field(default_factory=list)
    faces_found: int | None = Field(
        None, description="Faces the detector found, set only when max_faces left some out."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)


class FaceExplanation(BaseModel):
    bbox: BoundingBox | None = Field(None, description="The face's box; None when reasoning from given AUs.")
    expression: Expression | None = None
    reasoning: Reasoning


class EmotionExplanation(BaseModel):
    """The reasoner's answer per face: label first, then a description grounded in the action units."""

    source: str = Field(description="'image' or 'action_units': what the reasoning started from.")
    faces: list[FaceExplanation] = Field(default_factory=list)


class ActionUnitDescription(BaseModel):
    code: str
    name: str
    muscle: str = Field(description="Muscular basis.")
    appearance: str = Field(description="What the movement looks like.")
    core_of: list[str] = Field(default_factory=list, description="Expressions this AU is a core part of.")
    supports: list[str] = Field(default_factory=list, description="Expressions it supports.")
    contradicts: list[str] = Field(
        default_factory=list, description="Expressions its presence argues against."
    )


class ActionUnitDescriptions(BaseModel):
    """Entries of the FACS action-unit catalogue."""

    action_units: list[ActionUnitDescription]


class VideoAnalysis(BaseModel):
    """A video summarised over time: per tracked face, the dominant expression, AU activation rates, peaks."""

    source: str
    stride: int
    frames_analysed: int
    summary: dict[str, Any] = Field(description="fea_agent.video.summarize's VideoSummary, as JSON.")


__all__ = [
    "IMAGE_DESCRIPTION",
    "AUObservation",
    "ActionUnitDescription",
    "ActionUnitDescriptions",
    "ActionUnitsResult",
    "AnalyzeFaceInput",
    "AnalyzeVideoInput",
    "ClassifyExpressionInput",
    "DescribeActionUnitInput",
    "DetectActionUnitsInput",
    "DetectFacesInput",
    "DetectedFace",
    "EmotionExplanation",
    "ExplainEmotionInput",
    "ExpressionResult",
    "FaceActionUnits",
    "FaceAnalysis",
    "FaceDetections",
    "FaceExplanation",
    "FaceExpression",
    "ImageToolInput",
    "VideoAnalysis",
    "annotated_image",
]
