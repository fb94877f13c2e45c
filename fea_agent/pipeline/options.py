"""One options object for a pipeline: one field per stage naming its backend, and the few shared numbers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fea_agent.backends.context import DETECTION_MAX_SIDE, DETECTION_THRESHOLD, BuildContext
from fea_agent.backends.registry import DEFAULTS, STAGES, Stage, names, spec
from fea_agent.errors import InvalidInputError
from fea_agent.io.images import MAX_PIXELS
from fea_agent.pipeline.confidence import check_min_confidence

#: The default face limit, the same in every interface.
MAX_FACES = 32


def _choices(stage: Stage) -> str:
    return ", ".join(repr(n) for n in names(stage))


def _backend_name(stage: Stage, optional: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None or (optional and isinstance(value, str) and value.strip().lower() in ("", "none")):
            if not optional:
                raise ValueError(f"a {stage.replace('_', ' ')} backend is required")
            return None
        name = str(value).strip().lower()
        if name not in names(stage):
            choices = ", ".join(names(stage)) + (", none" if optional else "")
            raise ValueError(f"unknown {stage.replace('_', ' ')} backend {value!r}; choose one of {choices}")
        return name

    return check


class PipelineOptions(BaseModel):
    """Everything that configures a pipeline, in one place: one field per stage names its backend."""

    model_config = ConfigDict(extra="forbid")

    detector: str = Field(DEFAULTS["detector"], description=f"Face detector backend: {_choices('detector')}.")
    landmarks: str | None = Field(
        DEFAULTS["landmarks"],
        description=f"Landmarks, blendshapes and head pose backend ({_choices('landmarks')}), or None to skip.",
    )
    action_units: str | None = Field(
        DEFAULTS["action_units"],
        description=f"Action-unit backend ({_choices('action_units')}; 'blendshapes' needs the landmarks), "
        "or None.",
    )
    appearance: str | None = Field(
        DEFAULTS["appearance"],
        description=f"Appearance expression backend ({_choices('appearance')}), or None to skip.",
    )
    expression_model: str | None = Field(
        "default",
        description="The learned expression model over AU and appearance evidence: 'default' (shipped), a "
        "registry name, the path of a file written by `fea-agent train`, or None for the appearance label alone.",
    )
    reasoner: str | None = Field(
        DEFAULTS["reasoner"], description=f"Reasoning backend by name ({_choices('reasoner')}), or None."
    )
    reasoner_options: dict[str, Any] = Field(default_factory=dict, description="Passed to the reasoner.")
    detection_threshold: float = Field(
        DETECTION_THRESHOLD, ge=0, le=1, description="Detector score below which a box is dropped."
    )
    detection_max_side: int = Field(
        DETECTION_MAX_SIDE, ge=64, description="Images are downscaled to this longer side for detection only."
    )
    max_faces: int = Field(MAX_FACES, ge=1, description="Analyse at most this many faces, largest first.")
    max_pixels: int = Field(MAX_PIXELS, ge=1, description="Refuse larger images.")
    model_dir: Path | None = Field(None, description="Folder of model files; default $FEA_AGENT_MODEL_DIR.")
    min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Name a face's expression only when the answer's confidence (0-1: the label's probability, "
        "lowered for a turned or small face) reaches this; below it the face is 'uncertain between' its two "
        "most probable labels (label None, uncertain_between set, probabilities kept). None or 0: always "
        "name the most probable label.",
    )

    _detector = field_validator("detector", mode="before")(staticmethod(_backend_name("detector", False)))
    _landmarks = field_validator("landmarks", mode="before")(staticmethod(_backend_name("landmarks", True)))
    _aus = field_validator("action_units", mode="before")(staticmethod(_backend_name("action_units", True)))
    _appearance = field_validator("appearance", mode="before")(
        staticmethod(_backend_name("appearance", True))
    )
    _reasoner = field_validator("reasoner", mode="before")(staticmethod(_backend_name("reasoner", True)))

    @field_validator("min_confidence", mode="before")
    @classmethod
    def _min_confidence(cls, value: Any) -> float | None:
        return check_min_confidence(value)

    @field_validator("expression_model", mode="before")
    @classmethod
    def _expression_model(cls, value: Any) -> str | None:
        if value is None or str(value).strip().lower() in ("", "none"):
            return None
        return str(value)

    @property
    def backends(self) -> dict[str, str | None]:
        """Stage -> the backend it runs (None: the stage is off), in pipeline order."""
        return {stage: getattr(self, stage) for stage in STAGES}

    def check_requirements(self) -> None:
        """Raise :class:`InvalidInputError` when a backend reads a stage that is switched off (the registry's
        ``requires``), before anything is loaded."""
        for stage in STAGES:
            name = getattr(self, stage)
            if name is None:
                continue
            for needed in spec(stage, name).requires:
                if getattr(self, needed) is None:
                    raise InvalidInputError(
                        f"the {name!r} {stage.replace('_', ' ')} are computed from the {needed}: choose a "
                        f"{needed} backend, or {stage}=None"
                    )

    def build_context(self, stage: Stage) -> BuildContext:
        """What the registry builds ``stage``'s backend with."""
        return BuildContext(
            model_dir=self.model_dir,
            detection_threshold=self.detection_threshold,
            detection_max_side=self.detection_max_side,
            options=dict(self.reasoner_options) if stage == "reasoner" else {},
        )
