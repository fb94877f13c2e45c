"""The registry of backends: every stage's interchangeable implementations, by name, in one place.

Each entry says which stage it serves, what it is, which model files (names in
:mod:`fea_agent.models.registry`) and Python packages it needs, the pip extra that installs them, and how to
build it. :func:`available` tells, without loading anything, whether a backend can run here and why not;
:func:`load` builds it. ``fea-agent models list`` and the MCP ``backends`` resource print :func:`describe_all`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from fea_agent.backends.context import BuildContext
from fea_agent.errors import BackendUnavailableError

Stage = Literal["detector", "landmarks", "action_units", "appearance", "reasoner"]
STAGES: tuple[Stage, ...] = ("detector", "landmarks", "action_units", "appearance", "reasoner")


@dataclass(frozen=True)
class BackendSpec:
    """One backend of one stage."""

    stage: Stage
    name: str
    description: str
    #: ``"module:function"`` called as ``function(ctx: BuildContext)``; imported only when the backend is loaded.
    factory: str
    models: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()  # importable module names the backend needs
    extra: str | None = None  # the pip extra that installs them
    #: Stages whose output this backend reads (the blendshape AUs need the landmarks backend's mesh).
    requires: tuple[Stage, ...] = ()
    #: Reasoners only: True when the backend looks at pixels, so a call without the image cannot run it.
    needs_image: bool = False
    #: Where it runs: "cpu", or "auto" for backends that use CUDA when torch/onnxruntime can see a GPU.
    device: str = "cpu"


BACKENDS: dict[tuple[Stage, str], BackendSpec] = {
    (b.stage, b.name): b
    for b in (
        BackendSpec(
            "detector",
            "yunet",
            "YuNet (OpenCV FaceDetectorYN): box, 5 points, score; faces from about 10 px",
            "fea_agent.perception.yunet:load_yunet",
            models=("yunet",),
        ),
        BackendSpec(
            "detector",
            "mediapipe",
            "MediaPipe's BlazeFace short-range detector (from the Face Landmarker bundle): faces within about "
            "2 m of the camera, misses small faces in group photos",
            "fea_agent.perception.mediapipe_detector:load_mediapipe_detector",
            models=("face_landmarker",),
        ),
        BackendSpec(
            "detector",
            "retinaface",
            "RetinaFace MobileNet-0.25 (the detector OpenFace 3.0 uses), in torch: box, 5 points, score; "
            "batched, on CUDA when present; weights under OpenFace 3.0's non-commercial licence",
            "fea_agent.perception.retinaface:load_retinaface",
            models=("retinaface",),
            packages=("torch",),
            extra="retinaface",
            device="auto",
        ),
        BackendSpec(
            "landmarks",
            "mediapipe",
            "MediaPipe's face landmark and blendshape models (from the Face Landmarker bundle) run directly "
            "with LiteRT on a region from the detector's box and eyes: 478 landmarks, 52 blendshapes, head "
            "pose; in video, each frame's region comes from the previous frame's landmarks",
            "fea_agent.perception.mediapipe_mesh:load_mediapipe_face_mesh",
            models=("face_landmarker",),
        ),
        BackendSpec(
            "landmarks",
            "mediapipe-tasks",
            "MediaPipe Face Landmarker (Tasks API) on a square crop around each face: 478 landmarks, "
            "52 blendshapes, head pose (slower: it runs its own detector again; the reference the direct "
            "backend is tested against)",
            "fea_agent.perception.mediapipe_tasks:load_mediapipe_landmarker",
            models=("face_landmarker",),
        ),
        BackendSpec(
            "action_units",
            "blendshapes",
            "20 AUs estimated from MediaPipe's blendshapes and landmarks (calibrated, approximate)",
            "fea_agent.perception.blendshape_aus:load_blendshape_aus",
            requires=("landmarks",),
        ),
        BackendSpec(
            "appearance",
            "fer",
            "FER2013 mini-Xception CNN (7 expressions) on LiteRT",
            "fea_agent.perception.fer:load_fer",
            models=("fer",),
        ),
        BackendSpec(
            "appearance",
            "fer+faceapi",
            "the FER CNN and face-api.js's expression net together: probabilities averaged, embeddings side by "
            "side (what the shipped expression model reads)",
            "fea_agent.perception.appearance_ensemble:load_fer_faceapi",
            models=("fer", "faceapi_expression_manifest", "faceapi_expression"),
        ),
        BackendSpec(
            "appearance",
            "faceapi",
            "face-api.js FaceExpressionNet (7 expressions, MIT) in numpy: dense depthwise-separable blocks on "
            "the 112x112 RGB face",
            "fea_agent.perception.faceapi:load_faceapi",
            models=("faceapi_expression_manifest", "faceapi_expression"),
        ),
        BackendSpec(
            "action_units",
            "openface3",
            "OpenFace 3.0's multitask model (EfficientNet-B0 on the face crop): 8 AUs (DISFA's AU01 AU02 AU04 "
            "AU06 AU09 AU12 AU25 AU26) and gaze; batched, on CUDA when present; non-commercial weights",
            "fea_agent.perception.openface3:load_openface3_aus",
            models=("openface3_mtl",),
            packages=("torch", "timm"),
            extra="openface3",
            device="auto",
        ),
        BackendSpec(
            "appearance",
            "openface3",
            "OpenFace 3.0's multitask model: 8 AffectNet expressions (shares the model with its AUs)",
            "fea_agent.perception.openface3:load_openface3_appearance",
            models=("openface3_mtl",),
            packages=("torch", "timm"),
            extra="openface3",
            device="auto",
        ),
        BackendSpec(
            "appearance",
            "emotiefflib",
            "EmotiEffLib / HSEmotion enet_b0_8_va_mtl on onnxruntime: 8 AffectNet expressions, valence and "
            "arousal; CUDA provider when installed",
            "fea_agent.perception.emotiefflib:load_emotiefflib",
            models=("emotiefflib_enet_b0_8_va_mtl",),
            packages=("onnxruntime",),
            extra="emotiefflib",
            device="auto",
        ),
        BackendSpec(
            "reasoner",
            "facs",
            "FACS prototypes fused with appearance; offline, deterministic, explains with AUs",
            "fea_agent.reasoning.facs:load_facs_reasoner",
        ),
        BackendSpec(
            "reasoner",
            "feallm",
            "FEALLM (this package's torch implementation) from a trained checkpoint",
            "fea_agent.reasoning.feallm.reasoner:load_feallm_reasoner",
            packages=("torch", "transformers", "peft"),
            extra="feallm",
            needs_image=True,
            device="auto",
        ),
        BackendSpec(
            "reasoner",
            "vlm",
            "any Hugging Face vision-language model through transformers",
            "fea_agent.reasoning.vlm:load_vlm_reasoner",
            packages=("torch", "transformers"),
            extra="feallm",
            needs_image=True,
            device="auto",
        ),
        BackendSpec(
            "reasoner",
            "openai",
            "any OpenAI-compatible chat endpoint (vLLM serving FEALLM or a peer model, a hosted model)",
            "fea_agent.reasoning.openai_compat:load_openai_reasoner",
            packages=("openai",),
            extra="feallm",
            needs_image=True,
        ),
    )
}

#: The default backend of each stage (what ``PipelineOptions()`` uses).
DEFAULTS: dict[Stage, str] = {
    "detector": "yunet",
    "landmarks": "mediapipe",
    "action_units": "blendshapes",
    "appearance": "fer+faceapi",
    "reasoner": "facs",
}


def register(backend: BackendSpec) -> None:
    """Add a backend that lives outside this package (a plugin's, or a test's): afterwards its name is a
    choice of :class:`~fea_agent.pipeline.PipelineOptions` and of every command's flag, like a built-in one.
    Raises ValueError when the stage already has a backend of that name."""
    key = (backend.stage, backend.name)
    if key in BACKENDS:
        raise ValueError(
            f"the {backend.stage.replace('_', ' ')} backend {backend.name!r} is already registered"
        )
    BACKENDS[key] = backend


def names(stage: Stage) -> tuple[str, ...]:
    """The registered backend names of a stage, default first."""
    found = [name for (s, name) in BACKENDS if s == stage]
    return tuple(sorted(found, key=lambda n: (n != DEFAULTS[stage], found.index(n))))


def spec(stage: Stage, name: str) -> BackendSpec:
    try:
        return BACKENDS[(stage, name)]
    except KeyError:
        raise BackendUnavailableError(
            f"unknown {stage.replace('_', ' ')} backend {name!r}; choose one of {', '.join(names(stage))}"
        ) from None


def available(stage: Stage, name: str) -> tuple[bool, str]:
    """Whether a backend can run here, without loading it, and why not: ``(True, "")`` or ``(False, why)``."""
    s = spec(stage, name)
    missing = [p for p in s.packages if importlib.util.find_spec(p) is None]
    if missing:
        how = f"pip install 'fea-agent[{s.extra}]'" if s.extra else f"pip install {' '.join(missing)}"
        return False, f"needs the Python package(s) {', '.join(missing)}: {how}"
    from fea_agent.models import registry as models

    for model in s.models:
        if not any(path.is_file() for path in models.candidates(model)) and not models.can_download():
            return (
                False,
                f"model file {models.spec(model).filename} is not here; {models.how_to_get(models.spec(model))}",
            )
    return True, ""


def device_of(stage: Stage, name: str) -> str:
    """Where a backend would run: 'cpu', or 'cuda' for an 'auto' backend when a GPU is visible."""
    s = spec(stage, name)
    if s.device != "auto":
        return s.device
    from fea_agent.devices import best_device, onnx_providers

    if "onnxruntime" in s.packages and "torch" not in s.packages:
        return "cuda" if onnx_providers()[0] == "CUDAExecutionProvider" else "cpu"
    return best_device()


def load(stage: Stage, name: str, ctx: BuildContext) -> Any:
    """Build the backend ``name`` of ``stage`` from ``ctx``: every factory has this one signature.

    Raises :class:`BackendUnavailableError` (a package is missing) or :class:`ModelFileError` (a weights file
    is missing or corrupt), each naming what is missing and how to get it.
    """
    s = spec(stage, name)
    missing = [p for p in s.packages if importlib.util.find_spec(p) is None]
    if missing:
        how = f"pip install 'fea-agent[{s.extra}]'" if s.extra else f"pip install {' '.join(missing)}"
        raise BackendUnavailableError(
            f"the {stage.replace('_', ' ')} backend {name!r} needs {', '.join(missing)}: {how}"
        )
    module_name, _, function = s.factory.partition(":")
    factory: Callable[[BuildContext], Any] = getattr(importlib.import_module(module_name), function)
    return factory(ctx)


class BackendStatus(BaseModel):
    """One backend as ``fea-agent models list`` and the MCP ``backends`` resource show it."""

    stage: str
    name: str
    description: str
    default: bool
    models: list[str] = Field(default_factory=list, description="Model files (registry names).")
    extra: str | None = Field(None, description="The pip extra that installs what it needs.")
    device: str = Field(description="Where it would run here: 'cpu' or 'cuda'.")
    available: bool
    reason: str = Field("", description="Why it is not available, with how to fix it.")


def describe_all() -> list[BackendStatus]:
    """Every backend of every stage, with whether it can run here and why not."""
    out = []
    for s in BACKENDS.values():
        ok, why = available(s.stage, s.name)
        out.append(
            BackendStatus(
                stage=s.stage,
                name=s.name,
                description=s.description,
                default=DEFAULTS[s.stage] == s.name,
                models=list(s.models),
                extra=s.extra,
                device=device_of(s.stage, s.name) if ok else s.device,
                available=ok,
                reason=why,
            )
        )
    return out
