"""OpenFace 3.0's multitask model: the loader proven against upstream's class, the backends, the errors.

The real ``MTL_backbone.pth`` cannot be downloaded here; the backend tests use weights the test makes
(upstream's architecture, deterministic values) and check wiring, ranges and errors, never accuracy.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EDGE, needs_shared
from PIL import Image

torch = pytest.importorskip("torch", reason="needs torch: pip install 'fea-agent[openface3]'")
pytest.importorskip("timm", reason="needs timm: pip install 'fea-agent[openface3]'")

from openface3_reference import (  # noqa: E402
    REFERENCE,
    deterministic_input,
    deterministic_model,
    deterministic_state,
)

from fea_agent.backends.base import Detection  # noqa: E402
from fea_agent.errors import ModelFileError  # noqa: E402
from fea_agent.models import registry  # noqa: E402
from fea_agent.perception import openface3  # noqa: E402
from fea_agent.perception.openface3_model import MTL  # noqa: E402
from fea_agent.results import EXPRESSION_LABELS  # noqa: E402


@pytest.fixture(scope="module")
def ours():
    return deterministic_model(MTL())


def test_openface3_mtl_keys_and_shapes_match_upstream_record(ours):
    recorded = json.loads(REFERENCE.read_text())
    assert [[k, list(v.shape)] for k, v in ours.state_dict().items()] == recorded["keys"]


@pytest.mark.slow
def test_openface3_mtl_outputs_match_upstream_record(ours):
    """Same deterministic weights and inputs -> the outputs upstream's class gave when recorded."""
    recorded = json.loads(REFERENCE.read_text())["outputs"]
    with torch.no_grad():
        emotion, gaze, aus = ours(deterministic_input())
    for name, ours_out in (("emotion", emotion), ("gaze", gaze), ("aus", aus)):
        theirs = torch.tensor(recorded[name])
        assert torch.allclose(ours_out, theirs, atol=1e-4), name
    # the two inputs give different outputs, so the comparison sees the backbone, not just the biases
    assert (emotion[0] - emotion[1]).abs().max() > 1e-3


def test_openface3_mtl_equals_upstream_class_when_installed(ours):
    """Directly against ``openface.model.MTL`` (``pip install --no-deps openface-test``), when importable."""
    upstream = pytest.importorskip("openface.model.MTL", reason="openface-test not installed (--no-deps)")
    theirs = deterministic_model(upstream.MTL())
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = deterministic_input(3, phase=0.5)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x), strict=True):
            assert torch.allclose(a, b, atol=1e-6)


@pytest.fixture
def made_weights(tmp_path, monkeypatch, ours):
    """A checkpoint in upstream's format with test-made values, where the registry looks for it."""
    (tmp_path / "openface3").mkdir()
    torch.save(ours.state_dict(), tmp_path / "openface3" / "MTL_backbone.pth")
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    registry._verified.clear()
    openface3.shared_model.cache_clear()
    yield tmp_path
    registry._verified.clear()
    openface3.shared_model.cache_clear()


def _options():
    from fea_agent.pipeline import PipelineOptions

    return PipelineOptions()


def test_openface3_without_weights_names_file_source_and_licence(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    with pytest.raises(ModelFileError) as info:
        openface3.load_openface3_aus(_options())
    text = str(info.value)
    assert "MTL_backbone.pth" in text
    assert "https://huggingface.co/nutPace/openface_weights/resolve/main/MTL_backbone.pth" in text
    assert "non-commercial" in text and "fea-agent models fetch openface3_mtl" in text


def test_openface3_refuses_a_checkpoint_of_another_model(tmp_path, monkeypatch):
    (tmp_path / "openface3").mkdir()
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "openface3" / "MTL_backbone.pth")
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    registry._verified.clear()
    openface3.shared_model.cache_clear()
    with pytest.raises(ModelFileError, match="does not fit OpenFace 3"):
        openface3.load_openface3_aus(_options())


@pytest.mark.slow
def test_openface3_unpinned_weights_get_their_sha256_recorded(made_weights, capsys):
    openface3.load_openface3_aus(_options())
    pins = json.loads((made_weights / "cache" / registry.PINS_FILE).read_text())
    assert pins["openface3_mtl"] == registry.sha256_of(made_weights / "openface3" / "MTL_backbone.pth")
    assert pins["openface3_mtl"] in capsys.readouterr().err
    # a different file later is refused
    registry._verified.clear()
    openface3.shared_model.cache_clear()
    torch.save(deterministic_state(MTL().state_dict()), made_weights / "openface3" / "MTL_backbone.pth")
    with pytest.raises(ModelFileError, match="recorded on first use"):
        openface3.load_openface3_aus(_options())


@needs_shared
@pytest.mark.slow
def test_openface3_backends_fill_aus_gaze_and_expressions_in_range(made_weights):
    rgb = np.asarray(Image.open(EDGE / "pexels_group.jpeg").convert("RGB"))
    boxes = [(100.0, 80.0, 120.0, 150.0), (600.0, 100.0, 110.0, 140.0)]
    detections = [Detection(b, 0.99, np.zeros((5, 2), np.float32)) for b in boxes]
    aus_backend = openface3.load_openface3_aus(_options())
    appearance = openface3.load_openface3_appearance(_options())
    assert aus_backend.model is appearance.model  # one model for both stages
    calls = []
    aus_backend.model.net.register_forward_hook(lambda *a: calls.append(1))

    faces = aus_backend.predict(rgb, detections, [None, None])
    looks = appearance.predict(rgb, detections)
    assert len(calls) == 1  # the appearance stage reused the AU stage's forward pass
    assert len(faces) == len(looks) == 2
    for face, look in zip(faces, looks, strict=True):
        assert [a.code for a in face.aus] == list(openface3.AU_ORDER)
        assert all(0 <= a.probability <= 1 and 0 <= a.intensity <= 5 for a in face.aus)
        assert all(a.present == (a.probability >= 0.5) for a in face.aus)
        yaw, pitch = face.gaze
        assert -180 <= yaw <= 180 and -90 <= pitch <= 90
        assert list(look.probabilities) == list(EXPRESSION_LABELS)
        assert abs(sum(look.probabilities.values()) - 1) < 1e-6
    assert aus_backend.device == "cpu" and aus_backend.predict(rgb, [], []) == []


def test_openface3_preprocessing_matches_upstream_transform(ours):
    """Crop, then torchvision's ToTensor + Resize((224, 224)) + Normalize, as upstream's MultitaskPredictor."""
    transforms = pytest.importorskip("torchvision.transforms", reason="torchvision not installed")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    model = openface3.OpenFace3.__new__(openface3.OpenFace3)
    model.device = "cpu"
    model._mean = torch.tensor(openface3.IMAGENET_MEAN).view(1, 3, 1, 1)
    model._std = torch.tensor(openface3.IMAGENET_STD).view(1, 3, 1, 1)
    box = (50.0, 40.0, 180.0, 210.0)
    ours_x = model.preprocess(rgb, [Detection(box, 1.0, np.zeros((5, 2), np.float32))])
    upstream = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Resize((224, 224)),
            transforms.Normalize(mean=openface3.IMAGENET_MEAN, std=openface3.IMAGENET_STD),
        ]
    )
    theirs = upstream(rgb[40:250, 50:230]).unsqueeze(0)
    assert torch.allclose(ours_x, theirs, atol=1e-5)


def test_openface3_gaze_and_au_mapping_are_documented_constants():
    assert openface3.gaze_degrees(np.array([np.pi / 6, -np.pi / 12])) == pytest.approx((-30.0, -15.0))
    aus = openface3.action_units(np.array([0.0, 0.2, 0.5, 0.9, 1.2, -0.1, 0.4, 0.6]))
    assert [a.intensity for a in aus][:4] == pytest.approx([0.0, 1.0, 2.5, 4.5])
    assert aus[4].probability == 1.0 and aus[5].probability == 0.0


def test_openface3_download_says_non_commercial_first_and_records_the_sha256(
    tmp_path, monkeypatch, capfd, file_server
):
    """fetch() over HTTP (a local server): the licence notice comes before the download, the sha256 after."""
    import dataclasses

    serve = tmp_path / "www"
    serve.mkdir()
    (serve / "MTL_backbone.pth").write_bytes(b"weights of some kind")
    monkeypatch.delenv(registry.ENV_MODEL_DIR, raising=False)
    monkeypatch.setenv(registry.ENV_CACHE, str(tmp_path / "cache"))
    url = f"{file_server(serve)}/MTL_backbone.pth"
    monkeypatch.setitem(
        registry.MODELS, "openface3_mtl", dataclasses.replace(registry.MODELS["openface3_mtl"], url=url)
    )
    path = registry.fetch("openface3_mtl")
    err = capfd.readouterr().err
    digest = registry.sha256_of(path)
    assert err.index("non-commercial") < err.index(digest)
    assert registry.recorded_pins()["openface3_mtl"] == digest
