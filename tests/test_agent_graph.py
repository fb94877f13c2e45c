"""The offline agent graph (no language model) on real photos: one face, many faces, no face."""

from __future__ import annotations

import pytest
from conftest import EDGE, NO_FACE, needs_shared

from fea_agent.errors import InvalidInputError
from fea_agent.results import ImageResult


@pytest.fixture(scope="module")
def graph(pipeline):
    from fea_agent.agent import create_fea_agent

    return create_fea_agent(pipeline=pipeline)


def test_astronaut_result_is_happiness_citing_au12(graph, astronaut):
    out = graph.invoke({"image": str(astronaut)})
    result = out["result"]
    assert isinstance(result, ImageResult)
    assert out["face_count"] == len(result.faces) == 1
    face = result.faces[0]
    assert face.expression.label == "happiness"
    assert face.reasoning.label == "happiness"
    assert "AU12" in face.reasoning.text
    assert "AU12" in [e.au for e in face.reasoning.evidence]
    report = out["report"]
    assert isinstance(report, str)
    assert "happiness" in report and "AU12" in report and "1 face" in report


def test_graph_result_equals_the_pipeline(graph, pipeline, astronaut):
    direct = pipeline.analyze(astronaut)
    via_graph = graph.invoke({"image": astronaut})["result"]
    assert via_graph.model_dump(exclude={"timings_ms"}) == direct.model_dump(exclude={"timings_ms"})
    for stage in ("decode", "detect", "landmarks", "expression", "reasoning", "total"):
        assert stage in via_graph.timings_ms


def test_stream_updates_runs_each_node_in_order(graph, astronaut):
    updates = list(graph.stream({"image": str(astronaut)}, stream_mode="updates"))
    assert [next(iter(u)) for u in updates] == ["detect", "perceive", "reason", "report"]
    assert len(updates[0]["detect"]["detections"]) == 1
    assert updates[1]["perceive"]["faces"][0].reasoning is None  # perceived, not yet reasoned
    assert updates[2]["reason"]["faces"][0].reasoning.label == "happiness"


@needs_shared
def test_group_photo_has_many_faces(graph):
    out = graph.invoke({"image": str(EDGE / "pexels_group.jpeg")})
    assert out["face_count"] >= 5
    assert all(f.reasoning is not None for f in out["result"].faces)
    assert f"{out['face_count']} faces" in out["report"]


def test_no_face_photo_takes_the_no_face_branch(graph):
    path = NO_FACE
    updates = list(graph.stream({"image": str(path)}, stream_mode="updates"))
    assert [next(iter(u)) for u in updates] == ["detect", "no_face", "report"]
    out = graph.invoke({"image": str(path)})
    assert out["result"].faces == [] and out["face_count"] == 0
    assert "no face found" in out["report"]


def test_source_names_an_in_memory_image(graph, astronaut):
    out = graph.invoke({"image": astronaut.read_bytes(), "source": "upload.png"})
    assert out["result"].source == "upload.png"
    assert out["face_count"] == 1


def test_bad_input_raises_a_clear_error(graph, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(InvalidInputError, match="not an image"):
        graph.invoke({"image": str(bad)})
    with pytest.raises(InvalidInputError, match="no such file"):
        graph.invoke({"image": str(tmp_path / "missing.jpg")})


def test_tools_without_a_model_are_refused(pipeline):
    from fea_agent.agent import create_fea_agent

    with pytest.raises(ValueError, match="need a chat model"):
        create_fea_agent(tools=[], pipeline=pipeline)
