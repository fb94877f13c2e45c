"""The output models several tools share: the envelope of a per-photo answer and the per-face pieces.

Conventions (pixels, 0-1 probabilities, 0-5 AU intensities, degrees) are those of :mod:`fea_agent.results`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field
from typing_extensions import Self

from fea_agent.results import ImageInfo, ImageResult

FaceT = TypeVar("FaceT", bound=BaseModel)


class ImageToolOutput(BaseModel, Generic[FaceT]):
    """What a tool found on one photo: per face, the part of the analysis the tool returns."""

    source: str | None = None
    image: ImageInfo
    faces: list[FaceT] = Field(default_factory=list)
    faces_found: int | None = Field(
        None, description="Faces the detector found, set only when max_faces left some out."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def of(cls, result: ImageResult, faces: list[FaceT]) -> Self:
        """The envelope of ``result`` around the tool's per-face answers."""
        return cls(
            source=result.source,
            image=result.image,
            faces=faces,
            faces_found=result.faces_found,
            timings_ms=result.timings_ms,
        )
