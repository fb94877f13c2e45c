"""The demo's upload handling without a browser: reads that delete, files held per session, and the removal of
the cache folders that killed runs left behind (real processes, killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from fea_agent.demo.uploads import HeldFiles, UploadRef, read_uploads, remove_stale_caches  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: A process that makes the demo's private cache folder (as ``fea-agent demo`` does), puts a file in it, says
#: where, and waits to be killed.
_HOLDER = """
import sys, time
from fea_agent.demo.uploads import private_cache_dir
folder = private_cache_dir()
(folder / "clip.mp4").write_bytes(b"a video")
print(folder, flush=True)
time.sleep(600)
"""


def _holder(temp: Path) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(ROOT)}
    env.pop("GRADIO_TEMP_DIR", None)
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER], env=env, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line, "the holder process did not start"
    return proc, Path(line)


@pytest.mark.slow
def test_a_killed_runs_folder_is_removed_and_only_that(tmp_path):
    killed, left = _holder(tmp_path)
    alive, kept = _holder(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        assert (left / "clip.mp4").exists(), "a SIGKILL runs no clean-up"
        unlocked = tmp_path / "fea-agent-demo-starting"  # an app that has not locked it yet, or an old one
        unlocked.mkdir()
        old = time.time() - 3600
        os.utime(unlocked, (old, old))
        other_name = tmp_path / "not-fea-agent-demo-x"
        other_name.mkdir()
        target = tmp_path / "elsewhere"
        target.mkdir()
        (target / "keep").write_text("x")
        link = tmp_path / "fea-agent-demo-link"
        link.symlink_to(target)
        foreign = tmp_path / "fea-agent-demo-someone-else"  # abandoned, but another user's
        foreign.mkdir()
        (foreign / ".lock").write_text("")
        if os.getuid() == 0:
            os.chown(foreign, 65534, 65534)

        removed = remove_stale_caches(tmp_path)

        assert sorted(removed) == sorted([left] + ([] if os.getuid() == 0 else [foreign]))
        assert not left.exists()
        assert (kept / "clip.mp4").exists(), "a running app's folder is left alone"
        assert unlocked.exists() and other_name.exists() and (target / "keep").exists()
        assert link.is_symlink()
        if os.getuid() == 0:
            assert foreign.exists(), "another user's folder is left alone"
    finally:
        alive.kill()
        alive.wait(timeout=10)


def test_the_same_upload_named_twice_is_read_once_and_then_gone(tmp_path):
    photo = tmp_path / "abc" / "face.png"
    photo.parent.mkdir()
    photo.write_bytes(b"photo bytes")
    ref = UploadRef(str(photo), "face.png")
    a, b, none = read_uploads(ref, ref, None)
    assert a == b and a is not None and a.data == b"photo bytes" and none is None
    assert not photo.exists() and not photo.parent.exists()
    with pytest.raises(gr.Error, match=r"'face.png' could not be read .*upload it again"):
        read_uploads(ref)


def test_a_held_file_lives_until_its_last_holder_lets_go(tmp_path):
    clip = tmp_path / "sha" / "clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"video")
    component = gr.Video()
    files = HeldFiles(component)
    ref = UploadRef(str(clip), "clip.mp4")
    first, second = files.hold(ref), files.hold(ref)  # two visitors, one clip: Gradio stores it once
    assert str(clip) in component.keep_in_cache, "out of Gradio's cache sweep while held"
    files.release(first)
    files.release(first)  # twice is harmless and does not count for the other holder
    assert clip.exists() and files.is_held(str(clip))
    files.release(second)
    assert not clip.exists() and not files.is_held(str(clip))
    assert str(clip) not in component.keep_in_cache
    files.release(None)
