"""What every agent tool is made of: its spec, the context it runs in, its result, and the shared image input.

A tool module (``analyze_face.py``, ...) defines its input model, its output model, the description a language
model reads, and the implementation, and ends with its :class:`ToolSpec`. The skins (MCP, LangChain, LlamaIndex,
the demo) call :meth:`ToolSpec.call` and translate the :class:`ToolResult`; none of them re-implements analysis.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fea_agent.agent_tools.image_input import ImagePolicy, resolve_image
from fea_agent.errors import InvalidInputError, describe_validation
from fea_agent.pipeline import MAX_FACES, USE_PIPELINE, Analysis, FEAPipeline
from fea_agent.results import ImageResult

#: Longer side of the annotated picture a tool returns (smaller pictures are sent as they are).
ANNOTATED_MAX_SIDE = 768
ANNOTATED_JPEG_QUALITY = 85

#: The tool sets a server can expose: ``perception`` (measuring), ``reasoning`` (explaining), or ``all``.
PERCEPTION, REASONING = "perception", "reasoning"

IMAGE_DESCRIPTION = (
    "The photo to analyse: base64 of the image file's bytes (JPEG, PNG, WebP, ...), or a data URI "
    "('data:image/jpeg;base64,...'), or a file path on the server, accepted only under directories the "
    "server's operator allowed. Pass a path as the user gave it: a relative one is looked for in the "
    "server's current folder (when that is allowed), then in each allowed directory."
)

MIN_CONFIDENCE_DESCRIPTION = (
    "Answer only above this confidence, 0-1 (e.g. 0.6). A face whose expression is less confident is "
    "returned as uncertain between its two most probable labels: expression.label is null, "
    "expression.uncertain_between names the two (most probable first), the probabilities are kept, and the "
    "reasoning says 'Uncertain between X (p%) and Y (q%)'. Report such a face as uncertain between the two, "
    "never as one of them. 0 always names the most probable label; omit it for the server's default "
    "(usually no bar)."
)

ProgressCallback = Callable[[int, "int | None"], None]


@dataclass
class ToolContext:
    """What a tool call runs with: a pipeline, the image policy and an optional progress callback.

    Reasoning is the pipeline's own: a pipeline built with ``reasoner=None`` gives tools no reasoning, and
    ``explain_emotion`` then says so. A context is cheap: interfaces that report progress make one per call
    with :meth:`with_progress`.
    """

    pipeline: FEAPipeline
    policy: ImagePolicy = field(default_factory=ImagePolicy)
    progress: ProgressCallback | None = None

    def with_progress(self, progress: ProgressCallback | None) -> ToolContext:
        return ToolContext(self.pipeline, self.policy, progress)


@dataclass(frozen=True)
class EncodedImage:
    """A picture a tool hands back beside its typed output: encoded bytes and their MIME type."""

    data: bytes
    mime_type: str = "image/jpeg"

    @classmethod
    def annotated(cls, rgb: np.ndarray, result: ImageResult) -> EncodedImage:
        """The result drawn on the photo, as JPEG, downscaled to ANNOTATED_MAX_SIDE (a PNG of a photo is
        ten times larger)."""
        from PIL import Image

        from fea_agent.render import annotate

        picture = Image.fromarray(annotate(rgb, result, landmarks=False))
        if max(picture.size) > ANNOTATED_MAX_SIDE:
            picture.thumbnail((ANNOTATED_MAX_SIDE, ANNOTATED_MAX_SIDE))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=ANNOTATED_JPEG_QUALITY)
        return cls(buffer.getvalue())


@dataclass(frozen=True)
class ToolResult:
    """One call's answer: the typed output (its JSON is the structured result) and, for the tools that draw
    one, the annotated picture."""

    output: BaseModel
    image: EncodedImage | None = None


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, the description a model reads, a one-line summary for people, its input and
    output models, the implementation, and the tool sets it belongs to."""

    name: str
    description: str
    summary: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    func: Callable[[ToolContext, Any], ToolResult]
    groups: frozenset[str] = frozenset({PERCEPTION})

    def parse(self, arguments: BaseModel | Mapping[str, Any] | None) -> BaseModel:
        """Validate arguments into the input model; InvalidInputError naming each bad field."""
        if isinstance(arguments, self.input_model):
            return arguments
        try:
            if isinstance(arguments, BaseModel):
                arguments = arguments.model_dump()
            return self.input_model.model_validate(dict(arguments or {}))
        except ValidationError as exc:
            raise InvalidInputError(f"{self.name}: {describe_validation(exc)}") from None

    def call(self, ctx: ToolContext, arguments: BaseModel | Mapping[str, Any] | None) -> ToolResult:
        """Validate the arguments and run the tool: the typed output and its picture, if any. Raises
        FEAError subclasses for bad input."""
        return self.func(ctx, self.parse(arguments))

    def run(self, ctx: ToolContext, arguments: BaseModel | Mapping[str, Any] | None) -> BaseModel:
        """:meth:`call`'s typed output alone."""
        return self.call(ctx, arguments).output


class ToolInput(BaseModel):
    """The base of every tool's arguments: unknown arguments are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ImageToolInput(ToolInput):
    """The arguments of a tool that analyses one photo."""

    image: str = Field(description=IMAGE_DESCRIPTION)
    max_faces: int | None = Field(
        None, ge=1, description=f"Analyse at most this many faces, largest first (default {MAX_FACES})."
    )


class ExpressionToolInput(ImageToolInput):
    """The arguments of a tool that names each face's expression: a photo, and the confidence to name it at."""

    min_confidence: float | None = Field(None, ge=0, le=1, description=MIN_CONFIDENCE_DESCRIPTION)


def run_image(
    ctx: ToolContext,
    image: str,
    max_faces: int | None,
    *,
    reason: bool,
    min_confidence: float | None = None,
) -> Analysis:
    """The pipeline's one analysis path on a tool's ``image`` argument (reasoning only when asked);
    ``min_confidence`` None keeps the pipeline's own bar."""
    resolved = resolve_image(image, ctx.policy)
    return ctx.pipeline.run(
        resolved.data,
        source=resolved.source,
        max_faces=max_faces,
        reasoner=USE_PIPELINE if reason else None,
        min_confidence=USE_PIPELINE if min_confidence is None else min_confidence,
    )
