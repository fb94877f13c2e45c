"""The facial-analysis pipeline: image -> faces -> landmarks, pose, blendshapes -> AUs, expression -> reasoning.

:class:`FEAPipeline` loads the backends a :class:`~fea_agent.pipeline.options.PipelineOptions` names once and
analyses any number of images with them. The running mode is the method, as in MediaPipe's tasks:
:meth:`~FEAPipeline.run` for one image (IMAGE mode), :meth:`~FEAPipeline.run_video` for a stream of frames from
a file, a camera or a batch (VIDEO mode: faces tracked, ``face_id`` kept). Every interface (CLI, Python, MCP,
LangChain, LlamaIndex, the LangGraph agent, Gradio, batch, video and live) goes through one of the two, or
through their stages (:meth:`~FEAPipeline.start`, :meth:`~FEAPipeline.detect`, :meth:`~FEAPipeline.perceive`,
:meth:`~FEAPipeline.reason`, :meth:`~FEAPipeline.finish`) on one :class:`~fea_agent.pipeline.analysis.Analysis`;
:meth:`FEAPipeline.finish` is the one place an :class:`~fea_agent.results.ImageResult` is built.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from fea_agent._native import quiet_stderr
from fea_agent.backends.base import (
    ActionUnitBackend,
    AppearanceBackend,
    AppearanceOutput,
    Detection,
    FaceDetector,
    FaceMesh,
    LandmarksBackend,
    Reasoner,
)
from fea_agent.backends.registry import STAGES, Stage, load
from fea_agent.errors import FEAError, InvalidInputError
from fea_agent.expression.model import ExpressionModel, load_expression_model
from fea_agent.io.images import ImageInput, LoadedImage, load_image
from fea_agent.io.video import FrameSource, VideoReader
from fea_agent.pipeline.analysis import Analysis
from fea_agent.pipeline.confidence import check_min_confidence, withhold_all
from fea_agent.pipeline.faces import abstain_unusable, build_face
from fea_agent.pipeline.options import PipelineOptions
from fea_agent.pipeline.video import DETECT_EVERY_S, LOST_TIMEOUT_S, VideoFaces, smoothing_weight, with_next
from fea_agent.results import Face, ImageInfo, ImageResult

logger = logging.getLogger(__name__)

#: ``reasoner=USE_PIPELINE`` (the default of per-call arguments) means the pipeline's own reasoner; ``None``
#: means no reasoning for this call.
USE_PIPELINE: Any = object()

Progress = Callable[[int, "int | None"], None]


class FEAPipeline:
    """Facial emotion analysis on images and video: ``FEAPipeline().analyze("photo.jpg")``.

    Backends are loaded on construction (once) and reused; calls are serialised by a lock, so one pipeline
    may be shared between threads. For parallel throughput, use one pipeline per worker.
    """

    def __init__(self, options: PipelineOptions | None = None, **overrides: Any) -> None:
        base = options.model_dump(exclude_unset=True) if options is not None else {}
        self.options = PipelineOptions(**{**base, **overrides})
        self.options.check_requirements()
        self._lock = threading.RLock()
        started = time.perf_counter()
        self.reasoner: Reasoner | None = None
        self.landmarks: LandmarksBackend | None = None
        self.action_units: ActionUnitBackend | None = None
        self.appearance: AppearanceBackend | None = None
        # Outside quiet_stderr: its warnings are for the user (that block holds back stderr).
        self.expression_model = self._load_expression_model()
        with quiet_stderr():
            self.detector: FaceDetector = self._load("detector")
            self.landmarks = self._load("landmarks")
            self.action_units = self._load("action_units")
            self.appearance = self._load("appearance")
            # The first inference initialises the native graphs; do it now rather than on a user's photo.
            self.run(np.zeros((64, 64, 3), dtype=np.uint8), reasoner=None)
        self.reasoner = self._load("reasoner")
        self.load_ms = (time.perf_counter() - started) * 1000.0

    def _load(self, stage: Stage) -> Any:
        name = self.options.backends[stage]
        return load(stage, name, self.options.build_context(stage)) if name is not None else None

    def _load_expression_model(self) -> ExpressionModel | None:
        """The learned expression model, when its inputs are measured; it says so when they come from other
        backends than it was trained on."""
        o = self.options
        if o.expression_model is None:
            return None
        model = load_expression_model(o.expression_model)
        if model is None:
            return None
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
        for backend in (getattr(self, "landmarks", None), getattr(self, "detector", None)):
            if backend is not None and hasattr(backend, "close"):
                backend.close()

    def __enter__(self) -> FEAPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- IMAGE mode --------------------------------------------------------------------------------------

    def run(
        self,
        image: ImageInput | LoadedImage,
        *,
        source: str | None = None,
        max_faces: int | None = None,
        reasoner: Any = USE_PIPELINE,
        min_confidence: Any = USE_PIPELINE,
    ) -> Analysis:
        """Analyse one image: decode, detect, keep the largest ``max_faces``, perceive, reason, time.

        ``image`` is a path, encoded bytes, a PIL image, an RGB numpy array or a :class:`LoadedImage`;
        ``reasoner`` replaces the pipeline's own for this call (``None``: no reasoning); ``min_confidence``
        replaces the options' confidence bar for this call (``None``: always name the label; a number 0-1:
        below it a face is uncertain between its top two labels, see :mod:`fea_agent.pipeline.confidence`;
        InvalidInputError out of range). Returns the finished
        :class:`Analysis` (``.result`` is the typed result, ``.rgb`` the decoded pixels). Raises
        :class:`~fea_agent.errors.InvalidInputError` for input that is not a usable image; an image without
        faces is a normal result with ``faces == []``.
        """
        bar = (
            self.options.min_confidence
            if min_confidence is USE_PIPELINE
            else check_min_confidence(min_confidence)
        )
        analysis = self.start(image, source=source)
        analysis.min_confidence = bar
        with self._lock:
            self.detect(analysis, max_faces=max_faces)
            self.perceive(analysis)
            self.reason(analysis, reasoner=reasoner)
        self.finish(analysis)
        return analysis

    # -- VIDEO mode --------------------------------------------------------------------------------------

    def run_video(
        self,
        frames: FrameSource,
        *,
        tracking: bool = True,
        smooth: float | bool | None = None,
        baseline: bool = False,
        progress: Progress | None = None,
        detect_every_s: float = DETECT_EVERY_S,
        lost_timeout_s: float = LOST_TIMEOUT_S,
        min_confidence: Any = USE_PIPELINE,
    ) -> Iterator[ImageResult]:
        """Analyse a stream of frames lazily: one :class:`ImageResult` per frame, with ``frame_index``,
        ``timestamp_s`` and a ``face_id`` on each face that stays the same while the face stays in view.

        Args:
            frames: a :class:`~fea_agent.io.video.FrameSource`: a :class:`~fea_agent.io.video.VideoReader`
                (a file), a :class:`~fea_agent.video.live.LiveFrames` (a camera or stream), or any iterable
                of frames with the same few attributes. It is closed when the iteration ends.
            tracking: follow faces with the landmarks backend's tracker between detector runs (faster,
                steadier); False analyses every frame as an independent photo.
            smooth: exponential moving average of AUs and expression probabilities; the weight of the new
                frame in (0, 1] (True: 0.5). None or False: raw per-frame values.
            baseline: add ``change_from_baseline`` to each AU, relative to the face's own most neutral frames.
            progress: called as ``progress(done_frames, total_frames_or_None)`` after each frame.
            detect_every_s: with tracking, run the detector at least this often (seconds) to find new faces.
            lost_timeout_s: a face unseen for longer than this gets a new ``face_id`` when it comes back.
            min_confidence: the confidence bar for this stream (default the options'), as in :meth:`run`.
        """
        alpha = smoothing_weight(smooth)
        bar = (
            self.options.min_confidence
            if min_confidence is USE_PIPELINE
            else check_min_confidence(min_confidence)
        )
        faces = VideoFaces(
            self.landmarks,
            max_faces=self.options.max_faces,
            frame_gap_s=frames.frame_gap_s,
            tracking=tracking,
            smooth=alpha,
            baseline=baseline,
            detect_every_s=detect_every_s,
            lost_timeout_s=lost_timeout_s,
        )
        return self._video(frames, faces, progress, bar)

    def _video(
        self, frames: FrameSource, faces: VideoFaces, progress: Progress | None, min_confidence: float | None
    ) -> Iterator[ImageResult]:
        total = frames.expected_frames
        # A file's next frame is decoded already, so trackers can start on it early; a live source's is not.
        paired = ((frame, None) for frame in frames) if frames.live else with_next(frames)
        try:
            for done, (frame, upcoming) in enumerate(paired, start=1):
                analysis = self.start(
                    LoadedImage(frame.rgb, frames.label),
                    frame_index=frame.index,
                    timestamp_s=round(frame.timestamp_s, 4),
                )
                analysis.min_confidence = min_confidence
                with self._lock:
                    located = faces.locate(
                        analysis,
                        functools.partial(self.detect, analysis),
                        upcoming.rgb if upcoming is not None else None,
                    )
                    perceived = self.perceive(
                        analysis,
                        [where.detection for where in located],
                        meshes=[where.mesh for where in located] if faces.tracking else None,
                    )
                    analysis.faces = faces.label(located, perceived, analysis)
                    self.reason(analysis)
                yield self.finish(analysis)
                if progress is not None:
                    progress(done, total)
        finally:
            faces.close()
            frames.close()

    # -- the stages --------------------------------------------------------------------------------------

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
        analysis = Analysis(
            loaded,
            started,
            frame_index=frame_index,
            timestamp_s=timestamp_s,
            min_confidence=self.options.min_confidence,
        )
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
        meshes: Sequence[FaceMesh | None] | None = None,
    ) -> list[Face]:
        """Stage 2: landmarks, head pose, gaze, AUs, appearance expression and quality for each detection.

        ``detections`` default to the analysis's own; the faces replace ``analysis.faces`` and are returned.
        ``meshes``, one per detection, are landmarks already measured (VIDEO mode's trackers): then the
        landmarks backend does not run.
        """
        dets = list(analysis.detections if detections is None else detections)
        with self._lock:
            faces, looks = self._perceive(analysis, dets, meshes)
        analysis.faces, analysis.appearance = faces, looks
        return faces

    def reason(self, analysis: Analysis, *, reasoner: Any = USE_PIPELINE) -> list[Face]:
        """Stage 3: the reasoner's fused expression and grounded explanation (faces unchanged without one)."""
        chosen: Reasoner | None = self.reasoner if reasoner is USE_PIPELINE else reasoner
        if chosen is None or not analysis.faces:
            return analysis.faces
        with self._lock:
            t = time.perf_counter()
            looks = None
            if len(analysis.appearance) == len(analysis.faces):
                looks = [a.probabilities if a is not None else None for a in analysis.appearance]
            analysis.faces = chosen.reason(analysis.faces, analysis.rgb, appearance=looks)
            analysis.add_time("reasoning", t)
        analysis.reasoner_device = getattr(chosen, "device", None)
        return analysis.faces

    def finish(self, analysis: Analysis) -> ImageResult:
        """Build the typed result: the one place an :class:`ImageResult` is made. The confidence bar
        (``analysis.min_confidence``) is applied here, to the final answers: a face below it is uncertain
        between its top two labels (:func:`~fea_agent.pipeline.confidence.withhold`)."""
        analysis.faces = withhold_all(analysis.faces, analysis.min_confidence)
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

    # -- conveniences over run() and run_video() ------------------------------------------------------------

    def analyze(self, image: ImageInput, *, source: str | None = None) -> ImageResult:
        """Analyse one image: a path, encoded bytes, a PIL image or an RGB numpy array.

        Raises :class:`~fea_agent.errors.InvalidInputError` for input that is not a usable image.
        An image without faces is a normal result with ``faces == []``.
        """
        return self.run(image, source=source).result

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
        max_frames: int | None = None,
        **options: Any,
    ) -> Iterator[ImageResult]:
        """:meth:`run_video` over a video file: ``stride`` analyses every n-th frame, ``max_frames`` stops
        early; further options (``tracking``, ``smooth``, ``baseline``, ``progress``, ...) are
        :meth:`run_video`'s.

        Raises :class:`~fea_agent.errors.InvalidInputError` at the call (not at the first frame) when the
        file is missing, not a video, or has no frames.
        """
        return self.run_video(VideoReader(path, stride=stride, max_frames=max_frames), **options)

    # -- stage 2 in detail ------------------------------------------------------------------------------------

    def _perceive(
        self,
        analysis: Analysis,
        detections: list[Detection],
        meshes: Sequence[FaceMesh | None] | None,
    ) -> tuple[list[Face], list[AppearanceOutput | None]]:
        """The faces, and each face's appearance output (None without an appearance backend)."""
        if not detections:
            return [], []
        rgb = analysis.rgb
        landmarks_expected = meshes is not None or self.landmarks is not None
        if meshes is None:
            meshes = [None] * len(detections)
            if self.landmarks is not None:
                t = time.perf_counter()
                meshes = [self.landmarks.run_box(rgb, d) for d in detections]
                analysis.add_time("landmarks", t)
        au_outputs = None
        if self.action_units is not None:
            t = time.perf_counter()
            au_outputs = self.action_units.predict(rgb, detections, list(meshes))
            analysis.add_time("action_units", t)
        looks: list[AppearanceOutput | None] = [None] * len(detections)
        if self.appearance is not None:
            t = time.perf_counter()
            looks = list(self.appearance.predict(rgb, detections))
            analysis.add_time("expression", t)
        faces = [
            build_face(
                det,
                mesh,
                au_outputs[i] if au_outputs is not None else None,
                looks[i],
                landmarks_expected=landmarks_expected,
                image_size=(rgb.shape[1], rgb.shape[0]),
            )
            for i, (det, mesh) in enumerate(zip(detections, meshes, strict=True))
        ]
        if self.expression_model is not None:
            t = time.perf_counter()
            answers = self.expression_model.predict_faces(faces, looks, rgb)
            for face, answer in zip(faces, answers, strict=True):
                if answer is not None:
                    face.expression = answer
            analysis.add_time("expression_model", t)
        abstain_unusable(faces)
        return faces, looks
