"""Live input: a file played at its frame rate, frames dropped (not queued) when the analysis is slower, the
last line's count; a clip made from a sample photo here, and the shared clip through the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from conftest import ASTRONAUT, NO_FACE, VIDEO, needs_shared

from fea_agent.errors import InvalidInputError
from fea_agent.video.episodes import EpisodeEvent
from fea_agent.video.live import LiveSession, parse_source

LAST_LINE = re.compile(r"^(\d+) frames, (\d+) dropped in ([\d.]+) s")
FPS, FRAMES = 15.0, 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Two seconds at 15 frames/s: the astronaut, then a photo without a face."""
    path = tmp_path_factory.mktemp("live") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (512, 512))
    face = cv2.imread(str(ASTRONAUT))
    empty = cv2.resize(cv2.imread(str(NO_FACE)), (512, 512))
    for i in range(FRAMES):
        writer.write(face if i < FRAMES // 2 else empty)
    writer.release()
    return path


class SlowPipeline:
    """The real pipeline on a machine four times too slow for the clip: each frame takes 0.25 s more."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline

    def analyze(self, image, *, source=None):
        return self.pipeline.analyze(image, source=source)

    def run_video(self, frames, **options):
        for result in self.pipeline.run_video(frames, **options):
            time.sleep(0.25)
            yield result


def test_a_file_plays_at_its_frame_rate_and_ends(pipeline, clip):
    results = []
    session = LiveSession(str(clip), pipeline)
    assert session.is_file and session.fps == pytest.approx(FPS)
    stats = session.run(results.append)
    assert stats.frames + stats.dropped == FRAMES
    assert stats.seconds >= (FRAMES - 1) / FPS * 0.95  # paced like a camera, not as fast as it can read
    assert [r.frame_index for r in results] == sorted(r.frame_index for r in results)
    faces = [len(r.faces) for r in results]
    first_empty = next(r.frame_index for r in results if not r.faces)
    assert first_empty >= FRAMES // 2 and faces[0] == 1
    assert results[0].faces[0].expression.label == "happiness"
    # VIDEO mode: the face is tracked, so every frame that shows it gives it the same id.
    assert {f.face_id for r in results for f in r.faces} == {0}
    assert results[-1].timestamp_s == pytest.approx(results[-1].frame_index / FPS, abs=1e-3)


def test_episode_events_come_as_they_happen_with_the_latency_the_docs_state(pipeline, clip):
    events: list[EpisodeEvent] = []
    LiveSession(str(clip), pipeline).run(on_event=events.append)
    smile = [e for e in events if e.face_id == 0 and e.episode.kind == "expression"]
    assert [e.event for e in smile] == ["start", "end"] and smile[0].episode.label == "happiness"
    start, end = smile
    # Known with the frame whose interval reaches min_duration_s (0.3 s) past the onset, and merge_gap_s
    # (0.3 s) past the offset: up to one frame sooner.
    assert 0.3 - 1 / FPS - 1e-3 <= start.at_s - start.episode.onset_s <= 0.3 + 1e-3
    assert abs((end.episode.offset_s or 0) - FRAMES // 2 / FPS) <= 1 / FPS + 1e-3
    assert 0.3 - 1 / FPS - 1e-3 <= end.at_s - (end.episode.offset_s or 0) <= 0.3 + 1e-3
    assert [e.event for e in events if e.face_id is None] == ["start", "end"]  # the photo without a face


def test_a_slow_analysis_drops_frames_instead_of_falling_behind(pipeline, clip):
    stats = LiveSession(str(clip), SlowPipeline(pipeline)).run()
    assert stats.frames + stats.dropped == FRAMES
    assert stats.dropped >= FRAMES // 2  # it could analyse only every third or fourth frame
    # Queued, 30 frames at 0.25 s would end 7.5 s in; dropped, it ends with the clip plus one analysis.
    assert stats.seconds < FRAMES / FPS + 1.5
    assert stats.max_latency_s < 1.0


def test_max_frames_and_bad_sources(pipeline, clip, tmp_path):
    assert LiveSession(str(clip), pipeline, max_frames=3).run().frames == 3
    assert parse_source("0") == 0 and parse_source("rtsp://camera/stream") == "rtsp://camera/stream"
    with pytest.raises(InvalidInputError, match="no such file"):
        parse_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(InvalidInputError, match="is a folder"):
        parse_source(str(tmp_path))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(InvalidInputError, match="not a video"):
        LiveSession(str(text), pipeline)


def test_fifos_devices_playlists_and_file_urls_are_refused_at_once(pipeline, clip, tmp_path):
    import os

    fifo = tmp_path / "camera.mp4"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer for ever
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{clip}\n#EXT-X-ENDLIST\n")
    cases = {
        str(fifo): "FIFO",
        "/dev/null": "character device",
        str(playlist): "not a video",
        f"file://{clip}": "file:// is not a stream source",
        "concat:a.mp4|b.mp4": "no such file",
    }
    for source, words in cases.items():
        started = time.monotonic()
        with pytest.raises(InvalidInputError, match=words):
            LiveSession(source, pipeline)
        assert time.monotonic() - started < 1, source


def test_a_stream_may_not_read_local_files_but_plays_its_own_segments(pipeline, clip, tmp_path, file_server):
    segment = tmp_path / "seg.ts"
    writer = cv2.VideoWriter(str(segment), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (256, 256))
    frame = cv2.resize(cv2.imread(str(ASTRONAUT)), (256, 256))
    for _ in range(8):
        writer.write(frame)
    writer.release()
    head = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:0.5,\n"
    (tmp_path / "own.m3u8").write_text(head + "seg.ts\n#EXT-X-ENDLIST\n")
    (tmp_path / "local.m3u8").write_text(head + f"file://{segment}\n#EXT-X-ENDLIST\n")
    base = file_server(tmp_path)
    assert LiveSession(f"{base}/own.m3u8", pipeline, max_frames=2).run().frames == 2
    with pytest.raises(InvalidInputError, match="cannot open"):
        LiveSession(f"{base}/local.m3u8", pipeline)


def _live(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fea_agent", "live", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_prints_rows_and_the_count_and_writes_rows(clip, tmp_path):
    out = tmp_path / "live.csv"
    proc = _live("--source", str(clip), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    n, m, _ = LAST_LINE.match(lines[-1]).groups()
    assert int(n) + int(m) == FRAMES and len(lines) == int(n) + 1
    assert "happiness" in lines[0] and "no face" in lines[-2]
    assert len(out.read_text().splitlines()) == int(n) + 1  # header and one row per analysed frame
    missing = _live("--source", str(tmp_path / "missing.mp4"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


@needs_shared
@pytest.mark.slow
def test_cli_keeps_up_with_the_shared_clip_and_keeps_one_face_id(tmp_path):
    import pandas as pd

    out = tmp_path / "live.csv"
    capture = cv2.VideoCapture(str(VIDEO))
    total, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    proc = _live("--source", str(VIDEO), "--quiet", "--events", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    *events, last = proc.stdout.strip().splitlines()
    n, m, seconds = LAST_LINE.match(last).groups()
    # --events: each episode's start, then its end, as JSON lines; the hand over her face among them.
    parsed = [EpisodeEvent.model_validate_json(line) for line in events]
    starts = [
        (e.face_id, e.episode.kind, e.episode.label, e.episode.onset_s) for e in parsed if e.event == "start"
    ]
    ends = [e for e in parsed if e.event == "end"]
    assert ends and all(
        (e.face_id, e.episode.kind, e.episode.label, e.episode.onset_s) in starts for e in ends
    )
    hand = next(e.episode for e in ends if e.episode.kind == "occluded")
    assert abs(hand.onset_s - 2.45) < 0.5 and abs((hand.offset_s or 0) - 9.45) < 0.5
    assert int(n) + int(m) == total and int(n) > 0
    assert float(seconds) < total / fps * 1.1 + 1  # in step with the clip's own clock
    rows = pd.read_csv(out)
    # One woman through the whole clip: one face_id, as `fea-agent video` gives (tests/test_video.py).
    assert set(rows["face_id"].dropna().astype(int)) == {0}
    print(f"live on the shared clip: {proc.stdout.strip()}")


def test_preview_without_a_display_is_refused_before_anything_opens(clip, tmp_path, monkeypatch, pipeline):
    """OpenCV's Qt aborts the process (exit 134) on a machine without a display, after OUT was created with
    only its header; the preview is refused first, and OUT never made."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "live.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "fea_agent", "live", "--source", str(clip), "--preview", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-500:])
    assert "--preview needs a display" in proc.stderr and "$DISPLAY" in proc.stderr
    assert not out.exists()
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(InvalidInputError, match="needs a display"):
        LiveSession(str(clip), pipeline, preview=True)
