"""Typed results: the one schema every interface (CLI, MCP, LangChain, LlamaIndex, Gradio) returns.

Conventions, the same in every field:
- coordinates are pixels of the input image (after EXIF orientation), origin top-left, x right, y down;
- probabilities and scores are 0-1; AU intensities are 0-5 (0 absent, 1-5 the FACS A-E grades);
- head pose is in degrees: yaw > 0 when the face turns towards the image's right (the subject's left),
  pitch > 0 when the face tilts up, roll > 0 when the head tilts clockwise as seen in the image;
- AU codes are zero-padded (``AU01``, ``AU06``, ``AU12``) as py-feat users know them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"

#: An AU is present when its probability reaches this (every backend, every interface, FACS grade A).
PRESENCE = 0.5

ExpressionLabel = Literal[
    "neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt"
]
EXPRESSION_LABELS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "sadness",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
)


#: Words people and models use for each expression -> the label in :data:`EXPRESSION_LABELS`. ``other`` is
#: Aff-Wild2's / FEABench's eighth class ("anything else"); it has no place in this label set.
LABEL_SYNONYMS: dict[str, str] = {
    **{label: label for label in EXPRESSION_LABELS},
    "calm": "neutral",
    "happy": "happiness",
    "joy": "happiness",
    "joyful": "happiness",
    "smile": "happiness",
    "smiling": "happiness",
    "sad": "sadness",
    "surprised": "surprise",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "disgusted": "disgust",
    "angry": "anger",
    "contemptuous": "contempt",
    "other": "other",
}


def normalize_label(word: str) -> str:
    """'Happy' -> 'happiness'. Raises ValueError naming the accepted words for anything unknown."""
    key = word.strip().lower()
    if key in LABEL_SYNONYMS:
        return LABEL_SYNONYMS[key]
    raise ValueError(f"unknown expression label {word!r}; use one of {', '.join(sorted(LABEL_SYNONYMS))}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoundingBox(_Model):
    """Face box in pixels of the input image."""

    x: float = Field(description="Left edge, pixels.")
    y: float = Field(description="Top edge, pixels.")
    width: float = Field(description="Width, pixels.")
    height: float = Field(description="Height, pixels.")


class HeadPose(_Model):
    """Head rotation in degrees, from the landmarker's facial transformation matrix."""

    yaw: float = Field(description="Degrees; > 0 when the face turns towards the image's right.")
    pitch: float = Field(description="Degrees; > 0 when the face tilts up.")
    roll: float = Field(description="Degrees; > 0 when the head tilts clockwise in the image.")


class Gaze(_Model):
    """Where both eyes look together, in degrees, in the same frame and signs as :class:`HeadPose`."""

    yaw: float = Field(description="Degrees; > 0 when the gaze turns towards the image's right.")
    pitch: float = Field(description="Degrees; > 0 when the gaze turns up.")


class ActionUnit(_Model):
    """One facial action unit (FACS) measured on a face; build one with :meth:`measured`."""

    code: str = Field(description="Zero-padded FACS code, e.g. 'AU12'.")
    name: str = Field(description="FACS name, e.g. 'Lip corner puller'.")
    probability: float = Field(ge=0, le=1, description="Probability that the AU is present, 0-1.")
    present: bool = Field(description=f"True when probability >= {PRESENCE}.")
    intensity: float = Field(ge=0, le=5, description="Intensity 0-5 (0 absent, 1-5 = FACS grades A-E).")
    change_from_baseline: float | None = Field(
        None,
        ge=-5,
        le=5,
        description="Video with a baseline only: intensity minus this face's own neutral level, on the 0-5 "
        "scale (> 0: more than at rest). None otherwise.",
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="AUs this reading is conditioned on, so it is no evidence independent of them: the default "
        "backend reads AU06 from eye narrowing only as AU12 rises (and AU07 only as it does not). Empty when "
        "the AU is measured on its own.",
    )

    @classmethod
    def measured(
        cls, code: str, name: str, probability: float, intensity: float, depends_on: Sequence[str] = ()
    ) -> ActionUnit:
        """An AU as a backend measured it: ``present`` follows from the probability and :data:`PRESENCE`.

        Not validated (a backend's numbers are in range by construction, and faces carry 20 AUs a frame)."""
        return cls.model_construct(
            code=code,
            name=name,
            probability=probability,
            present=probability >= PRESENCE,
            intensity=intensity,
            change_from_baseline=None,
            depends_on=list(depends_on),
        )


class Expression(_Model):
    """An expression label with its distribution over the label set."""

    label: ExpressionLabel | None = Field(
        description="The expression; None when the face cannot be read reliably (the quality issues say why) "
        "or when the answer is less confident than the min_confidence asked for (then uncertain_between "
        "names the two most probable labels)."
    )
    probabilities: dict[str, float] = Field(
        description="Label -> probability, summing to 1; empty when the face cannot be read (kept when the "
        "answer is only uncertain)."
    )
    source: Literal["appearance", "action_units", "fused"] = Field(
        "appearance",
        description="'appearance': the image classifier alone; 'action_units': FACS prototypes alone; "
        "'fused': both combined by the reasoner.",
    )
    model: str | None = Field(
        None,
        description="The expression model that made a fused answer: a shipped model's registry name, or the "
        "path given to --expression-model.",
    )
    uncertain_between: tuple[ExpressionLabel, ExpressionLabel] | None = Field(
        None,
        description="Set only when a min_confidence was asked for and this face's answer is less confident: "
        "the two most probable labels, most probable first. Then label is None and no single expression "
        "may be claimed for the face: report it as 'uncertain between' these two, with their probabilities. "
        "None when the expression is named (or the face cannot be read at all).",
    )

    @property
    def top_two(self) -> tuple[str, str] | None:
        """The two most probable labels, most probable first (None with fewer than two probabilities)."""
        ranked = sorted(self.probabilities, key=lambda k: -self.probabilities[k])
        return (ranked[0], ranked[1]) if len(ranked) >= 2 else None

    @classmethod
    def from_probabilities(
        cls,
        probabilities: dict[str, float],
        source: Literal["appearance", "action_units", "fused"] = "appearance",
        model: str | None = None,
    ) -> Expression:
        """The most probable label, with the distribution rounded to 4 decimals."""
        label = max(probabilities, key=probabilities.__getitem__)
        return cls(
            label=cast(ExpressionLabel, label),
            probabilities={k: round(v, 4) for k, v in probabilities.items()},
            source=source,
            model=model,
        )


class FaceQuality(_Model):
    """What a user must know to trust a face's analysis."""

    face_size_px: float = Field(description="Shorter side of the face box, pixels.")
    detection_score: float = Field(ge=0, le=1, description="Face detector confidence.")
    landmarks_found: bool = Field(description="False when the landmarker found no face in the crop.")
    landmark_presence: float = Field(
        ge=0, le=1, description="Landmarker confidence that a face fills the crop (0 when not found)."
    )
    frontal: bool = Field(description="False when |yaw| or |pitch| is beyond the frontal limit.")
    usable: bool = Field(description="False when later stages should abstain on this face.")
    issues: list[str] = Field(
        default_factory=list,
        description="Why the face is not usable or, for a usable face, what makes its answer less certain.",
    )
    confidence_scale: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Factor on the answer's confidence: below 1 for a usable face that is turned or small.",
    )
    occluded: bool = Field(
        False,
        description="Part of the face is covered (a hand, an object) or the landmark model is unsure of it; "
        "video episodes read such frames as 'occluded', never as an expression.",
    )


class AUEvidence(_Model):
    """One AU cited by the reasoner, with the expressions it supports and contradicts."""

    au: str = Field(description="Zero-padded AU code, e.g. 'AU12'.")
    intensity: float = Field(ge=0, le=5)
    supports: list[str] = Field(default_factory=list)
    contradicts: list[str] = Field(default_factory=list)


class Agreement(_Model):
    """How the appearance classifier and the AU evidence relate for this face."""

    appearance_label: str | None = None
    action_unit_label: str | None = None
    agree: bool | None = None
    ambiguous: bool = Field(False, description="The top two fused labels are close.")
    mixed: list[str] = Field(default_factory=list, description="Labels that co-occur, for a blended face.")


#: The reasoning label of a face that cannot be read reliably: the reasoner says why instead of guessing.
ABSTAIN: Literal["abstain"] = "abstain"
#: The reasoning label when a generative reasoner's answer names no expression (the measured one stands).
UNKNOWN: Literal["unknown"] = "unknown"


class Reasoning(_Model):
    """The reasoner's answer: label first, then a description grounded in facial actions."""

    label: ExpressionLabel | Literal["abstain", "unknown"] = Field(
        description="Expression label; 'abstain' when the face is not usable, or when its answer is less "
        "confident than the min_confidence asked for (then uncertain_between is set); 'unknown' when a "
        "generative reasoner's answer named no expression (the measured expression then stands)."
    )
    text: str = Field(
        description="'<Label>. <description grounded in the AUs>' (FEALLM's answer form); 'Uncertain between "
        "<X> (<p>%) and <Y> (<q>%). ...' when below min_confidence; 'Abstain. <why>' for an unusable face."
    )
    confidence: float = Field(
        ge=0,
        le=1,
        description="The answer's confidence, 0-1: the label's probability, lowered for a turned or small "
        "face. For an uncertain answer, the confidence that fell short of min_confidence; 0 for an unusable "
        "face.",
    )
    evidence: list[AUEvidence] = Field(default_factory=list)
    agreement: Agreement = Field(default_factory=Agreement)
    reasoner: str = Field("facs", description="Which backend produced this answer.")
    uncertain_between: tuple[ExpressionLabel, ExpressionLabel] | None = Field(
        None,
        description="Set only when the answer fell short of the min_confidence asked for: the two most "
        "probable labels, most probable first (label is then 'abstain'). Report the face as uncertain "
        "between them, never as one of them.",
    )

    @property
    def abstained(self) -> bool:
        """True when the reasoner declined to label the face (``label == 'abstain'``): the face cannot be read,
        or its answer is uncertain (:attr:`uncertain_between`)."""
        return self.label == ABSTAIN

    @classmethod
    def abstention(cls, why: str, reasoner: str) -> Reasoning:
        """The answer for a face that cannot be read: no label, no confidence, and why, in words."""
        return cls(
            label=ABSTAIN,
            text=f"Abstain. The face cannot be read reliably: {why}.",
            confidence=0.0,
            reasoner=reasoner,
        )


class Face(_Model):
    """Everything measured on one face."""

    face_id: int | None = Field(None, description="Identity across video frames; None for still images.")
    bbox: BoundingBox
    score: float = Field(ge=0, le=1, description="Face detector confidence.")
    keypoints: list[list[float]] = Field(
        default_factory=list,
        description="Detector's 5 points [x, y]: right eye, left eye, nose tip, right and left mouth corner.",
    )
    landmarks: list[list[float]] = Field(
        default_factory=list, description="478 MediaPipe landmarks [x, y, z] in pixels (z: relative depth)."
    )
    head_pose: HeadPose | None = None
    blendshapes: dict[str, float] = Field(
        default_factory=dict,
        description="MediaPipe's 52 blendshape scores (ARKit names and '_neutral'), 0-1.",
    )
    gaze: Gaze | None = Field(
        None, description="Gaze of both eyes together, when the landmarks backend gives it."
    )
    aus: list[ActionUnit] = Field(default_factory=list)
    expression: Expression | None = None
    valence: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Valence -1 (negative) to 1 (positive), when the appearance backend gives it.",
    )
    arousal: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Arousal -1 (calm) to 1 (excited), when the appearance backend gives it.",
    )
    quality: FaceQuality
    reasoning: Reasoning | None = None

    @property
    def label(self) -> str | None:
        """The face's answer: the reasoner's label, else the appearance label; None when the reasoner
        abstained (an unreadable face, or an answer below ``min_confidence``: see :attr:`uncertain_between`)
        or nothing classified the face."""
        if self.reasoning is not None and self.reasoning.label != UNKNOWN:
            return None if self.reasoning.abstained else self.reasoning.label
        return self.expression.label if self.expression is not None else None

    @property
    def confidence(self) -> float | None:
        """The probability of :attr:`label` (None when there is no label)."""
        if self.reasoning is not None and self.reasoning.label != UNKNOWN:
            return None if self.reasoning.abstained else self.reasoning.confidence
        if self.expression is not None and self.expression.label is not None:
            return self.expression.probabilities.get(self.expression.label)
        return None

    @property
    def uncertain_between(self) -> tuple[str, str] | None:
        """The two labels the face's answer is uncertain between (below ``min_confidence``), or None."""
        if self.reasoning is not None and self.reasoning.uncertain_between is not None:
            return self.reasoning.uncertain_between
        return self.expression.uncertain_between if self.expression is not None else None

    def au(self, code: str) -> ActionUnit | None:
        """The AU with this code (``'AU12'`` or ``'12'``), or None."""
        from fea_agent.facs.catalogue import normalize_au_code

        wanted = normalize_au_code(code)
        return next((a for a in self.aus if a.code == wanted), None)


class ImageInfo(_Model):
    width: int
    height: int


class ImageResult(_Model):
    """The analysis of one image (or one video frame)."""

    schema_version: str = SCHEMA_VERSION
    source: str | None = Field(None, description="The path as given, or a description of the input.")
    image: ImageInfo
    faces: list[Face] = Field(default_factory=list)
    faces_found: int | None = Field(
        None,
        description="How many faces the detector found, set only when the face limit left some out "
        "(then larger than len(faces)); None when every face found is in ``faces``.",
    )
    timings_ms: dict[str, float] = Field(default_factory=dict, description="Stage -> milliseconds.")
    device: str = Field("cpu", description="Where the models ran ('cuda' when any stage used the GPU).")
    devices: dict[str, str] = Field(
        default_factory=dict, description="Stage -> the device its backend ran on ('cpu', 'cuda:0', ...)."
    )
    frame_index: int | None = None
    timestamp_s: float | None = None

    def to_json(self, **kwargs: Any) -> str:
        return self.model_dump_json(**kwargs)


class Peak(_Model):
    """When a value was highest in a video."""

    value: float = Field(description="The highest value (AU intensity 0-5, or probability 0-1).")
    frame_index: int
    timestamp_s: float


#: What an episode is of: an expression, an action unit, or a span where the face cannot be read at all.
EpisodeKind = Literal["expression", "action_unit", "missing", "unusable", "occluded"]
#: The kinds that are spans of the face's state, not of what it shows (no expression is read inside them).
STATE_KINDS: tuple[str, ...] = ("missing", "unusable", "occluded")


class Episode(_Model):
    """One span of a face's video: an expression shown, an AU active, or the face missing, unusable or covered
    (then nothing it shows is read). Times are seconds from the video's start; an episode covers its frames'
    intervals, so ``offset_s`` is the time of the first frame after it (or the video's end)."""

    kind: EpisodeKind = Field(
        description="'expression', 'action_unit', or a span where the face cannot be read: 'missing' (not "
        "found), 'unusable' (turned away, too small, cut off) or 'occluded' (covered, e.g. by a hand)."
    )
    label: str = Field(
        description="The expression label (kind 'expression'), the AU code ('AU12'), or the kind again."
    )
    name: str | None = Field(None, description="The AU's FACS name ('Lip corner puller'); None otherwise.")
    onset_s: float = Field(description="Start, seconds.")
    apex_s: float | None = Field(
        None, description="When the expression's probability or the AU's intensity was highest, seconds."
    )
    apex_value: float | None = Field(
        None, description="That highest value: probability 0-1 for an expression, intensity 0-5 for an AU."
    )
    offset_s: float | None = Field(description="End, seconds; None while the episode is still going (live).")
    duration_s: float | None = Field(description="offset_s - onset_s; None while still going.")
    reason: str | None = Field(
        None, description="For 'unusable' and 'occluded': the quality issue that says why, in words."
    )


class FaceSummary(_Model):
    """One face (one ``face_id``) over a whole video."""

    face_id: int
    frames: int = Field(description="Analysed frames in which this face was seen.")
    first_s: float = Field(description="First time seen, seconds.")
    last_s: float = Field(description="Last time seen, seconds.")
    dominant_expression: str = Field(description="The label this face showed in the most frames.")
    expression_share: dict[str, float] = Field(description="Label -> share of this face's frames, 0-1.")
    uncertain_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of this face's frames whose answer fell below the min_confidence asked for "
        "(uncertain between two labels, so counted in no label's share and in no expression episode); 0 "
        "without a bar.",
    )
    mean_expression: dict[str, float] = Field(description="Label -> mean probability over the frames, 0-1.")
    expression_peaks: dict[str, Peak] = Field(description="Label -> its most probable frame.")
    au_activation: dict[str, float] = Field(description="AU -> share of frames where it is present, 0-1.")
    au_mean_intensity: dict[str, float] = Field(description="AU -> mean intensity 0-5.")
    au_peaks: dict[str, Peak] = Field(description="AU -> its strongest frame (intensity 0-5).")
    episodes: list[Episode] = Field(
        default_factory=list,
        description="Expression episodes, AU events and the spans where the face is missing, unusable or "
        "occluded, in order of onset (see docs/video-and-batch.md, 'Episodes').",
    )


class VideoSummary(_Model):
    """A video in brief: how many frames were analysed and, per face, what it showed."""

    source: str | None = None
    frames: int = Field(description="Analysed frames.")
    frames_with_faces: int
    duration_s: float = Field(description="From the first to the last analysed frame, seconds.")
    faces: list[FaceSummary] = Field(default_factory=list, description="One entry per face_id, in id order.")
    no_face: list[Episode] = Field(
        default_factory=list,
        description="Spans (kind 'missing') with no face in the frame at all, at least the episodes' "
        "minimum duration long.",
    )


def json_schema() -> dict[str, Any]:
    """JSON schema of :class:`ImageResult`."""
    return ImageResult.model_json_schema()


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(json_schema(), indent=2))
