"""The `fea-agent` command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ASTRONAUT, NO_FACE
from PIL import Image


def fea(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fea_agent", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    bad = folder / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    out = folder / "annotated"
    args = [str(ASTRONAUT), str(bad), str(NO_FACE)]
    return fea("analyze", *args, "--json", "--out", str(out)), args, out


def test_json_is_the_only_stdout_one_object_per_input_in_order(batch_run):
    proc, args, _ = batch_run
    records = json.loads(proc.stdout)
    assert [r["source"] for r in records] == args
    face = records[0]["faces"][0]
    assert face["expression"]["label"] == "happiness"
    assert {"bbox", "score", "landmarks", "head_pose", "blendshapes", "aus", "expression", "quality"} <= set(
        face
    )
    au12 = next(a for a in face["aus"] if a["code"] == "AU12")
    assert {"code", "name", "probability", "present", "intensity"} <= set(au12)
    assert "error" in records[1] and "truncated or corrupt" in records[1]["error"]
    assert records[2]["faces"] == []


def test_bad_file_makes_a_non_zero_exit_naming_it(batch_run):
    proc, args, _ = batch_run
    assert proc.returncode == 1
    assert args[1] in proc.stderr


def test_annotated_images_are_written(batch_run):
    _, _, out = batch_run
    img = Image.open(out / "skimage_astronaut_annotated.png")
    assert img.size == (512, 512)
    assert (out / "skimage_rocket_annotated.png").exists()


def test_readable_output_and_jsonl(tmp_path):
    proc = fea("analyze", str(ASTRONAUT))
    assert proc.returncode == 0
    assert "happiness" in proc.stdout and "AU12" in proc.stdout and "Happiness." in proc.stdout
    proc = fea("analyze", str(NO_FACE), str(ASTRONAUT), "--jsonl")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(lines) == 2 and lines[0]["faces"] == []


def test_a_bad_model_file_is_named(tmp_path):
    """The default models ship in the package; a file in $FEA_AGENT_MODEL_DIR comes first and is checked."""
    (tmp_path / "face_detection_yunet_2023mar.onnx").write_bytes(b"not the model")
    env = {**os.environ, "FEA_AGENT_MODEL_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "fea_agent", "analyze", str(ASTRONAUT)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "face_detection_yunet_2023mar.onnx" in proc.stderr and "sha256" in proc.stderr
