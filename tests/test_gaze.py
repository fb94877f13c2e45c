"""Gaze from MediaPipe's iris landmarks and the head pose: signs on made-up eyes, sense on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EDGE, needs_shared
from PIL import Image

from fea_agent.perception import gaze


def _eyes(iris_dx: float = 0.0, iris_dy: float = 0.0) -> np.ndarray:
    """478 landmarks with two level eyes 30 px wide; the irises moved by (dx, dy) pixels from the centre."""
    points = np.zeros((478, 3), np.float32)
    for (left, right, upper, lower, iris), x0 in zip(gaze.EYES, (100.0, 160.0), strict=True):
        points[left, :2], points[right, :2] = (x0, 100), (x0 + 30, 100)
        points[upper, :2], points[lower, :2] = (x0 + 15, 94), (x0 + 15, 106)
        points[iris, :2] = (x0 + 15 + iris_dx, 100 + iris_dy)
    return points


def test_gaze_signs_follow_the_head_pose_convention():
    yaw, pitch = gaze.eye_in_head(_eyes())
    assert yaw == pytest.approx(0) and pitch == pytest.approx(-gaze.PITCH_AT_REST)
    right, _ = gaze.eye_in_head(_eyes(iris_dx=6))  # irises towards the image's right
    assert right == pytest.approx(30.0, abs=0.01)  # asin(6 / (0.4 * 30))
    _, up = gaze.eye_in_head(_eyes(iris_dy=-6))  # irises up (image y grows down)
    assert up == pytest.approx(30.0 - gaze.PITCH_AT_REST, abs=0.01)
    assert gaze.gaze_from_landmarks(_eyes(iris_dx=6), (10.0, -5.0, 0.0)) == pytest.approx(
        (40.0, -5.0 - gaze.PITCH_AT_REST), abs=0.01
    )
    assert gaze.gaze_from_landmarks(_eyes(), None) is None
    assert gaze.eye_in_head(np.zeros((468, 3))) is None  # no iris landmarks


@pytest.fixture(scope="module")
def perceive():
    from fea_agent.perception.detector import load_yunet
    from fea_agent.perception.landmarker import load_mediapipe_landmarker
    from fea_agent.pipeline import PipelineOptions

    options = PipelineOptions()
    detector, landmarker = load_yunet(options), load_mediapipe_landmarker(options)

    def run(name: str):
        rgb = np.asarray(Image.open(EDGE / name).convert("RGB"))
        return [landmarker.run_box(rgb, d) for d in detector.detect(rgb)]

    yield run
    landmarker.close()


@needs_shared
@pytest.mark.parametrize("name", ["webmorph_lisa_lisa4.jpg", "webmorph_zoom_30cm.jpg", "pexels_neutral.jpeg"])
def test_gaze_into_the_camera_is_near_zero(perceive, name):
    (mesh,) = perceive(name)
    assert mesh.gaze is not None
    assert abs(mesh.gaze[0]) < 8 and abs(mesh.gaze[1]) < 8


@needs_shared
def test_gaze_turns_with_the_heads_in_the_group_photo(perceive):
    meshes = [m for m in perceive("pexels_group.jpeg") if m is not None]
    turned = [m for m in meshes if abs(m.pose[0]) > 20]
    assert len(turned) >= 2
    assert all(np.sign(m.gaze[0]) == np.sign(m.pose[0]) for m in turned)
