"""The Gradio demo, launched on localhost and driven by gradio_client: photos, a video, a bad file, the MCP
endpoints' functions, and nothing uploaded left behind."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from conftest import ASTRONAUT, NEUTRAL_FACE, NO_FACE, SEVEN_TOOLS, VIDEO, needs_shared  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _analyze(client: Client, path: Path) -> dict:
    """The demo's analyze_face endpoint, as an MCP client calls it: base64 in, the tool's JSON out."""
    return json.loads(client.predict(image=_b64(path), api_name="/analyze_face"))


@pytest.fixture(scope="module")
def app(pipeline):
    from fea_agent.demo import build_app, launch

    demo = build_app(pipeline, reasoners=("facs", "openai"))
    _, url, _ = launch(demo, port=None, prevent_thread_lock=True, quiet=True)
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def client(app):
    return Client(app[1], verbose=False)


def _cache_files() -> list[Path]:
    """Files in the demo's cache folder, but for its lock and the CSVs it writes for the download button."""
    from fea_agent.demo.uploads import LOCK_NAME

    cache = Path(os.environ["GRADIO_TEMP_DIR"])
    return [p for p in cache.rglob("*") if p.is_file() and p.parent.name != "csv" and p.name != LOCK_NAME]


def test_astronaut_is_happiness_with_cited_aus_and_no_upload_kept(client, astronaut):
    started = time.perf_counter()
    result = _analyze(client, astronaut)
    elapsed = time.perf_counter() - started
    face = result["faces"][0]
    assert face["reasoning"]["label"] == "happiness"
    assert face["reasoning"]["text"].startswith("Happiness.")
    assert "AU12" in face["reasoning"]["text"]
    assert {a["code"] for a in face["aus"] if a["present"]} >= {"AU12"}
    assert face["landmarks"] == []  # kept out of the tool answer, as over fea-agent serve mcp
    assert _cache_files() == [], "nothing of the photo may be kept"
    print(f"astronaut via gradio_client (base64 + analysis + answer): {elapsed:.2f} s")


def test_min_confidence_through_the_demo_endpoint_and_on_the_page(client, pipeline):
    from fea_agent.demo import views

    answer = json.loads(
        client.predict(image=_b64(NEUTRAL_FACE), min_confidence=0.99, api_name="/analyze_face")
    )
    face = answer["faces"][0]
    assert face["expression"]["label"] is None and face["reasoning"]["label"] == "abstain"
    a, b = face["expression"]["uncertain_between"]
    assert face["reasoning"]["text"].startswith(f"Uncertain between {a} (")
    # The page: headline and face list say uncertain between the two, and name neither as the answer.
    result = pipeline.run(NEUTRAL_FACE, min_confidence=0.99).result
    headline = views.headline_html(result.faces[0], 0, 1)
    assert f"Uncertain: {a} or {b}" in headline and "neither is named" in headline
    assert views.face_choices(result) == [(f"Face 1: uncertain ({a}/{b})", 0)]


def test_photo_without_a_face_gives_an_empty_list(client):
    assert _analyze(client, NO_FACE)["faces"] == []


def test_bad_file_is_a_clear_message_and_the_app_stays_up(client, tmp_path, astronaut):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(Exception, match=r"not an image"):
        _analyze(client, bad)
    assert _cache_files() == []
    # the server goes on
    assert _analyze(client, astronaut)["faces"]


def test_compare_names_the_aus_that_changed(client):
    out = client.predict(
        handle_file(str(NEUTRAL_FACE)),
        handle_file(str(ASTRONAUT)),
        api_name="/compare_faces",
    )
    out = json.loads(out)
    assert out["b"] == "happiness"
    stronger = {c["action unit"].split()[0] for c in out["changes"] if c["change"] > 0}
    assert "AU12" in stronger


def test_describe_action_unit_and_unknown_code(client):
    out = json.loads(client.predict(code="au12", api_name="/describe_action_unit"))
    assert out["action_units"][0]["name"] == "Lip corner puller"
    with pytest.raises(Exception, match="AU99 is not in the catalogue"):
        client.predict(code="AU99", api_name="/describe_action_unit")


def test_only_the_tool_endpoints_are_public(client):
    """The catalogue's tools under their own names, but for analyze_video (it reads a path, and the demo
    allows none), and the demo-only compare_faces."""
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {f"/{name}" for name in SEVEN_TOOLS - {"analyze_video"}} | {"/compare_faces"}


@needs_shared
def test_video_gives_summary_plots_and_csv_and_deletes_the_clip(client):
    pytest.importorskip("pandas")
    started = time.perf_counter()
    summary, _face, aus, exprs, csv = client.predict(  # the session state is not returned
        handle_file(str(VIDEO)), 4, True, api_name="/analyze_video_clip"
    )
    elapsed = time.perf_counter() - started
    assert "frames analysed" in summary and "fea-label" in summary
    assert aus["data"], "the AU-over-time plot has points"
    assert exprs["data"]
    csv_text = Path(csv["value"]).read_text()  # the download button comes back as an update
    header = csv_text.splitlines()[0].split(",")
    assert {"timestamp", "face_id", "AU12", "happiness"} <= set(header)
    assert len(csv_text.splitlines()) > 100  # 472 frames, every 4th
    assert _cache_files() == [], "the uploaded clip must be deleted after analysis"
    print(f"video, every 4th frame, via gradio_client: {elapsed:.1f} s")


def test_video_that_is_not_a_video_is_a_clear_message(client, tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00" * 2048)
    with pytest.raises(Exception, match=r"clip\.mp4"):
        client.predict(handle_file(str(bad)), 1, True, api_name="/analyze_video_clip")


def test_unavailable_reasoners_fold_into_one_line_below_the_photo():
    from fea_agent.demo import image_tab, views

    folded = views.reasoners_html({"feallm": "needs torch", "vlm": "needs a model", "openai": "no server"})
    assert folded.startswith("<details") and "<details open" not in folded
    assert "Not available here: feallm, vlm, openai</summary>" in folded and "needs torch" in folded
    source = Path(image_tab.__file__).read_text()
    assert source.index('elem_id="fea-photo"') < source.index("reasoners_html(")


def test_compare_the_same_photo_on_both_sides_reads_it_once(client):
    """gradio_client uploads one file once; both arguments name it, and the first read must not delete it
    from under the second."""
    out = json.loads(
        client.predict(handle_file(str(ASTRONAUT)), handle_file(str(ASTRONAUT)), api_name="/compare_faces")
    )
    assert out["a"] == out["b"] == "happiness"
    assert out["changes"] == []
    assert _cache_files() == []


def test_every_event_that_takes_an_upload_gets_it_raw(app):
    """Gradio's own preprocessing would decode an upload and leave its file behind; each handler reads and
    deletes it instead, so each such event must pass preprocess=False."""
    import gradio as gr

    takes_upload = [
        fn for fn in app[0].fns.values() if any(isinstance(b, gr.Image | gr.Video) for b in fn.inputs)
    ]
    assert len(takes_upload) >= 5  # the photo, Compare's two, the clip, compare_faces (and the API clip)
    assert [fn.name for fn in takes_upload if fn.preprocess] == []
