"""Batch runs over real photos, the real clip and a corrupt file: one output, resumable, failures recorded."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import EDGE, VIDEO, needs_shared

from fea_agent import InvalidInputError
from fea_agent.batch import ResultWriter, find_media, run_batch

pytestmark = needs_shared


@pytest.fixture
def folder(tmp_path):
    """Two photos, the clip, a corrupt JPEG and a note, in nested folders (links to the shared files)."""
    media = tmp_path / "media"
    (media / "clips").mkdir(parents=True)
    (media / "astronaut.png").symlink_to(EDGE / "skimage_astronaut.png")
    (media / "group.jpeg").symlink_to(EDGE / "pexels_group.jpeg")
    (media / "clips" / "clip.mp4").symlink_to(VIDEO)
    (media / "broken.jpg").write_bytes((EDGE / "pexels_angry.jpg").read_bytes()[:3000])
    (media / "notes.txt").write_text("not media")
    return media


def read(path):
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True)


def test_find_media_keeps_images_and_videos_only(folder):
    found = find_media(folder)
    assert sorted(p.rsplit("/", 1)[-1] for p in found) == [
        "astronaut.png",
        "broken.jpg",
        "clip.mp4",
        "group.jpeg",
    ]
    assert find_media(str(folder / "*.png")) == [str(folder / "astronaut.png")]
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        find_media(folder / "missing")


def test_batch_records_the_corrupt_file_and_resumes(pipeline, folder, tmp_path):
    out = tmp_path / "out.csv"
    report = run_batch(folder, out, pipeline=pipeline, video_options={"stride": 24}, progress=False)
    assert report.found == 4 and report.skipped == 0
    assert report.analysed == 3 and report.failed == [str(folder / "broken.jpg")]
    df = read(out)
    assert len(df) == report.rows == 1 + 5 + 20 + 1  # astronaut, group, 20 clip frames, the error row
    broken = df[df["source"] == str(folder / "broken.jpg")]
    assert len(broken) == 1 and "truncated or corrupt" in broken["error"].iloc[0]
    group = df[df["source"] == str(folder / "group.jpeg")]
    assert sorted(group["face_id"]) == [0, 1, 2, 3, 4] and group["error"].isna().all()
    clip = df[df["source"] == str(folder / "clips" / "clip.mp4")]
    assert list(clip["frame"]) == list(range(0, 472, 24)) and set(clip["face_id"]) == {0}
    assert df.loc[df["source"] == str(folder / "astronaut.png"), "expression"].iloc[0] == "happiness"

    again = run_batch(folder, out, pipeline=pipeline, progress=False)
    assert (again.skipped, again.analysed, again.rows, again.failed) == (4, 0, 0, [])
    assert len(read(out)) == len(df)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_resume_picks_up_new_files_in_every_format(pipeline, folder, tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    first = run_batch([str(folder / "astronaut.png")], out, pipeline=pipeline, progress=False)
    assert first.analysed == 1
    second = run_batch(
        [str(folder / "astronaut.png"), str(folder / "broken.jpg")], out, pipeline=pipeline, progress=False
    )
    assert (second.skipped, second.failed) == (1, [str(folder / "broken.jpg")])
    df = read(out)
    assert list(df["source"]) == [str(folder / "astronaut.png"), str(folder / "broken.jpg")]
    assert df["AU12"].iloc[0] > 1 and pd.isna(df["AU12"].iloc[1])
    assert not (tmp_path / f"out{suffix}.journal.jsonl").exists()


def test_a_line_cut_by_a_crash_is_done_again(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"source": "a.jpg", "error": None}) + "\n" + '{"source": "b.jp')
    with ResultWriter(out) as writer:
        assert writer.done_sources() == {"a.jpg"}


def test_bad_output_name_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match=r"\.csv, \.parquet or \.jsonl"):
        ResultWriter(tmp_path / "out.xlsx")


def test_cli_exit_code_says_a_file_failed(folder, tmp_path):
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "fea_agent",
        "batch",
        str(folder / "*.*"),
        "--out",
        str(out),
        "--no-progress",
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert first.returncode == 1, first.stderr
    assert (
        "3 files: 2 analysed, 1 failed" in first.stdout
        and "failed: " + str(folder / "broken.jpg") in first.stdout
    )
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0 and "3 already in" in second.stdout and "0 rows written" in second.stdout


@pytest.mark.slow
def test_ray_engine_with_two_workers(folder, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "out.parquet"
    files = [str(folder / "astronaut.png"), str(folder / "broken.jpg"), str(folder / "group.jpeg")]
    report = run_batch(files, out, engine="ray", workers=2, progress=False)
    import ray

    assert not ray.is_initialized()  # the local Ray it started is shut down again
    assert report.engine == "ray" and report.analysed == 2 and report.failed == [str(folder / "broken.jpg")]
    df = read(out)
    assert len(df) == 1 + 1 + 5
    assert (df["source"] == str(folder / "group.jpeg")).sum() == 5
