"""Stages as named backends: the registry, the options that choose them, MediaPipe's own detector as the
second detector, and the clear errors when a backend cannot run."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import EDGE, needs_shared
from PIL import Image

from fea_agent.backends import registry
from fea_agent.errors import BackendUnavailableError, InvalidInputError
from fea_agent.pipeline import FEAPipeline, PipelineOptions


def test_every_stage_has_its_default_first_and_the_defaults_are_the_options_defaults():
    options = PipelineOptions()
    for stage in registry.STAGES:
        assert registry.names(stage)[0] == registry.DEFAULTS[stage] == getattr(options, stage)


@pytest.mark.parametrize(
    ("field", "value"),
    [("detector", "haar"), ("landmarks", "dlib"), ("appearance", "nope"), ("reasoner", "gpt")],
)
def test_an_unknown_backend_is_refused_naming_the_choices(field, value):
    with pytest.raises(
        ValueError,
        match=rf"unknown .*backend '{value}'; choose one of .*{re.escape(registry.DEFAULTS[field])}",
    ):
        PipelineOptions(**{field: value})


def test_none_switches_an_optional_stage_off_but_not_the_detector():
    assert PipelineOptions(reasoner="none", appearance=None).reasoner is None
    with pytest.raises(ValueError, match="detector backend is required"):
        PipelineOptions(detector=None)


def test_a_missing_package_makes_a_backend_unavailable_with_the_fix(monkeypatch):
    fake = registry.BackendSpec(
        "appearance",
        "imaginary",
        "test",
        "nowhere:load",
        packages=("no_such_package_xyz",),
        extra="imaginary",
    )
    monkeypatch.setitem(registry.BACKENDS, ("appearance", "imaginary"), fake)
    ok, why = registry.available("appearance", "imaginary")
    assert not ok and "no_such_package_xyz" in why and "fea-agent[imaginary]" in why
    with pytest.raises(BackendUnavailableError, match=r"pip install 'fea-agent\[imaginary\]'"):
        registry.load("appearance", "imaginary", PipelineOptions())


def test_describe_all_lists_every_backend_with_its_device():
    listed = {(b.stage, b.name): b for b in registry.describe_all()}
    assert set(listed) == set(registry.BACKENDS)
    assert listed[("detector", "yunet")].default and listed[("detector", "yunet")].device == "cpu"


def test_blendshape_aus_without_landmarks_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="computed from the landmarks"):
        FEAPipeline(landmarks=None)


@needs_shared
def test_mediapipe_detector_finds_the_astronaut_where_yunet_does(pipeline):
    rgb = np.asarray(Image.open(EDGE / "skimage_astronaut.png").convert("RGB"))
    with FEAPipeline(detector="mediapipe", reasoner=None) as mp_pipeline:
        ours = mp_pipeline.analyze(rgb)
        empty = mp_pipeline.analyze(EDGE / "pixabay_mountains-615428_640.jpg")
    reference = pipeline.analyze(rgb)
    (face,), (ref,) = ours.faces, reference.faces
    centre = np.array([face.bbox.x + face.bbox.width / 2, face.bbox.y + face.bbox.height / 2])
    ref_centre = np.array([ref.bbox.x + ref.bbox.width / 2, ref.bbox.y + ref.bbox.height / 2])
    assert np.linalg.norm(centre - ref_centre) < 0.15 * ref.bbox.width
    assert len(face.keypoints) == 5 and face.quality.usable and len(face.landmarks) == 478
    assert face.reasoning is None  # reasoner=None: perception only
    assert empty.faces == []
    assert ours.devices == {"detector": "cpu", "landmarks": "cpu", "action_units": "cpu", "appearance": "cpu"}


@needs_shared
def test_perception_without_appearance_or_aus(astronaut):
    with FEAPipeline(appearance=None, action_units=None, reasoner=None) as bare:
        (face,) = bare.analyze(astronaut).faces
    assert face.expression is None and face.aus == [] and len(face.landmarks) == 478


@needs_shared
def test_cli_takes_the_backend_flags(astronaut):
    def cli(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "fea_agent", "analyze", str(astronaut), "--json", *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = cli("--detector", "mediapipe", "--reasoner", "none")
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert len(result["faces"]) == 1 and result["faces"][0]["reasoning"] is None
    assert "reasoning" not in result["timings_ms"]
    bad = cli("--detector", "haar")
    assert bad.returncode == 2 and "invalid choice: 'haar'" in bad.stderr


@needs_shared
def test_explain_emotion_from_aus_with_an_image_reasoner_says_it_needs_the_image():
    from fea_agent.agent_tools import TOOL_SPECS, ToolContext

    options = {"base_url": "http://127.0.0.1:9/v1", "model": "any"}
    with (
        FEAPipeline(reasoner="openai", reasoner_options=options) as served,
        pytest.raises(InvalidInputError, match=r"'openai' reasoner .* needs image="),
    ):
        TOOL_SPECS["explain_emotion"].run(ToolContext(served), {"action_units": ["AU6", "AU12"]})
