"""The facial-analysis pipeline: image -> faces -> landmarks, pose, blendshapes -> AUs, expression -> reasoning.

One :class:`PipelineOptions` object configures every stage and names its backend; :class:`FEAPipeline` loads
the backends once and analyses any number of images with them. Every interface (CLI, Python, MCP, LangChain,
LlamaIndex, the LangGraph agent, Gradio, batch and video) goes through :meth:`FEAPipeline.run` or its stages
(:meth:`~FEAPipeline.start`, :meth:`~FEAPipeline.detect`, :meth:`~FEAPipeline.perceive`,
:meth:`~FEAPipeline.reason`, :meth:`~FEAPipeline.finish`) on one :class:`Analysis`; :meth:`FEAPipeline.finish`
is the one place an :class:`~fea_agent.results.ImageResult` is built.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fea_agent.backends.base import AppearanceOutput, Detection, FaceMesh
from fea_agent.backends.registry import STAGES
from fea_agent.errors import FEAError, InvalidInputError
from fea_agent.io.images import MAX_PIXELS, ImageInput, LoadedImage, load_image
from fea_agent.results import BoundingBox, Expression, Face, Gaze, HeadPose, ImageInfo, ImageResult

logger = logging.getLogger(__name__)

#: The default face limit, the same in every interface.
MAX_FACES = 32

#: ``reasoner=USE_PIPELINE`` (the default of per-call arguments) means the pipeline's own reasoner; ``None``
#: means no reasoning for this call.
USE_PIPELINE: Any = object()


def _backend_name(stage: str, optional: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None or (optional and isinstance(value, str) and value.strip().lower() in ("", "none")):
            if not optional:
                raise ValueError(f"a {stage.replace('_', ' ')} backend is required")
            return None
        from fea_agent.backends.registry import names

        name = str(value).strip().lower()
        if name not in names(stage):  # type: ignore[arg-type]
            choices = ", ".join(names(stage)) + (", none" if optional else "")  # type: ignore[arg-type]
            raise ValueError(f"unknown {stage.replace('_', ' ')} backend {value!r}; choose one of {choices}")
        return name

    return check


class PipelineOptions(BaseModel):
    """Everything that configures a pipeline, in one place: one field per stage names its backend."""

    model_config = ConfigDict(extra="forbid")

    detector: str = Field("yunet", description="Face detector backend: 'yunet' (default) or 'mediapipe'.")
    landmarks: str | None = Field(
        "mediapipe", description="Landmarks, blendshapes and head pose backend, or None to skip."
    )
    action_units: str | None = Field(
        "blendshapes", description="Action-unit backend ('blendshapes' needs the landmarks), or None."
    )
    appearance: str | None = Field("fer", description="Appearance expression backend, or None to skip.")
    expression_model: str | None = Field(
        "default",
        description="The learned expression model over AU and appearance evidence: 'default' (shipped), a "
        "registry name, the path of a file written by `fea-agent train`, or None for the appearance label alone.",
    )
    reasoner: str | None = Field(
        "facs", description="Reasoning backend by name ('facs', 'feallm', 'vlm', 'openai'), or None."
    )
    reasoner_options: dict[str, Any] = Field(default_factory=dict, description="Passed to the reasoner.")
    detection_threshold: float = Field(
        0.7, ge=0, le=1, description="Detector score below which a box is dropped."
    )
    detection_max_side: int = Field(
        640, ge=64, description="Images are downscaled to this longer side for detection only."
    )
    max_faces: int = Field(MAX_FACES, ge=1, description="Analyse at most this many faces, largest first.")
    max_pixels: int = Field(MAX_PIXELS, ge=1, description="Refuse larger images.")
    model_dir: Path | None = Field(None, description="Folder of model files; default $FEA_AGENT_MODEL_DIR.")

    _detector = field_validator("detector", mode="before")(staticmethod(_backend_name("detector", False)))
    _landmarks = field_validator("landmarks", mode="before")(staticmethod(_backend_name("landmarks", True)))
    _aus = field_validator("action_units", mode="before")(staticmethod(_backend_name("action_units", True)))
    _appearance = field_validator("appearance", mode="before")(
        staticmethod(_backend_name("appearance", True))
    )
    _reasoner = field_validator("reasoner", mode="before")(staticmethod(_backend_name("reasoner", True)))

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


@dataclass
class Analysis:
    """One image on its way through the pipeline: the decoded pixels, what each stage found, the timings.

    :meth:`FEAPipeline.run` returns it with ``result`` set; renderers use ``rgb`` (the decoded pixels) with it.
    Interfaces that run the stages one by one (the LangGraph agent, video) pass the same object along.
    """

    loaded: LoadedImage
    started: float
    timings: dict[str, float] = field(default_factory=dict)
    detections: list[Detection] = field(default_factory=list)
    faces_found: int = 0
    faces: list[Face] = field(default_factory=list)
    #: Each face's appearance-backend output (None without one): the reasoner compares appearance and AUs
    #: with it once the expression model has replaced ``face.expression``; training reads its embedding.
    appearance: list[AppearanceOutput | None] = field(default_factory=list)
    frame_index: int | None = None
    timestamp_s: float | None = None
    reasoner_device: str | None = None
    result: ImageResult | None = None

    @property
    def rgb(self) -> np.ndarray:
        return self.loaded.rgb

    def add_time(self, stage: str, started: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + (time.perf_counter() - started) * 1000.0


class FEAPipeline:
    """Facial emotion analysis on images: ``FEAPipeline().analyze("photo.jpg")``.

    Backends are loaded on construction (once) and reused; calls are serialised by a lock, so one pipeline
    may be shared between threads. For parallel throughput, use one pipeline per worker.
    """

    def __init__(self, options: PipelineOptions | None = None, **overrides: Any) -> None:
        base = options.model_dump(exclude_unset=True) if options is not None else {}
        self.options = PipelineOptions(**{**base, **overrides})
        self._lock = threading.RLock()
        started = time.perf_counter()
        from fea_agent._native import quiet_stderr
        from fea_agent.backends.registry import load

        o = self.options
        self.reasoner: Any = None
        if o.action_units is not None and o.landmarks is None:
            from fea_agent.backends.registry import spec as backend_spec

            if backend_spec("action_units", o.action_units).factory.endswith("load_blendshape_aus"):
                raise InvalidInputError(
                    f"the {o.action_units!r} action units are computed from the landmarks: choose a landmarks "
                    "backend, or action_units=None"
                )
        with quiet_stderr():
            self.detector = load("detector", o.detector, o)
            self.landmarks = load("landmarks", o.landmarks, o) if o.landmarks else None
            self.action_units = load("action_units", o.action_units, o) if o.action_units else None
            self.appearance = load("appearance", o.appearance, o) if o.appearance else None
            self.expression_model = self._load_expression_model()
            # The first inference initialises the native graphs; do it now rather than on a user's photo.
            self.run(np.zeros((64, 64, 3), dtype=np.uint8), reasoner=None)
        self.reasoner = load("reasoner", o.reasoner, o) if o.reasoner else None
        self.load_ms = (time.perf_counter() - started) * 1000.0

    def _load_expression_model(self) -> Any:
        """The learned expression model, when its inputs are measured; it says so when they come from other
        backends than it was trained on."""
        o = self.options
        if o.expression_model is None:
            return None
        from fea_agent.expression.model import load_expression_model

        model = load_expression_model(o.expression_model)
        if o.landmarks is None or o.action_units is None:
            logger.warning(
                "expression model %s needs the landmarks and action units; without them the appearance "
                "classifier's label stands",
                model.name,
            )
            return None
        mismatches = model.mismatches(o.backends)
        if mismatches:
            logger.warning(
                "expression model %s was trained on other inputs (%s): its answers are not calibrated for "
                "this pipeline; train one on these backends with `fea-agent train`",
                model.name,
                "; ".join(mismatches),
            )
        return model

    @property
    def devices(self) -> dict[str, str]:
        """Stage -> the device its backend runs on, for the stages that run."""
        loaded = {stage: getattr(self, stage) for stage in STAGES}
        return {k: getattr(b, "device", "cpu") or "cpu" for k, b in loaded.items() if b is not None}

    @property
    def device(self) -> str:
        """'cpu', or the first GPU device any stage runs on."""
        return next((d for d in self.devices.values() if d != "cpu"), "cpu")

    def close(self) -> None:
        """Release the native model handles (also done when the pipeline is garbage-collected)."""
        for backend in (self.landmarks, self.detector):
            if backend is not None and hasattr(backend, "close"):
                backend.close()

    def __enter__(self) -> FEAPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- the one analysis path ---------------------------------------------------------------------------

    def run(
        self,
        image: ImageInput | LoadedImage,
        *,
        source: str | None = None,
        max_faces: int | None = None,
        reasoner: Any = USE_PIPELINE,
    ) -> Analysis:
        """Analyse one image: decode, detect, keep the largest ``max_faces``, perceive, reason, time.

        ``image`` is a path, encoded bytes, a PIL image, an RGB numpy array or a :class:`LoadedImage`;
        ``reasoner`` replaces the pipeline's own for this call (``None``: no reasoning). Returns the
        :class:`Analysis` with ``result`` set. Raises :class:`~fea_agent.errors.InvalidInputError` for input
        that is not a usable image; an image without faces is a normal result with ``faces == []``.
        """
        analysis = self.start(image, source=source)
        with self._lock:
            self.detect(analysis, max_faces=max_faces)
            self.perceive(analysis)
            self.reason(analysis, reasoner=reasoner)
        self.finish(analysis)
        return analysis

    def start(
        self,
        image: ImageInput | LoadedImage,
        *,
        source: str | None = None,
        frame_index: int | None = None,
        timestamp_s: float | None = None,
    ) -> Analysis:
        """Stage 0: decode the input (EXIF orientation applied) and start the clock."""
        started = time.perf_counter()
        if isinstance(image, LoadedImage):
            loaded = image if source is None else LoadedImage(image.rgb, source)
        else:
            loaded = load_image(image, source=source, max_pixels=self.options.max_pixels)
        rgb = loaded.rgb
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InvalidInputError("the pipeline needs an RGB uint8 array of shape (H, W, 3)")
        analysis = Analysis(loaded, started, frame_index=frame_index, timestamp_s=timestamp_s)
        if not isinstance(image, LoadedImage):
            analysis.add_time("decode", started)
        return analysis

    def detect(self, analysis: Analysis, *, max_faces: int | None = None) -> list[Detection]:
        """Stage 1: the faces in the image, largest first; keeps at most ``max_faces`` (default the options')
        and records how many were found."""
        limit = max_faces if max_faces is not None else self.options.max_faces
        if limit < 1:
            raise InvalidInputError(f"max_faces must be at least 1, got {limit}")
        with self._lock:
            t = time.perf_counter()
            found = self.detector.detect(analysis.rgb)
            analysis.add_time("detect", t)
        analysis.faces_found = len(found)
        analysis.detections = found[:limit]
        return analysis.detections

    def perceive(
        self,
        analysis: Analysis,
        detections: Sequence[Detection] | None = None,
        *,
        landmarks: Sequence[Any] | None = None,
    ) -> list[Face]:
        """Stage 2: landmarks, head pose, gaze, AUs, appearance expression and quality for each detection.

        ``detections`` default to the analysis's own and the faces replace ``analysis.faces``; given
        explicitly (video, one tracked face at a time), the faces are returned and appended. ``landmarks``
        gives, per detection, an object with ``run_box(rgb, detection)`` to use instead of the pipeline's
        landmarks backend (video passes each face's tracker).
        """
        own = detections is None
        dets = list(analysis.detections if detections is None else detections)
        with self._lock:
            faces, looks = self._perceive(analysis, dets, landmarks)
        if own:
            analysis.faces, analysis.appearance = faces, looks
        else:
            analysis.faces.extend(faces)
            analysis.appearance.extend(looks)
        return faces

    def reason(self, analysis: Analysis, *, reasoner: Any = USE_PIPELINE) -> list[Face]:
        """Stage 3: the reasoner's fused expression and grounded explanation (faces unchanged without one)."""
        reasoner = self.reasoner if reasoner is USE_PIPELINE else reasoner
        if reasoner is None or not analysis.faces:
            return analysis.faces
        with self._lock:
            t = time.perf_counter()
            if _takes_appearance(reasoner) and len(analysis.appearance) == len(analysis.faces):
                looks = [a.probabilities if a is not None else None for a in analysis.appearance]
                analysis.faces = reasoner.reason(analysis.faces, analysis.rgb, appearance=looks)
            else:
                analysis.faces = reasoner.reason(analysis.faces, analysis.rgb)
            analysis.add_time("reasoning", t)
        analysis.reasoner_device = getattr(reasoner, "device", None)
        return analysis.faces

    def finish(self, analysis: Analysis) -> ImageResult:
        """Build the typed result: the one place an :class:`ImageResult` is made."""
        timings = {k: round(v, 2) for k, v in analysis.timings.items()}
        timings["total"] = round((time.perf_counter() - analysis.started) * 1000.0, 2)
        devices = self.devices
        if analysis.reasoner_device:
            devices["reasoner"] = analysis.reasoner_device
        loaded = analysis.loaded
        analysis.result = ImageResult.model_construct(
            schema_version=ImageResult.model_fields["schema_version"].default,
            source=loaded.source,
            image=ImageInfo(width=loaded.width, height=loaded.height),
            faces=analysis.faces,
            faces_found=analysis.faces_found if analysis.faces_found > len(analysis.faces) else None,
            timings_ms=timings,
            device=next((d for d in devices.values() if d != "cpu"), "cpu"),
            devices=devices,
            frame_index=analysis.frame_index,
            timestamp_s=analysis.timestamp_s,
        )
        return analysis.result

    # -- conveniences over run() ----------------------------------------------------------------------------

    def analyze(self, image: ImageInput, *, source: str | None = None) -> ImageResult:
        """Analyse one image: a path, encoded bytes, a PIL image or an RGB numpy array.

        Raises :class:`~fea_agent.errors.InvalidInputError` for input that is not a usable image.
        An image without faces is a normal result with ``faces == []``.
        """
        result = self.run(image, source=source).result
        assert result is not None
        return result

    def analyze_many(self, images: Iterable[ImageInput]) -> list[ImageResult | FEAError]:
        """Analyse several images; a bad input yields its error in place of a result, and the rest go on."""
        return [outcome for _, outcome in self.iter_analyze(images)]

    def iter_analyze(self, images: Iterable[ImageInput]) -> Iterator[tuple[Any, ImageResult | FEAError]]:
        """Like :meth:`analyze_many`, but lazily, pairing each input with its outcome."""
        for image in images:
            try:
                yield image, self.analyze(image)
            except FEAError as exc:
                yield image, exc

    def analyze_video(
        self,
        path: str | os.PathLike[str],
        *,
        stride: int = 1,
        tracking: bool = True,
        progress: Callable[[int, int | None], None] | None = None,
        **options: Any,
    ) -> Iterator[ImageResult]:
        """Analyse a video lazily: one :class:`ImageResult` per analysed frame, with ``frame_index``,
        ``timestamp_s`` and a ``face_id`` on each face that stays the same while the face stays in view.

        ``progress(done_frames, total_frames_or_None)`` is called after each frame. Further options
        (``smooth``, ``baseline``, ``max_frames``, ...) are those of :func:`fea_agent.video.analyze_video`.
        """
        from fea_agent.video.analyzer import analyze_video

        return analyze_video(self, path, stride=stride, tracking=tracking, progress=progress, **options)

    # -- stage 2 in detail ------------------------------------------------------------------------------------

    def _perceive(
        self, analysis: Analysis, detections: list[Detection], landmarks: Sequence[Any] | None
    ) -> tuple[list[Face], list[AppearanceOutput | None]]:
        """The faces, and each face's appearance output (None without an appearance backend)."""
        from fea_agent.perception.quality import assess

        rgb = analysis.rgb
        if not detections:
            return [], []
        meshes: list[FaceMesh | None] = [None] * len(detections)
        runners = landmarks if landmarks is not None else [self.landmarks] * len(detections)
        if any(r is not None for r in runners):
            t = time.perf_counter()
            meshes = [
                r.run_box(rgb, d) if r is not None else None for r, d in zip(runners, detections, strict=True)
            ]
            analysis.add_time("landmarks", t)
        au_outputs = None
        if self.action_units is not None:
            t = time.perf_counter()
            au_outputs = self.action_units.predict(rgb, detections, meshes)
            analysis.add_time("action_units", t)
        appearance = None
        if self.appearance is not None:
            t = time.perf_counter()
            appearance = self.appearance.predict(rgb, detections)
            analysis.add_time("expression", t)
        faces = []
        for i, (det, mesh) in enumerate(zip(detections, meshes, strict=True)):
            pose = (
                HeadPose(
                    yaw=round(mesh.pose[0], 2), pitch=round(mesh.pose[1], 2), roll=round(mesh.pose[2], 2)
                )
                if mesh is not None and mesh.pose is not None
                else None
            )
            aus = au_outputs[i] if au_outputs is not None else None
            gaze_angles = (aus.gaze if aus is not None and aus.gaze is not None else None) or (
                mesh.gaze if mesh is not None else None
            )
            look = appearance[i] if appearance is not None else None
            expression = Expression.from_probabilities(look.probabilities) if look is not None else None
            x, y, w, h = det.box
            # model_construct: every field here is built from typed model outputs, and validating 478
            # landmark triples costs more than the landmarker's own Python wrapper.
            faces.append(
                Face.model_construct(
                    face_id=None,
                    bbox=BoundingBox(x=round(x, 1), y=round(y, 1), width=round(w, 1), height=round(h, 1)),
                    score=round(det.score, 4),
                    keypoints=np.round(det.keypoints.astype(np.float64), 1).tolist(),
                    landmarks=np.round(mesh.landmarks.astype(np.float64), 2).tolist()
                    if mesh is not None
                    else [],
                    head_pose=pose,
                    blendshapes={k: round(v, 4) for k, v in mesh.blendshapes.items()}
                    if mesh is not None
                    else {},
                    gaze=Gaze(yaw=round(gaze_angles[0], 2), pitch=round(gaze_angles[1], 2))
                    if gaze_angles is not None
                    else None,
                    aus=aus.aus if aus is not None else [],
                    expression=expression,
                    valence=None if look is None or look.valence is None else round(look.valence, 4),
                    arousal=None if look is None or look.arousal is None else round(look.arousal, 4),
                    quality=assess(
                        box=det.box,
                        detection_score=det.score,
                        landmarks_found=mesh is not None,
                        presence=mesh.presence if mesh is not None else 0.0,
                        pose=pose,
                        landmarks_expected=self.landmarks is not None or landmarks is not None,
                    ),
                    reasoning=None,
                )
            )
        looks: list[AppearanceOutput | None] = (
            list(appearance) if appearance is not None else [None] * len(faces)
        )
        if self.expression_model is not None:
            t = time.perf_counter()
            answers = self.expression_model.predict_faces(faces, appearance or [None] * len(faces), rgb)
            for face, answer in zip(faces, answers, strict=True):
                if answer is not None:
                    face.expression = answer
            analysis.add_time("expression_model", t)
        for face in faces:
            if not face.quality.usable and face.expression is not None:
                # Abstain: no label or distribution that would look trustworthy (the quality issues say why).
                face.expression = Expression.model_construct(
                    label=None, probabilities={}, source=face.expression.source, model=face.expression.model
                )
        return faces, looks


@functools.lru_cache(maxsize=32)
def _reason_parameters(kind: type) -> frozenset[str]:
    return frozenset(inspect.signature(kind.reason).parameters)


def _takes_appearance(reasoner: Any) -> bool:
    """Whether a reasoner's ``reason`` accepts the appearance distributions (the FACS reasoner does)."""
    try:
        return "appearance" in _reason_parameters(type(reasoner))
    except (TypeError, ValueError):
        return False
