"""Video and batch figures: frames/s of the pipeline with each landmarks backend against bare loops of the
models, peak memory for a short and a long (looped) input, and batch images/s on Ray with 1 and 2 workers.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/benchmark_video.py
    python tools/benchmark_video.py --skip-ray --skip-memory --rounds 3     # quicker

Four runs over the same first ``--max-frames`` frames of the clip, alternated round by round so that load on a
shared machine hits all alike: ``analyze_video`` with the direct MediaPipe backend (the default) and with the
Tasks backend, the bare Tasks loop (decode, YuNet about once a second, the VIDEO-mode Face Landmarker on a
crop around the face, the expression CNN; no AUs, no result objects, no reasoning) and the bare direct loop
(the same with the direct backend's tracker). The ratios are to the bare Tasks loop of the same round. Peak
memory is measured in child processes (VmHWM): the video analysed once, then looped ``--loops`` times as one
stream (a temporary file, deleted afterwards); ``--memory-via mcp`` measures the MCP ``analyze_video`` tool
(through an in-memory client session, at ``--memory-stride``) instead of the bare pipeline loop.

``--cli-against DIR`` times ``fea-agent video`` (the command, in child processes) with the package from DIR (an
older checkout) and from this one, alternated round by round, and prints both frames/s:

    git archive main | tar -x -C /tmp/base
    python tools/benchmark_video.py --cli-against /tmp/base --skip-timing --skip-memory --skip-ray
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from _paths import EDGE as IMAGES
from _paths import VIDEO, use_shared_models

use_shared_models()


def pipeline_frames(pipeline, video: Path, n: int, ids: set[int], *, tracking: bool = True) -> Iterator[None]:
    """``analyze_video`` over the first ``n`` frames, one step per result; the face ids seen go into ``ids``."""
    for result in pipeline.analyze_video(video, tracking=tracking, max_frames=n):
        ids.update(f.face_id for f in result.faces if f.face_id is not None)
        yield


def bare_tasks_frames(pipeline, video: Path, n: int, *, detect_every_s: float = 1.0) -> Iterator[None]:
    """The bare Tasks loop: decode, YuNet when due, the VIDEO-mode Face Landmarker on a crop, the CNN."""
    from fea_agent.io.video import VideoReader
    from fea_agent.perception.mediapipe_tasks import MediaPipeLandmarker, fast_square_crop

    detector, classifier = pipeline.detector, pipeline.appearance
    landmarker = MediaPipeLandmarker(_model("face_landmarker"), video=True)
    box, last_detect = None, -1e9
    try:
        for frame in VideoReader(video, max_frames=n):
            if box is None or frame.timestamp_s - last_detect >= detect_every_s:
                found = detector.detect(frame.rgb)
                last_detect = frame.timestamp_s
                if found and box is None:
                    box = found[0].box
            if box is not None:
                mesh = landmarker.run(fast_square_crop(frame.rgb, box), round(frame.timestamp_s * 1000))
                classifier.predict_box(frame.rgb, box)
                if mesh is None:
                    box = None
                else:
                    lo, hi = mesh.landmarks[:, :2].min(axis=0), mesh.landmarks[:, :2].max(axis=0)
                    box = (float(lo[0]), float(lo[1]), *np.asarray(hi - lo, dtype=float).tolist())
            yield
    finally:
        landmarker.close()


def bare_direct_frames(pipeline, video: Path, n: int, *, detect_every_s: float = 1.0) -> Iterator[None]:
    """The bare direct loop: decode, YuNet when due, the direct backend's tracker (landmark and blendshape
    models, pose) on the region the last landmarks give, the CNN."""
    from fea_agent.io.video import VideoReader
    from fea_agent.perception.mediapipe_mesh import MediaPipeFaceMesh

    detector, classifier = pipeline.detector, pipeline.appearance
    tracker = MediaPipeFaceMesh(_model("face_landmarker")).tracker()
    detection, last_detect = None, -1e9
    for frame in VideoReader(video, max_frames=n):
        if detection is None or frame.timestamp_s - last_detect >= detect_every_s:
            found = detector.detect(frame.rgb)
            last_detect = frame.timestamp_s
            if found and detection is None:
                detection = found[0]
        if detection is not None:
            mesh = tracker.run(frame.rgb, detection, round(frame.timestamp_s * 1000))
            classifier.predict_box(frame.rgb, detection.box)
            if mesh is None:
                detection = None
        yield


def interleaved_fps(runs: dict[str, Callable[[], Iterator[None]]], chunk: int) -> dict[str, float]:
    """Frames/s of each run, advanced ``chunk`` frames at a time in turn, so load elsewhere hits all alike."""
    iterators = {name: make() for name, make in runs.items()}
    seconds = dict.fromkeys(runs, 0.0)
    frames = dict.fromkeys(runs, 0)
    while iterators:
        for name, iterator in list(iterators.items()):
            started = time.perf_counter()
            done = sum(1 for _ in itertools.islice(iterator, chunk))
            seconds[name] += time.perf_counter() - started
            frames[name] += done
            if done < chunk:
                del iterators[name]
    return {name: frames[name] / seconds[name] for name in runs}


def _model(name: str) -> Path:
    from fea_agent.models.registry import model_path

    return model_path(name)


def memory_child(video: Path, stride: int, via: str = "pipeline") -> None:
    """Analyse one video as one stream; print frames and peak RSS (MiB) as JSON."""
    from fea_agent import FEAPipeline
    from fea_agent.video.summary import Summarizer

    if via == "mcp":
        frames = mcp_analyze_video(video, stride)
        print(json.dumps({"frames": frames, "peak_mib": round(_peak_rss_mib(), 1)}))
        return

    summarizer = Summarizer()
    with FEAPipeline() as pipeline:
        for result in pipeline.analyze_video(video, stride=stride, smooth=True, baseline=True):
            summarizer.add(result)
    print(json.dumps({"frames": summarizer.frames, "peak_mib": round(_peak_rss_mib(), 1)}))


def mcp_analyze_video(video: Path, stride: int) -> int:
    """One ``analyze_video`` call through the MCP server and an in-memory client; the frames it analysed."""
    import anyio
    from mcp.shared.memory import create_connected_server_and_client_session

    from fea_agent.agent_tools import ImagePolicy
    from fea_agent.mcp import Runtime, build_server

    runtime = Runtime(policy=ImagePolicy.allowing(video.parent))
    server = build_server(runtime)._mcp_server

    async def call() -> int:
        async with create_connected_server_and_client_session(server) as client:
            result = await client.call_tool("analyze_video", {"video": str(video), "stride": stride})
        assert not result.isError, result.content
        assert result.structuredContent is not None
        return int(result.structuredContent["frames_analysed"])

    return anyio.run(call)


def cli_fps(package_dir: Path, video: Path) -> float:
    """frames/s that ``fea-agent video`` reports on ``video`` with the package from ``package_dir``."""
    env = {**os.environ, "PYTHONPATH": str(package_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "fea_agent", "video", str(video), "--no-progress"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=package_dir,
    ).stdout
    match = re.search(r"([\d.]+) frames/s", out)
    assert match is not None, out
    return float(match.group(1))


def _peak_rss_mib() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the address space and starts afresh at
    exec; ru_maxrss would carry over the parent's peak (a benchmark that has just written a long video)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_memory(video: Path, stride: int, via: str = "pipeline") -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--memory-child",
            "--memory-stride",
            str(stride),
            "--memory-via",
            via,
            "--video",
            str(video),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def write_looped(video: Path, loops: int, out: Path) -> None:
    """The video ``loops`` times in a row as one file (a temporary one: the caller deletes it)."""
    import cv2

    frames = []
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for _ in range(loops):
        for frame in frames:
            writer.write(frame)
    writer.release()


def ray_images_per_s(workers: int, images: list[str]) -> tuple[float, float]:
    """(images/s from the first finished file to the last, wall seconds including Ray start-up)."""
    from fea_agent.batch import run_batch

    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_batch(
            images,
            Path(tmp) / "out.jsonl",
            engine="ray",
            workers=workers,
            progress=False,
            on_result=lambda *_: stamps.append(time.perf_counter()),
        )
        wall = time.perf_counter() - started
    steady = (
        (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 0.0
    )
    return steady, wall


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--loops", type=int, default=10, help="the long input is the video this many times")
    parser.add_argument("--memory-stride", type=int, default=1, help="stride for the memory runs")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four interleaved runs")
    parser.add_argument("--chunk", type=int, default=20, help="frames each run advances in its turn")
    parser.add_argument("--max-frames", type=int, default=240, help="frames per timed run")
    parser.add_argument(
        "--memory-via", choices=("pipeline", "mcp"), default="pipeline", help="what the memory runs call"
    )
    parser.add_argument(
        "--cli-against", type=Path, metavar="DIR", help="time fea-agent video against DIR's package"
    )
    parser.add_argument("--skip-timing", action="store_true", help="skip the four interleaved runs")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.video, args.memory_stride, args.memory_via)
        return 0

    from fea_agent import FEAPipeline

    n = args.max_frames
    print(
        f"video: {args.video.name}, first {n} frames; CPU cores: {os.cpu_count()}; "
        f"load average: {os.getloadavg()[0]:.1f}"
    )
    if not args.skip_timing:
        with FEAPipeline() as direct, FEAPipeline(landmarks="mediapipe-tasks") as tasks:
            ids: dict[str, set[int]] = {"direct": set(), "tasks": set()}
            runs: dict[str, Callable[[], Iterator[None]]] = {
                "pipeline, direct backend": lambda: pipeline_frames(direct, args.video, n, ids["direct"]),
                "pipeline, Tasks backend": lambda: pipeline_frames(tasks, args.video, n, ids["tasks"]),
                "bare Tasks VIDEO loop": lambda: bare_tasks_frames(direct, args.video, n),
                "bare direct loop": lambda: bare_direct_frames(direct, args.video, n),
            }
            interleaved_fps(runs, args.chunk)  # warm-up
            rounds = [interleaved_fps(runs, args.chunk) for _ in range(args.rounds)]
            untracked: set[int] = set()
            plain = interleaved_fps(
                {"": lambda: pipeline_frames(direct, args.video, n, untracked, tracking=False)}, n
            )
        base = [r["bare Tasks VIDEO loop"] for r in rounds]
        for name in runs:
            rates = [r[name] for r in rounds]
            ratios = " ".join(f"{r / b:.2f}" for r, b in zip(rates, base, strict=True))
            seen = (
                ids["direct"]
                if "direct backend" in name
                else ids["tasks"]
                if "Tasks backend" in name
                else None
            )
            face_ids = f"; face ids: {len(seen)}" if seen is not None else ""
            print(
                f"{name:26} {statistics.median(rates):6.1f} frames/s (rounds: {' '.join(f'{r:.0f}' for r in rates)}); "
                f"x bare Tasks loop: {ratios}{face_ids}"
            )
        print(f"pipeline, direct backend, no tracking: {plain['']:6.1f} frames/s; face ids: {len(untracked)}")
    if args.cli_against is not None:
        here = Path(__file__).resolve().parents[1]
        cli_rates: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            cli_rates["before"].append(cli_fps(args.cli_against.resolve(), args.video))
            cli_rates["after"].append(cli_fps(here, args.video))
        for name, values in cli_rates.items():
            print(
                f"fea-agent video, {name} ({args.cli_against if name == 'before' else here}): "
                f"{statistics.median(values):.1f} frames/s (rounds: {' '.join(f'{v:.1f}' for v in values)})"
            )
    if not args.skip_memory:
        short = peak_memory(args.video, args.memory_stride, args.memory_via)
        with tempfile.TemporaryDirectory() as tmp:
            looped = Path(tmp) / f"looped_{args.loops}x.mp4"
            write_looped(args.video, args.loops, looped)
            long = peak_memory(looped, args.memory_stride, args.memory_via)
        print(
            f"peak memory ({args.memory_via}): {short['peak_mib']:.0f} MiB for {short['frames']} frames, "
            f"{long['peak_mib']:.0f} MiB for {long['frames']} frames ({args.loops}x); "
            f"ratio {long['peak_mib'] / short['peak_mib']:.3f}"
        )
    if not args.skip_ray:
        images = sorted(str(p) for p in IMAGES.iterdir() if p.is_file())
        for workers in (1, 2):
            steady, wall = ray_images_per_s(workers, images)
            print(
                f"batch on Ray, {workers} worker{'s' if workers > 1 else ''}: {steady:5.1f} images/s "
                f"({len(images)} images, {wall:.1f} s wall with Ray start-up)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
