"""The agent-tool layer: the image resolver's policy and errors, and each tool on real photos."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from conftest import EDGE, PHOTO_DIRS, SEVEN_TOOLS, VIDEO, needs_shared

from fea_agent.agent_tools import (
    TOOL_SPECS,
    ImagePolicy,
    ToolContext,
    render_output,
    resolve_image,
    tools_for,
)
from fea_agent.errors import InvalidInputError


@pytest.fixture(scope="module")
def astronaut_b64(astronaut: Path) -> str:
    return base64.b64encode(astronaut.read_bytes()).decode()


@pytest.fixture(scope="module")
def ctx(pipeline) -> ToolContext:
    return ToolContext(pipeline, ImagePolicy.allowing(*PHOTO_DIRS))


# -- the resolver, no models -------------------------------------------------------------------------------


def test_tool_sets_cover_the_seven_tools():
    assert set(TOOL_SPECS) == SEVEN_TOOLS
    assert {s.name for s in tools_for("perception")} >= {"analyze_face", "detect_faces", "analyze_video"}
    assert {s.name for s in tools_for("reasoning")} == {
        "analyze_face",
        "explain_emotion",
        "describe_action_unit",
    }
    with pytest.raises(ValueError, match="unknown tool set"):
        tools_for("everything")


def test_base64_data_uri_and_urlsafe_resolve_to_the_same_bytes(astronaut: Path):
    raw = astronaut.read_bytes()
    plain = base64.b64encode(raw).decode()
    assert resolve_image(plain).data == raw
    assert resolve_image(f"data:image/png;base64,{plain}").data == raw
    assert resolve_image(base64.urlsafe_b64encode(raw).decode().rstrip("=")).data == raw
    wrapped = "\n".join(plain[i : i + 76] for i in range(0, len(plain), 76))
    assert resolve_image(wrapped).data == raw


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "image is empty"),
        ("!!!definitely not base64!!!", "not valid base64: character '!'"),
        ("data:text/plain;base64,aGVsbG8=", "data URI of type text/plain, not an image"),
        ("data:image/png,rawbytes", "without ';base64'"),
        ("photo.jpg", "accepts no file paths"),
    ],
)
def test_bad_image_strings_are_refused_with_the_reason(value: str, message: str):
    with pytest.raises(InvalidInputError, match=message):
        resolve_image(value)


def test_paths_outside_the_allowed_dirs_are_refused(tmp_path: Path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"x")
    (allowed / "escape.png").symlink_to(secret)
    policy = ImagePolicy.allowing(allowed)
    for value in (
        str(secret),
        str(allowed / ".." / "secret.png"),
        "../secret.png",
        str(allowed / "escape.png"),
    ):
        with pytest.raises(InvalidInputError, match="outside the allowed directories"):
            resolve_image(value, policy)
    (allowed / "ok.png").write_bytes(b"png")
    assert resolve_image("ok.png", policy).data == b"png"  # found in the allowed directory


def test_a_relative_path_is_looked_for_in_the_current_folder_then_each_allowed_one(tmp_path, monkeypatch):
    """As the user typed it: from the current folder when that is inside an allowed directory (a shell in
    ~/Pictures/trip), else in the allowed directories in order; not found, the refusal names them all."""
    first, second = tmp_path / "first", tmp_path / "second"
    trip = second / "trip"
    trip.mkdir(parents=True)
    first.mkdir()
    (trip / "beach.png").write_bytes(b"from the current folder")
    (second / "beach.png").write_bytes(b"from the second allowed folder")
    (second / "only-here.png").write_bytes(b"second")
    policy = ImagePolicy.allowing(first, second)
    monkeypatch.chdir(trip)
    assert policy.search_dirs() == [trip.resolve(), first.resolve(), second.resolve()]
    assert resolve_image("beach.png", policy).data == b"from the current folder"
    assert resolve_image("./beach.png", policy).data == b"from the current folder"
    assert resolve_image("only-here.png", policy).data == b"second"  # not here: the allowed ones in turn
    assert resolve_image("../only-here.png", policy).data == b"second"  # ".." from here, still allowed
    with pytest.raises(InvalidInputError) as refused:
        resolve_image("missing.png", policy)
    message = str(refused.value)
    assert f"missing.png: no such file in {trip.resolve()}, {first.resolve()}, {second.resolve()}" in message
    monkeypatch.chdir(tmp_path)  # outside every allowed folder: the current folder is not searched
    assert policy.search_dirs() == [first.resolve(), second.resolve()]
    assert resolve_image("beach.png", policy).data == b"from the second allowed folder"
    with pytest.raises(InvalidInputError, match="outside the allowed directories"):
        resolve_image("../secret.png", policy)


def test_oversized_input_is_refused_before_decoding():
    policy = ImagePolicy(max_bytes=1000)
    with pytest.raises(InvalidInputError, match="above the limit of 1,000"):
        resolve_image("A" * 4000, policy)


def test_invalid_arguments_name_the_field(ctx: ToolContext):
    with pytest.raises(InvalidInputError, match="max_faces"):
        TOOL_SPECS["analyze_face"].parse({"image": "x", "max_faces": 0})
    with pytest.raises(InvalidInputError, match="image: Field required"):
        TOOL_SPECS["detect_faces"].parse({})


# -- the tools on real photos ------------------------------------------------------------------------------


def test_analyze_face_on_the_astronaut(ctx: ToolContext, astronaut_b64: str):
    result = TOOL_SPECS["analyze_face"].call(ctx, {"image": astronaut_b64})
    face = result.output.faces[0]
    assert face.expression.label == "happiness"
    assert face.reasoning.text.startswith("Happiness.")
    assert "AU12" in face.reasoning.text
    assert face.landmarks == [] and face.blendshapes == {}  # left out by default: large, rarely needed
    assert result.image.mime_type == "image/jpeg" and result.image.data[:2] == b"\xff\xd8"
    full = TOOL_SPECS["analyze_face"].call(
        ctx,
        {"image": astronaut_b64, "include_landmarks": True, "include_blendshapes": True, "annotate": False},
    )
    assert len(full.output.faces[0].landmarks) == 478 and len(full.output.faces[0].blendshapes) == 52
    assert full.image is None


@needs_shared
def test_an_answer_from_aus_alone_says_so_where_it_differs_from_the_photo(ctx: ToolContext):
    photo = str(EDGE / "pexels_surprised.jpeg")
    full = TOOL_SPECS["analyze_face"].run(ctx, {"image": photo, "annotate": False}).faces[0]
    aus = TOOL_SPECS["detect_action_units"].run(ctx, {"image": photo}).faces[0].aus
    observed = [{"code": a.code, "intensity": a.intensity, "probability": a.probability} for a in aus]
    from_aus = TOOL_SPECS["explain_emotion"].run(ctx, {"action_units": observed})
    from_photo = TOOL_SPECS["explain_emotion"].run(ctx, {"image": photo})
    assert from_photo.note is None and from_photo.faces[0].reasoning.label == full.reasoning.label
    # The AU-only path lacks the expression model's appearance and shape inputs, and its answer says so.
    assert from_aus.note is not None and "analyze_face" in from_aus.note
    print(f"pexels_surprised: photo {full.reasoning.label}, AUs alone {from_aus.faces[0].reasoning.label}")


@needs_shared
def test_detect_faces_counts_a_group_photo(ctx: ToolContext):
    group = EDGE / "pexels_group.jpeg"
    out = TOOL_SPECS["detect_faces"].run(ctx, {"image": str(group), "annotate": False})
    assert len(out.faces) >= 3
    areas = [f.bbox.width * f.bbox.height for f in out.faces]
    assert areas == sorted(areas, reverse=True)


def test_stage_tools_on_the_astronaut(ctx: ToolContext, astronaut: Path):
    image = str(astronaut)
    aus = TOOL_SPECS["detect_action_units"].run(ctx, {"image": image, "present_only": True})
    present = {a.code for a in aus.faces[0].aus}
    assert "AU12" in present and all(a.present for a in aus.faces[0].aus)
    expr = TOOL_SPECS["classify_expression"].run(ctx, {"image": image})
    face = expr.faces[0]
    assert face.appearance.source == "appearance" and face.appearance.label == "happiness"
    assert face.fused.source == "fused" and face.fused.label == "happiness"
    alone = TOOL_SPECS["classify_expression"].run(ctx, {"image": image, "fuse_with_action_units": False})
    assert alone.faces[0].fused is None


def test_explain_emotion_from_action_units_a_client_has(ctx: ToolContext):
    out = TOOL_SPECS["explain_emotion"].run(
        ctx, {"action_units": ["AU1", "AU4", {"code": "AU15", "intensity": 3}]}
    )
    assert out.source == "action_units"
    assert out.faces[0].reasoning.label == "sadness"
    assert out.faces[0].bbox is None
    assert "action units alone" in out.note and "image=" in out.note
    assert out.note in render_output(out)
    with pytest.raises(InvalidInputError, match="exactly one of image or action_units"):
        TOOL_SPECS["explain_emotion"].run(ctx, {})
    with pytest.raises(InvalidInputError, match="AU99 is not in the catalogue"):
        TOOL_SPECS["explain_emotion"].run(ctx, {"action_units": ["AU99"]})
    with pytest.raises(InvalidInputError, match="unknown labels"):
        TOOL_SPECS["explain_emotion"].run(ctx, {"action_units": ["AU12"], "appearance": {"joy": 1.0}})


def test_describe_action_unit_reads_the_catalogue(ctx: ToolContext):
    out = TOOL_SPECS["describe_action_unit"].run(ctx, {"code": "6+au12"})
    six, twelve = out.action_units
    assert (six.code, twelve.code) == ("AU06", "AU12")
    assert (
        twelve.name == "Lip corner puller"
        and "happiness" in twelve.core_of
        and "sadness" in twelve.contradicts
    )
    assert len(TOOL_SPECS["describe_action_unit"].run(ctx, {"code": "all"}).action_units) >= 20


def test_empty_and_text_files_are_refused_by_name(pipeline, tmp_path: Path):
    ctx = ToolContext(pipeline, ImagePolicy.allowing(tmp_path))
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a picture\n")
    with pytest.raises(InvalidInputError, match="file is empty"):
        TOOL_SPECS["analyze_face"].run(ctx, {"image": str(tmp_path / "empty.jpg")})
    with pytest.raises(InvalidInputError, match="not an image"):
        TOOL_SPECS["analyze_face"].run(ctx, {"image": str(tmp_path / "notes.txt")})


def test_analyze_video_refuses_inline_and_outside_paths(ctx: ToolContext):
    with pytest.raises(InvalidInputError, match="outside the allowed directories"):
        TOOL_SPECS["analyze_video"].run(ctx, {"video": os.devnull})


@needs_shared
def test_analyze_video_summarises_the_real_video(ctx: ToolContext):
    seen: list[tuple[int, int | None]] = []
    run_ctx = ctx.with_progress(lambda done, total: seen.append((done, total)))
    result = TOOL_SPECS["analyze_video"].run(run_ctx, {"video": str(VIDEO), "stride": 10, "max_frames": 6})
    assert result.frames_analysed == 6 == result.summary.frames
    assert [f.face_id for f in result.summary.faces] == [0]  # one woman, tracked through the six frames
    assert seen, "progress was never reported"
