"""Video on the real clip in ../shared/data (a woman through several expressions, 472 frames, 640x360).

The clip is analysed with a stride so the tests stay quick; identity, timing, smoothing, the baseline, the
summary and the DataFrame are all checked on those real frames.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import EDGE, VIDEO, needs_shared

from fea_agent import InvalidInputError
from fea_agent.perception.yunet import Detection
from fea_agent.pipeline.tracking import FaceTracker
from fea_agent.results import EXPRESSION_LABELS, VideoSummary
from fea_agent.video import VideoReader, summarize, to_dataframe

pytestmark = needs_shared

STRIDE = 6
FPS = 23.976


@pytest.fixture(scope="module")
def clip(pipeline):
    """The whole clip at every 6th frame, tracked, with the progress calls recorded."""
    calls: list[tuple[int, int | None]] = []
    results = list(pipeline.analyze_video(VIDEO, stride=STRIDE, progress=lambda d, t: calls.append((d, t))))
    return results, calls


def test_one_face_id_through_the_whole_clip(clip):
    results, _ = clip
    assert len(results) == 79  # ceil(472 / 6)
    assert all(len(r.faces) == 1 for r in results)
    assert {f.face_id for r in results for f in r.faces} == {0}


def test_frames_carry_their_index_and_time(clip):
    results, _ = clip
    assert [r.frame_index for r in results] == list(range(0, 472, STRIDE))
    for r in results:
        assert r.timestamp_s == pytest.approx(r.frame_index / FPS, abs=1e-3)
        assert (r.image.width, r.image.height) == (640, 360)
        assert r.source == str(VIDEO)
    assert results[-1].timestamp_s == pytest.approx(19.5, abs=0.1)


def test_progress_reports_done_and_total(clip):
    _, calls = clip
    assert calls[0] == (1, 79) and calls[-1] == (79, 79)
    assert [d for d, _ in calls] == list(range(1, 80))


def test_tracked_faces_are_fully_analysed(clip):
    results, _ = clip
    for r in results:
        face = r.faces[0]
        assert len(face.landmarks) == 478 and face.head_pose is not None
        assert face.expression is not None and face.reasoning is not None
        xy = np.array(face.landmarks)[:, :2]
        # the box follows the face: this frame's landmarks, framed like the detector's box (more forehead)
        assert face.bbox.x == pytest.approx(xy[:, 0].min(), abs=0.2)
        assert face.bbox.x + face.bbox.width == pytest.approx(xy[:, 0].max(), abs=0.2)
        assert face.bbox.y + face.bbox.height == pytest.approx(
            xy[:, 1].max(), abs=0.2 + 0.01 * face.bbox.height
        )
        assert face.bbox.y < xy[:, 1].min()
        assert 150 < face.bbox.height < 400


def test_tracking_agrees_with_detecting_every_frame(pipeline):
    tracked = list(pipeline.analyze_video(VIDEO, stride=20, max_frames=12))
    detected = list(pipeline.analyze_video(VIDEO, stride=20, max_frames=12, tracking=False))
    assert "detect" not in tracked[1].timings_ms  # between detector runs, the landmarker follows the face
    assert all("detect" in r.timings_ms for r in detected)
    gaps, confident_pairs = [], []
    for a, b in zip(tracked, detected, strict=True):
        fa, fb = a.faces[0], b.faces[0]
        assert fb.face_id == 0
        ca = np.array([fa.bbox.x + fa.bbox.width / 2, fa.bbox.y + fa.bbox.height / 2])
        cb = np.array([fb.bbox.x + fb.bbox.width / 2, fb.bbox.y + fb.bbox.height / 2])
        assert np.linalg.norm(ca - cb) < 0.2 * fb.bbox.height
        assert fa.bbox.height == pytest.approx(fb.bbox.height, rel=0.2)
        gaps.append([abs(fa.au(c).intensity - fb.au(c).intensity) for c in ("AU01", "AU06", "AU12", "AU25")])
        # confident: the top label leads the runner-up by 0.3 in both modes (a blended sad-and-disgusted
        # frame, close between its two labels, may tip either way)
        margins = [np.diff(sorted(f.expression.probabilities.values())[-2:])[0] for f in (fa, fb)]
        if min(margins) >= 0.3:
            confident_pairs.append((fa.expression.label, fb.expression.label))
    # the two landmarker modes differ frame by frame (on the 0-5 scale), but not on average
    assert np.mean(gaps, axis=0).max() < 0.8
    # where both modes are confident they name the same expression (the low-confidence frames of a blended
    # expression may tip either way; how many pass 0.35 moves with the landmarks backend: 5 to 7 of 12)
    assert len(confident_pairs) >= 5
    assert all(a == b for a, b in confident_pairs)


@pytest.mark.slow
def test_smoothing_steadies_the_au_signal(pipeline):
    raw = list(pipeline.analyze_video(VIDEO, max_frames=40))
    smooth = list(pipeline.analyze_video(VIDEO, max_frames=40, smooth=0.3))

    def wobble(results):
        series = np.array([[a.intensity for a in r.faces[0].aus] for r in results])
        return np.abs(np.diff(series, axis=0)).sum()

    assert wobble(smooth) < 0.7 * wobble(raw)
    assert smooth[0].faces[0].aus == raw[0].faces[0].aus  # the first frame has no past to average with
    probabilities = smooth[-1].faces[0].expression.probabilities
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-3)


def test_baseline_reads_change_from_the_calmest_frames(pipeline):
    results = list(pipeline.analyze_video(VIDEO, stride=8, baseline=True))
    first = results[0].faces[0]
    assert all(a.change_from_baseline == 0 for a in first.aus)  # its own baseline
    changes = np.array([[a.change_from_baseline for a in r.faces[0].aus] for r in results])
    intensities = np.array([[a.intensity for a in r.faces[0].aus] for r in results])
    assert (changes <= intensities + 1e-6).all()
    # by the end, the calmest frames sit near the baseline and the broad smiles well above it
    au12 = [a.code for a in first.aus].index("AU12")
    assert changes[-20:, au12].max() > 1.0
    assert np.abs(changes[-20:]).min() < 0.05


def test_summary_per_face(clip):
    results, _ = clip
    summary = summarize(results)
    assert isinstance(summary, VideoSummary)
    assert (summary.frames, summary.frames_with_faces) == (79, 79)
    assert summary.duration_s == pytest.approx(results[-1].timestamp_s)
    (face,) = summary.faces
    assert face.face_id == 0 and face.frames == 79
    assert face.dominant_expression in EXPRESSION_LABELS
    assert face.expression_share[face.dominant_expression] == max(face.expression_share.values())
    # A frame whose face cannot be read (the hand over her face) has no label: shares are of all frames.
    labelled = sum(r.faces[0].expression.label is not None for r in results)
    assert 70 < labelled <= 79
    assert sum(face.expression_share.values()) == pytest.approx(labelled / 79, abs=1e-3)
    assert set(face.au_activation) >= {"AU01", "AU06", "AU12", "AU25"}
    assert all(0 <= v <= 1 for v in face.au_activation.values())
    peak = face.au_peaks["AU12"]
    at_peak = next(r for r in results if r.frame_index == peak.frame_index)
    assert at_peak.faces[0].au("AU12").intensity == pytest.approx(peak.value)
    assert peak.value == max(r.faces[0].au("AU12").intensity for r in results)


def test_dataframe_has_py_feat_style_columns(clip):
    results, _ = clip
    df = to_dataframe(iter(results))
    assert len(df) == 79
    for column in ("timestamp", "frame", "face_id", "x", "y", "width", "height", "yaw", "pitch", "roll"):
        assert column in df.columns
    assert {"AU01", "AU02", "AU04", "AU06", "AU12", "AU12_prob", "AU25"} <= set(df.columns)
    assert set(EXPRESSION_LABELS) - {"contempt"} <= set(df.columns)
    assert str(df["face_id"].dtype) == "Int64" and (df["face_id"] == 0).all()
    assert df["timestamp"].is_monotonic_increasing
    # An unreadable face's row keeps its box but no AUs or label that would look trustworthy.
    usable = df["usable"].astype(bool)
    assert usable.sum() > 70
    read = df[usable]
    assert read["AU12"].between(0, 5).all() and read["AU12_prob"].between(0, 1).all()
    assert read["expression"].isin(EXPRESSION_LABELS).all()
    assert df.loc[~usable, "AU12"].isna().all() and df.loc[~usable, "expression"].isna().all()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.mp4", "no such file"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: _write(tmp / "empty.mp4", b""), "empty"),
        (lambda tmp: _write(tmp / "notes.mp4", b"just some text, not a video\n" * 20), "not a video"),
        (lambda tmp: _write(tmp / "cut.mp4", VIDEO.read_bytes()[:2000]), "video"),
        (lambda tmp: EDGE / "skimage_astronaut.png", "still image"),
    ],
)
def test_bad_video_input_fails_at_the_call_with_a_clear_error(pipeline, tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(InvalidInputError, match=message) as info:
        pipeline.analyze_video(path)  # not iterated: the error comes at the call
    assert str(path) in str(info.value)


def test_reader_stride_and_frame_cap():
    reader = VideoReader(VIDEO, stride=100, max_frames=3)
    assert (reader.width, reader.height, reader.frame_count) == (640, 360, 472)
    assert reader.expected_frames == 3
    frames = list(reader)
    assert [f.index for f in frames] == [0, 100, 200]
    assert frames[0].rgb.shape == (360, 640, 3) and frames[0].rgb.dtype == np.uint8
    with pytest.raises(InvalidInputError, match="stride"):
        VideoReader(VIDEO, stride=0)


def test_tracker_keeps_ids_and_retires_lost_faces():
    def det(x: float) -> Detection:
        return Detection((x, 50.0, 100.0, 100.0), 0.9, np.zeros((5, 2), np.float32))

    tracker = FaceTracker(lost_timeout_s=1.0, max_faces=32)
    a, b = tracker.match([det(0), det(300)], 0.0)
    assert (a.face_id, b.face_id) == (0, 1)
    # the faces move a little and come in the other order: same ids
    b2, a2 = tracker.match([det(310), det(20)], 0.5)
    assert (a2.face_id, b2.face_id) == (0, 1)
    # face 1 leaves; face 0 stays; face 1 comes back after the timeout: a new id
    tracker.match([det(30)], 1.2)
    tracker.match([det(40)], 1.8)
    _, late = tracker.match([det(40), det(310)], 1.9)
    assert late.face_id == 2
    assert [t.face_id for t in tracker.tracks] == [0, 2]


def test_several_faces_keep_their_ids(pipeline, tmp_path):
    """The group photo panned across 12 frames (a temporary MP4): each person keeps one id."""
    import cv2

    from fea_agent.io.images import load_image

    rgb = load_image(EDGE / "pexels_group.jpeg").rgb
    height, width = rgb.shape[:2]
    path = tmp_path / "group.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width - 40, height))
    for i in range(12):
        writer.write(
            cv2.cvtColor(np.ascontiguousarray(rgb[:, 3 * i : 3 * i + width - 40]), cv2.COLOR_RGB2BGR)
        )
    writer.release()
    results = list(pipeline.analyze_video(path))
    assert len(results) == 12
    first = {f.face_id: f.bbox.x for f in results[0].faces}
    assert sorted(first) == [0, 1, 2, 3, 4]  # the detector's five, as on the photo
    for r in results:
        ids = [f.face_id for f in r.faces]
        assert len(ids) == len(set(ids)) and {0, 1, 3} <= set(ids) <= {0, 1, 2, 3, 4}
        for face in r.faces:
            # the picture pans 3 px a frame: each id stays on the same person
            assert abs(face.bbox.x + 3 * r.frame_index - first[face.face_id]) < 0.2 * face.bbox.width + 10


@pytest.mark.slow
def test_cli_writes_rows_and_prints_the_summary(tmp_path):
    out = tmp_path / "clip.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fea_agent",
            "video",
            str(VIDEO),
            "--out",
            str(out),
            "--stride",
            "24",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "20 frames analysed (20 with a face)" in done.stdout and "face 0: 20 frames" in done.stdout
    import pandas as pd

    df = pd.read_csv(out)
    assert len(df) == 20 and {"source", "error", "AU12", "happiness"} <= set(df.columns)
    bad = subprocess.run(
        [sys.executable, "-m", "fea_agent", "video", str(tmp_path / "nope.mp4")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "nope.mp4: no such file" in bad.stderr


@pytest.mark.slow
def test_cli_timeline_episodes_file_beside_the_openface_export_and_banded_plot(tmp_path):
    import pandas as pd

    from fea_agent.interchange import read_openface

    out, png = tmp_path / "clip.csv", tmp_path / "clip.png"
    args = ["--stride", "4", "--format", "openface", "--timeline", "--plot", str(png), "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "fea_agent", "video", str(VIDEO), "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert re.match(r"WolfgangLanger_Pexels.mp4: 19\.\d s, 118 frames analysed, 1 face\.\n", done.stdout)
    assert "- Face covered 2." in done.stdout and "- Happiness 9." in done.stdout
    assert len(read_openface(out)) == 118
    episodes = pd.read_csv(tmp_path / "clip_episodes.csv")
    assert f"episodes written to {tmp_path / 'clip_episodes.csv'}" in done.stderr
    assert list(episodes.columns[:5]) == ["source", "face_id", "kind", "label", "name"]
    assert {"expression", "action_unit", "occluded"} <= set(episodes["kind"])
    assert png.read_bytes()[:4] == b"\x89PNG"


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
