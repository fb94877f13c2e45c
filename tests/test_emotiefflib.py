"""EmotiEffLib on onnxruntime, with ONNX graphs the test builds: same input and outputs as upstream's models.

Each graph flattens the whole input into one Gemm (upstream's models end in a Gemm), so every pixel of the
preprocessed face counts: a wrong size, mean, std, channel order or label order changes the answer.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

pytest.importorskip("onnx", reason="the test builds ONNX graphs with onnx.helper: pip install onnx")
pytest.importorskip("onnxruntime", reason="needs onnxruntime: pip install 'fea-agent[emotiefflib]'")

from emotiefflib_graphs import make_graph

from fea_agent.backends.base import Detection
from fea_agent.errors import ModelFileError
from fea_agent.models import registry
from fea_agent.perception import emotiefflib

UPSTREAM_8 = ("Anger", "Contempt", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise")


def upstream_preprocess(face: np.ndarray, side: int, mean, std) -> np.ndarray:
    """EmotiEffLibRecognizerOnnx._preprocess, as upstream writes it."""
    x = cv2.resize(face, (side, side)) / 255
    for i in range(3):
        x[..., i] = (x[..., i] - mean[i]) / std[i]
    return x.transpose(2, 0, 1).astype("float32")[np.newaxis, ...]


def _faces():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = [(20.0, 30.0, 100.0, 120.0), (180.0, 60.0, 90.0, 110.0)]
    return rgb, [Detection(b, 0.9, np.zeros((5, 2), np.float32)) for b in boxes]


@pytest.mark.parametrize(
    ("model", "side", "mean", "std"),
    [
        ("enet_b0_8_va_mtl", 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ("enet_b0_8_best_vgaf", 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ("enet_b2_7", 260, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ("mbf_va_mtl", 112, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ],
)
def test_emotiefflib_matches_upstream_preprocessing_and_labels(tmp_path, model, side, mean, std):
    n_labels = 7 if "_7" in model else 8
    outputs = n_labels + (2 if model.endswith("_va_mtl") else 0)
    weight, bias = make_graph(tmp_path / f"{model}.onnx", side, outputs)
    classifier = emotiefflib.EmotiEffLibClassifier(
        tmp_path / f"{model}.onnx", model, providers=["CPUExecutionProvider"]
    )
    assert classifier.pre == emotiefflib.Preprocessing(side, mean, std) and classifier.device == "cpu"
    rgb, detections = _faces()
    results = classifier.predict(rgb, detections)
    upstream_labels = [u for u in UPSTREAM_8 if n_labels == 8 or u != "Contempt"]
    for d, result in zip(detections, results, strict=True):
        x, y, w, h = (int(v) for v in d.box)
        scores = upstream_preprocess(rgb[y : y + h, x : x + w], side, mean, std).reshape(-1) @ weight.T + bias
        logits = scores[:n_labels]
        expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert list(result.probabilities) == [u.lower() for u in upstream_labels]
        assert np.allclose(list(result.probabilities.values()), expected, atol=1e-4)
        if outputs > n_labels:
            assert result.valence == pytest.approx(float(np.clip(scores[-2], -1, 1)), abs=1e-3)
            assert result.arousal == pytest.approx(float(np.clip(scores[-1], -1, 1)), abs=1e-3)
        else:
            assert result.valence is None and result.arousal is None


def test_emotiefflib_runs_a_batch_one_graph_one_face_at_a_time(tmp_path):
    make_graph(tmp_path / "m.onnx", 224, 10, batch=1)
    fixed = emotiefflib.EmotiEffLibClassifier(tmp_path / "m.onnx", "enet_b0_8_va_mtl")
    make_graph(tmp_path / "d.onnx", 224, 10)
    dynamic = emotiefflib.EmotiEffLibClassifier(tmp_path / "d.onnx", "enet_b0_8_va_mtl")
    rgb, detections = _faces()
    assert fixed.predict(rgb, detections) == dynamic.predict(rgb, detections)
    assert fixed.predict(rgb, []) == []


def test_emotiefflib_refuses_a_graph_with_the_wrong_outputs(tmp_path):
    make_graph(tmp_path / "m.onnx", 224, 8)
    with pytest.raises(ModelFileError, match="should give 10"):
        emotiefflib.EmotiEffLibClassifier(tmp_path / "m.onnx", "enet_b0_8_va_mtl")


def test_emotiefflib_without_weights_names_file_source_and_licence(tmp_path, monkeypatch):
    from fea_agent.pipeline import PipelineOptions

    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    with pytest.raises(ModelFileError) as info:
        emotiefflib.load_emotiefflib(PipelineOptions())
    text = str(info.value)
    assert "enet_b0_8_va_mtl.onnx" in text
    assert "https://github.com/sb-ai-lab/EmotiEffLib/raw/main/models/affectnet_emotions/onnx/" in text
    assert "Apache-2.0" in text and "AffectNet" in text
    assert "fea-agent models fetch emotiefflib_enet_b0_8_va_mtl" in text


def test_emotiefflib_file_is_verified_by_its_git_blob_id(tmp_path, monkeypatch):
    """The registry pins EmotiEffLib's files by git blob id (``git hash-object``), as upstream publishes them."""
    from fea_agent.pipeline import PipelineOptions

    (tmp_path / "emotiefflib").mkdir()
    path = tmp_path / "emotiefflib" / "enet_b0_8_va_mtl.onnx"
    make_graph(path, 224, 10)
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    name = "emotiefflib_enet_b0_8_va_mtl"
    data = path.read_bytes()
    import hashlib

    assert registry.git_blob_of(path) == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    registry._verified.clear()
    with pytest.raises(ModelFileError, match="git blob"):
        emotiefflib.load_emotiefflib(PipelineOptions())  # the test graph is not upstream's file
    pinned = dataclasses.replace(registry.MODELS[name], git_blob=registry.git_blob_of(path))
    monkeypatch.setitem(registry.MODELS, name, pinned)
    registry._verified.clear()
    classifier = emotiefflib.load_emotiefflib(PipelineOptions())
    assert classifier.has_va and classifier.labels == emotiefflib.LABELS_8
    registry._verified.clear()


def test_retinaface_openface3_emotiefflib_are_listed_backends():
    from fea_agent.backends import registry as backends

    listed = {(b.stage, b.name): b for b in backends.describe_all()}
    assert {("detector", "retinaface"), ("action_units", "openface3"), ("appearance", "openface3")} <= set(
        listed
    )
    emo = listed[("appearance", "emotiefflib")]
    assert emo.extra == "emotiefflib" and emo.models == ["emotiefflib_enet_b0_8_va_mtl"]
    assert emo.available or "enet_b0_8_va_mtl.onnx" in emo.reason
    assert all(listed[k].device in ("cpu", "cuda", "auto") for k in listed)
