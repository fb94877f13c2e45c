"""The landmarks backend fills each face's gaze (iris landmarks plus head pose; the function itself is tested
in test_interchange.py): near zero for faces looking into the camera, turning with the head."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EDGE, needs_shared
from PIL import Image


@pytest.fixture(scope="module")
def perceive():
    from fea_agent.perception.mediapipe_tasks import load_mediapipe_landmarker
    from fea_agent.perception.yunet import load_yunet
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
