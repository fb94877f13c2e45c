"""The facial-analysis pipeline: image -> faces -> landmarks, pose, blendshapes -> AUs, expression -> reasoning.

One :class:`PipelineOptions` object configures every stage; :class:`FEAPipeline` loads the models once and
analyses any number of images with them. Every interface (CLI, MCP, LangChain, LlamaIndex, Gradio) calls this.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fea_agent.errors import FEAError, InvalidInputError
from fea_agent.io.images import MAX_PIXELS, LoadedImage, load_image
from fea_agent.results import BoundingBox, Expression, Face, HeadPose, ImageInfo, ImageResult


class PipelineOptions(BaseModel):
    """Everything that configures a pipeline, in one place."""

    model_config = ConfigDict(extra="forbid")

    detection_threshold: float = Field(
        0.7, ge=0, le=1, description="YuNet score below which a box is dropped."
    )
    detection_max_side: int = Field(
        640, ge=64, description="Images are downscaled to this longer side for detection only."
    )
    max_faces: int = Field(32, ge=1, description="Analyse at most this many faces, largest first.")
    landmarks: bool = Field(True, description="Run the landmarker (landmarks, blendshapes, pose, AUs).")
    expression: bool = Field(True, description="Run the appearance expression classifier.")
    reasoner: str | None = Field(
        "facs", description="Reasoning backend by name ('facs', 'feallm', 'vlm', 'openai'), or None."
    )
    reasoner_options: dict[str, Any] = Field(default_factory=dict, description="Passed to the reasoner.")
    max_pixels: int = Field(MAX_PIXELS, ge=1, description="Refuse larger images.")
    model_dir: Path | None = Field(None, description="Folder of model files; default $FEA_AGENT_MODEL_DIR.")


@dataclass
class _Models:
    detector: Any
    landmarker: Any | None
    classifier: Any | None


class FEAPipeline:
    """Facial emotion analysis on images: ``FEAPipeline().analyze("photo.jpg")``.

    Models are loaded on construction (once) and reused; calls are serialised by a lock, so one pipeline
    may be shared between threads. For parallel throughput, use one pipeline per worker.
    """

    def __init__(self, options: PipelineOptions | None = None, **overrides: Any) -> None:
        base = options.model_dump() if options is not None else {}
        self.options = PipelineOptions(**{**base, **overrides})
        self._lock = threading.Lock()
        started = time.perf_counter()
        from fea_agent._native import quiet_stderr

        with quiet_stderr():
            self._models = self._load_models()
            # The first inference initialises the native graphs; do it now rather than on a user's photo.
            self._perceive(np.zeros((64, 64, 3), dtype=np.uint8), {})
        self.reasoner = None
        if self.options.reasoner:
            from fea_agent.reasoning import get_reasoner

            self.reasoner = get_reasoner(self.options.reasoner, **self.options.reasoner_options)
        self.load_ms = (time.perf_counter() - started) * 1000.0

    @property
    def device(self) -> str:
        return getattr(self.reasoner, "device", "cpu") or "cpu"

    def _load_models(self) -> _Models:
        from fea_agent.models.registry import model_path
        from fea_agent.perception.detector import YuNetDetector

        def path(name: str) -> Path:
            if self.options.model_dir is not None:
                from fea_agent.models.registry import spec, verify

                candidate = self.options.model_dir / spec(name).filename
                if candidate.is_file():
                    verify(candidate, spec(name))
                    return candidate
            return model_path(name)

        detector = YuNetDetector(
            path("yunet"),
            score_threshold=self.options.detection_threshold,
            max_side=self.options.detection_max_side,
        )
        landmarker = classifier = None
        if self.options.landmarks:
            from fea_agent.perception.landmarker import MediaPipeLandmarker

            landmarker = MediaPipeLandmarker(path("face_landmarker"))
        if self.options.expression:
            from fea_agent.perception.expression import FERClassifier

            classifier = FERClassifier(path("fer"))
        return _Models(detector, landmarker, classifier)

    def close(self) -> None:
        """Release the native model handles (also done when the pipeline is garbage-collected)."""
        if self._models.landmarker is not None:
            self._models.landmarker.close()
            self._models.landmarker = None

    def __enter__(self) -> FEAPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- analysis ---------------------------------------------------------------------------------------

    def analyze(self, image: Any, *, source: str | None = None) -> ImageResult:
        """Analyse one image: a path, encoded bytes, a PIL image or an RGB numpy array.

        Raises :class:`~fea_agent.errors.InvalidInputError` for input that is not a usable image.
        An image without faces is a normal result with ``faces == []``.
        """
        started = time.perf_counter()
        loaded = load_image(image, source=source, max_pixels=self.options.max_pixels)
        decode_ms = (time.perf_counter() - started) * 1000.0
        result = self.analyze_loaded(loaded)
        result.timings_ms = {"decode": round(decode_ms, 2), **result.timings_ms}
        result.timings_ms["total"] = round(result.timings_ms["total"] + decode_ms, 2)
        return result

    def analyze_many(self, images: Iterable[Any]) -> list[ImageResult | FEAError]:
        """Analyse several images; a bad input yields its error in place of a result, and the rest go on."""
        return [outcome for _, outcome in self.iter_analyze(images)]

    def iter_analyze(self, images: Iterable[Any]) -> Iterator[tuple[Any, ImageResult | FEAError]]:
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

    def analyze_loaded(self, loaded: LoadedImage, *, reasoner: Any | None = None) -> ImageResult:
        """Analyse an already decoded RGB image; ``reasoner`` replaces the pipeline's own for this call."""
        rgb = loaded.rgb
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InvalidInputError("analyze_loaded needs an RGB uint8 array of shape (H, W, 3)")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        with self._lock:
            faces = self._perceive(rgb, timings)
            faces = self._reason(faces, rgb, timings, reasoner)
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return ImageResult(
            source=loaded.source,
            image=ImageInfo(width=loaded.width, height=loaded.height),
            faces=faces,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
            device=getattr(reasoner, "device", None) or self.device,
        )

    # -- the stages one by one (the agent's graph runs them as separate nodes) -------------------------------

    def detect(self, rgb: np.ndarray, timings: dict[str, float] | None = None) -> list[Any]:
        """Stage 1: the faces YuNet finds in an RGB uint8 image, largest first, at most ``max_faces``."""
        with self._lock:
            return self._detect(rgb, timings if timings is not None else {})

    def perceive(
        self, rgb: np.ndarray, detections: list[Any], timings: dict[str, float] | None = None
    ) -> list[Face]:
        """Stage 2: landmarks, head pose, blendshapes, AUs and appearance expression for each detection."""
        with self._lock:
            return self._perceive_detections(rgb, detections, timings if timings is not None else {})

    def reason(
        self, faces: list[Face], rgb: np.ndarray, timings: dict[str, float] | None = None
    ) -> list[Face]:
        """Stage 3: the reasoner's fused expression and grounded explanation (faces unchanged without one)."""
        with self._lock:
            return self._reason(faces, rgb, timings if timings is not None else {})

    def _detect(self, rgb: np.ndarray, timings: dict[str, float]) -> list[Any]:
        t = time.perf_counter()
        detections = self._models.detector.detect(rgb)[: self.options.max_faces]
        timings["detect"] = (time.perf_counter() - t) * 1000.0
        return detections

    def _reason(
        self, faces: list[Face], rgb: np.ndarray, timings: dict[str, float], reasoner: Any | None = None
    ) -> list[Face]:
        reasoner = reasoner if reasoner is not None else self.reasoner
        if reasoner is None or not faces:
            return faces
        t = time.perf_counter()
        faces = reasoner.reason(faces, rgb)
        timings["reasoning"] = (time.perf_counter() - t) * 1000.0
        return faces

    def _perceive(self, rgb: np.ndarray, timings: dict[str, float]) -> list[Face]:
        return self._perceive_detections(rgb, self._detect(rgb, timings), timings)

    def _perceive_detections(
        self, rgb: np.ndarray, detections: list[Any], timings: dict[str, float], landmarker: Any | None = None
    ) -> list[Face]:
        """``landmarker``: anything with ``run_box(rgb, box)`` to use instead of the pipeline's own (video
        passes one that tracks a face in MediaPipe's VIDEO mode)."""
        from fea_agent.perception.action_units import estimate_action_units
        from fea_agent.perception.quality import assess

        models = self._models
        landmarker = landmarker if landmarker is not None else models.landmarker
        timings["landmarks"] = timings["action_units"] = timings["expression"] = 0.0
        faces = []
        for det in detections:
            mesh = None
            if landmarker is not None:
                t = time.perf_counter()
                mesh = landmarker.run_box(rgb, det)
                timings["landmarks"] += (time.perf_counter() - t) * 1000.0
            pose = (
                HeadPose(
                    yaw=round(mesh.pose[0], 2), pitch=round(mesh.pose[1], 2), roll=round(mesh.pose[2], 2)
                )
                if (mesh is not None and mesh.pose is not None)
                else None
            )
            t = time.perf_counter()
            aus = estimate_action_units(mesh.blendshapes, mesh.landmarks) if mesh is not None else []
            timings["action_units"] += (time.perf_counter() - t) * 1000.0
            expression = None
            if models.classifier is not None:
                t = time.perf_counter()
                probabilities = models.classifier.predict_box(rgb, det.box)
                timings["expression"] += (time.perf_counter() - t) * 1000.0
                expression = Expression(
                    label=max(probabilities, key=probabilities.__getitem__),
                    probabilities={k: round(v, 4) for k, v in probabilities.items()},
                    source="appearance",
                )
            x, y, w, h = det.box
            # model_construct: every field here is built from typed model outputs, and validating 478
            # landmark triples costs more than the landmarker's own Python wrapper.
            faces.append(
                Face.model_construct(
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
                    aus=aus,
                    expression=expression,
                    quality=assess(
                        box=det.box,
                        detection_score=det.score,
                        landmarks_found=mesh is not None,
                        presence=mesh.presence if mesh is not None else 0.0,
                        pose=pose,
                    ),
                )
            )
        return faces
