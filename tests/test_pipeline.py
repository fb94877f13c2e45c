"""The default pipeline on real photos (samples/ and ../shared/data): faces, landmarks, pose, AUs, expression."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ASTRONAUT, EDGE, NEUTRAL_FACE, NO_FACE, TINY_FACE, needs_shared
from PIL import Image

from fea_agent import FEAPipeline, ImageResult, InvalidInputError
from fea_agent.results import json_schema


def test_astronaut_smiles_with_cheeks_and_lip_corners(pipeline, astronaut):
    result = pipeline.analyze(astronaut)
    assert isinstance(result, ImageResult) and result.source == str(astronaut)
    assert (result.image.width, result.image.height) == (512, 512)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.expression.label == "happiness"
    au12, au06, au07 = face.au("AU12"), face.au("AU06"), face.au("AU07")
    assert au12.present and au12.intensity >= 2
    assert au06.present
    assert au07.intensity <= au06.intensity
    assert len(face.landmarks) == 478 and len(face.blendshapes) == 52
    xy = np.array(face.landmarks)[:, :2]
    assert (xy >= 0).all() and (xy[:, 0] < 512).all() and (xy[:, 1] < 512).all()
    # the landmarks sit inside the detector's box, give or take the forehead
    b = face.bbox
    assert b.x - 10 < xy[:, 0].mean() < b.x + b.width + 10
    assert face.quality.usable and face.quality.frontal
    assert abs(face.head_pose.yaw) < 15 and abs(face.head_pose.roll) < 15
    assert all(0 <= a.probability <= 1 and 0 <= a.intensity <= 5 for a in face.aus)
    assert abs(sum(face.expression.probabilities.values()) - 1) < 1e-3


def test_au_codes_cover_the_issue_list(pipeline, astronaut):
    codes = {a.code for a in pipeline.analyze(astronaut).faces[0].aus}
    wanted = {f"AU{n:02d}" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 43)}
    assert wanted <= codes


@needs_shared
def test_group_photo_finds_the_five_people(pipeline):
    result = pipeline.analyze(EDGE / "pexels_group.jpeg")
    assert len(result.faces) == 5
    # one of them is cut by the top edge of the photo
    assert any(f.bbox.y <= 0 for f in result.faces)
    # no box is larger than a head or on the table in the lower third
    assert all(f.bbox.y < result.image.height * 0.6 for f in result.faces)


@pytest.mark.parametrize(
    "path",
    [
        TINY_FACE,
        NEUTRAL_FACE,
        *(
            pytest.param(EDGE / name, marks=needs_shared)
            for name in (
                "webmorph_lisa_lisa2.jpg",
                "webmorph_lisa_lisa3.jpg",
                "webmorph_lisa_lisa4.jpg",
                "webmorph_zoom_15cm.jpg",
                "webmorph_zoom_60cm.jpg",
            )
        ),
    ],
    ids=lambda p: p.name,
)
def test_one_face_found_across_size_rotation_and_distance(pipeline, path):
    assert len(pipeline.analyze(path).faces) == 1


def test_tiny_face_is_flagged_and_abstains(pipeline):
    face = pipeline.analyze(TINY_FACE).faces[0]
    assert not face.quality.usable and "px" in face.quality.issues[0]
    assert face.reasoning.label == "abstain"


@needs_shared
def test_rotated_head_roll_sign(pipeline):
    # lisa3: head tilted counter-clockwise in the image (her left eye higher)
    pose = pipeline.analyze(EDGE / "webmorph_lisa_lisa3.jpg").faces[0].head_pose
    assert pose.roll < -10


@pytest.mark.parametrize(
    "path",
    [
        NO_FACE,
        *(
            pytest.param(EDGE / name, marks=needs_shared)
            for name in ("skimage_coffee.png", "skimage_chelsea.png", "pixabay_mountains-615428_640.jpg")
        ),
    ],
    ids=lambda p: p.name,
)
def test_no_face_is_a_normal_result(pipeline, path):
    result = pipeline.analyze(path)
    assert result.faces == []


def test_numpy_and_pil_inputs_match_the_path(pipeline, astronaut):
    rgb = np.asarray(Image.open(astronaut).convert("RGB"))
    a = pipeline.analyze(rgb).faces[0]
    b = pipeline.analyze(Image.open(astronaut)).faces[0]
    assert a.bbox == b.bbox and a.expression.label == b.expression.label == "happiness"


def test_analyze_many_keeps_going_past_a_bad_input(pipeline, astronaut):
    out = pipeline.analyze_many([astronaut, b"not an image", NO_FACE])
    assert isinstance(out[0], ImageResult) and isinstance(out[1], InvalidInputError)
    assert isinstance(out[2], ImageResult) and out[2].faces == []


def test_result_round_trips_through_json(pipeline, astronaut):
    result = pipeline.analyze(astronaut)
    again = ImageResult.model_validate_json(result.model_dump_json())
    assert again == result
    schema = json_schema()
    assert schema["properties"]["schema_version"]["default"] == "1.0"
    assert "ActionUnit" in schema["$defs"]


def test_perception_only_pipeline_keeps_appearance_expression():
    with FEAPipeline(reasoner=None) as p:
        face = p.analyze(ASTRONAUT).faces[0]
    assert face.reasoning is None and face.expression.source == "appearance"


def test_timings_are_reported(pipeline, astronaut):
    timings = pipeline.analyze(astronaut).timings_ms
    assert {"decode", "detect", "landmarks", "action_units", "expression", "reasoning", "total"} <= set(
        timings
    )
    assert timings["total"] >= timings["detect"]
