"""RetinaFace (MobileNet-0.25) with the real OpenFace 3.0 weights on the shared photos, against YuNet."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EDGE, MODELS, needs_shared
from PIL import Image

torch = pytest.importorskip("torch", reason="RetinaFace needs torch: pip install 'fea-agent[retinaface]'")

from fea_agent.perception import retinaface  # noqa: E402

pytestmark = needs_shared

NO_FACE = [
    "skimage_coffee.png",
    "skimage_rocket.jpg",
    "skimage_chelsea.png",
    "pixabay_mountains-615428_640.jpg",
    "pixabay_road-1072821_640.jpg",
]
ONE_FACE = [
    "pexels_angry.jpg",
    "pexels_happy-baby.jpeg",
    "pexels_neutral.jpeg",
    "pexels_sad-baby.jpeg",
    "pexels_surprised.jpeg",
    "skimage_astronaut.png",
    "skimage_camera.png",
    "webmorph_lisa_lisa1.jpg",
    "webmorph_zoom_15cm.jpg",
    "webmorph_zoom_60cm.jpg",
]


def _rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(EDGE / name).convert("RGB"))


@pytest.fixture(scope="module")
def detector():
    from fea_agent.models.registry import model_path

    if not (MODELS / "openface3" / "mobilenet0.25_Final.pth").is_file():
        pytest.skip("openface3/mobilenet0.25_Final.pth not in the shared models")
    # found through $FEA_AGENT_MODEL_DIR alone (conftest points it at ../shared/models)
    return retinaface.RetinaFaceDetector(model_path("retinaface", download=False), device="cpu")


@pytest.fixture(scope="module")
def yunet():
    from fea_agent.models.registry import model_path
    from fea_agent.perception.yunet import YuNetDetector

    return YuNetDetector(model_path("yunet", download=False))


@pytest.mark.slow
def test_retinaface_finds_the_five_people_of_the_group_photo(detector):
    faces = detector.detect(_rgb("pexels_group.jpeg"))
    assert len(faces) == 5
    areas = [d.box[2] * d.box[3] for d in faces]
    assert areas == sorted(areas, reverse=True)
    assert all(0.5 <= d.score <= 1 and d.keypoints.shape == (5, 2) for d in faces)


@pytest.mark.parametrize("name", NO_FACE)
def test_retinaface_finds_no_face_where_there_is_none(detector, name):
    assert detector.detect(_rgb(name)) == []


@pytest.mark.parametrize("name", ONE_FACE)
def test_retinaface_box_agrees_with_yunet(detector, yunet, name):
    rgb = _rgb(name)
    (ours,), (theirs,) = detector.detect(rgb), yunet.detect(rgb)
    (x, y, w, h), (X, Y, W, H) = ours.box, theirs.box
    assert np.hypot(x + w / 2 - X - W / 2, y + h / 2 - Y - H / 2) <= 0.15 * W
    assert abs(np.sqrt(w * h / (W * H)) - 1) <= 0.25
    # the same 5-point order as YuNet: right eye, left eye, nose, right and left mouth corner
    assert np.abs(ours.keypoints - theirs.keypoints).max() <= 0.15 * W


@pytest.mark.slow
def test_retinaface_batch_equals_one_by_one(detector):
    frames = [_rgb("skimage_astronaut.png"), _rgb("skimage_camera.png")]
    batched = detector.detect_batch(frames)
    for rgb, found in zip(frames, batched, strict=True):
        (single,) = detector.detect(rgb)
        assert np.allclose(found[0].box, single.box, atol=0.5)


def test_retinaface_checkpoint_loads_strictly_with_upstream_names():
    path = MODELS / "openface3" / "mobilenet0.25_Final.pth"
    if not path.is_file():
        pytest.skip("shared RetinaFace weights absent")
    state = retinaface.load_state_dict(path)
    net = retinaface.RetinaFaceNet()
    assert set(net.state_dict()) == set(state)
    net.load_state_dict(state, strict=True)


def test_retinaface_priors_follow_upstream_prior_box():
    # 64x48: 8x6 cells of stride 8 with 2 sizes, 4x3 of stride 16, 2x2 of stride 32 (ceil)
    anchors = retinaface.priors(48, 64)
    assert anchors.shape == ((8 * 6 + 4 * 3 + 2 * 2) * 2, 4)
    # first cell, both sizes, then the next column
    assert torch.allclose(anchors[0], torch.tensor([4 / 64, 4 / 48, 16 / 64, 16 / 48]))
    assert torch.allclose(anchors[1], torch.tensor([4 / 64, 4 / 48, 32 / 64, 32 / 48]))
    assert torch.allclose(anchors[2, :2], torch.tensor([12 / 64, 4 / 48]))


def test_retinaface_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    assert retinaface.nms(boxes, np.array([0.8, 0.9, 0.7]), 0.4) == [1, 2]
