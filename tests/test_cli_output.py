"""Command-line details a newcomer meets: output cut short by `head`, help text, the model folder."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ASTRONAUT


def test_output_cut_short_is_not_an_error(tmp_path):
    """`fea-agent analyze ... --jsonl | head -1`: the reader leaves, the command stops without a traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fea_agent", "analyze", *[str(ASTRONAUT)] * 6, "--jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as head does
    _, stderr = proc.communicate(timeout=120)
    assert first.startswith(b'{"schema_version"')
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr.decode()


def test_serve_help_keeps_its_examples_on_their_own_lines():
    proc = subprocess.run(
        [sys.executable, "-m", "fea_agent", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    lines = proc.stdout.splitlines()
    assert any(line.startswith("fea-agent serve mcp --allow-dir") for line in lines), proc.stdout


def test_models_take_a_model_dir_and_show_a_relative_one_resolved(tmp_path):
    from fea_agent.models import registry

    models = registry.model_path("yunet").parent
    ok = subprocess.run(
        [sys.executable, "-m", "fea_agent", "models", "verify", "--model-dir", str(models)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    verified = {line.split()[1] for line in ok.stdout.splitlines() if line.startswith("ok ")}
    assert ok.returncode == 0 and {"yunet", "face_landmarker", "fer", "expression"} <= verified, ok.stderr
    env = {**os.environ, "FEA_AGENT_MODEL_DIR": "models-here", "FEA_AGENT_CACHE": str(tmp_path)}
    bad = subprocess.run(
        [sys.executable, "-m", "fea_agent", "models", "verify", "retinaface"],  # optional: never shipped
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert bad.returncode == 1
    assert str(tmp_path / "models-here" / "openface3" / "mobilenet0.25_Final.pth") in bad.stderr
    assert "is relative" in bad.stderr
