"""Video and batch figures: frames/s with and without tracking, the ratio to a bare loop of the raw models,
peak memory for a short and a long (looped) input, and batch images/s on Ray with 1 and 2 workers.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/benchmark_video.py
    python tools/benchmark_video.py --skip-ray --memory-stride 2     # quicker

The raw loop decodes the same frames and calls the same models in the same pattern as the tracking pipeline
(YuNet when the pipeline runs it, the VIDEO-mode Face Landmarker on the same crops, the expression CNN) and
nothing else: no AUs, no result objects, no reasoning, no smoothing. Peak memory is measured in child
processes (VmHWM): the video analysed once, then the video looped ``--loops`` times as one stream (a
temporary file, deleted afterwards). Timings on a shared machine are noisy: run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEA_AGENT_SHARED", ROOT.parent / "shared"))
VIDEO = SHARED / "data" / "edge-cases" / "video" / "WolfgangLanger_Pexels.mp4"
IMAGES = SHARED / "data" / "edge-cases" / "images"
os.environ.setdefault("FEA_AGENT_MODEL_DIR", str(SHARED / "models"))


def pipeline_fps(pipeline, video: Path, *, tracking: bool, stride: int = 1) -> tuple[float, int]:
    """Frames/s of ``analyze_video`` (results consumed and dropped) and the number of distinct face ids."""
    ids: set[int] = set()
    started = time.perf_counter()
    n = 0
    for result in pipeline.analyze_video(video, tracking=tracking, stride=stride):
        n += 1
        ids.update(f.face_id for f in result.faces if f.face_id is not None)
    return n / (time.perf_counter() - started), len(ids)


def raw_fps(pipeline, video: Path, *, detect_every_s: float = 1.0) -> float:
    """The same models over the same frames in a bare loop: decode, YuNet when due, crop, landmarks, CNN."""
    import numpy as np

    from fea_agent.perception.landmarker import MediaPipeLandmarker, fast_square_crop
    from fea_agent.video.frames import VideoReader

    detector, classifier = pipeline.detector, pipeline.appearance
    landmarker = MediaPipeLandmarker(pipeline.landmarks.model_path, video=True)
    box, last_detect, n = None, -1e9, 0
    started = time.perf_counter()
    for frame in VideoReader(video):
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
        n += 1
    landmarker.close()
    return n / (time.perf_counter() - started)


def memory_child(video: Path, stride: int) -> None:
    """Analyse one video as one stream; print frames and peak RSS (MiB) as JSON."""
    from fea_agent import FEAPipeline
    from fea_agent.video.summary import Summarizer

    summarizer = Summarizer()
    with FEAPipeline() as pipeline:
        for result in pipeline.analyze_video(video, stride=stride, smooth=True, baseline=True):
            summarizer.add(result)
    print(json.dumps({"frames": summarizer.frames, "peak_mib": round(_peak_rss_mib(), 1)}))


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


def peak_memory(video: Path, stride: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", "--memory-stride", str(stride), "--video", str(video)],
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
    parser.add_argument("--rounds", type=int, default=2, help="alternating raw/pipeline rounds (best kept)")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.video, args.memory_stride)
        return 0

    from fea_agent import FEAPipeline

    print(f"video: {args.video.name}; CPU cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")
    with FEAPipeline() as pipeline:
        list(pipeline.analyze_video(args.video, max_frames=10))  # warm-up
        # Alternate the runs and keep each one's best, so a burst of load elsewhere hits both alike.
        raw = tracked = 0.0
        for _ in range(args.rounds):
            raw = max(raw, raw_fps(pipeline, args.video))
            fps, ids = pipeline_fps(pipeline, args.video, tracking=True)
            tracked = max(tracked, fps)
        untracked, ids_untracked = pipeline_fps(pipeline, args.video, tracking=False)
    print(f"pipeline, tracking:     {tracked:6.1f} frames/s   face ids: {ids}")
    print(f"pipeline, no tracking:  {untracked:6.1f} frames/s   face ids: {ids_untracked}")
    print(f"raw models, bare loop:  {raw:6.1f} frames/s")
    print(f"pipeline/raw time ratio (tracking): {raw / tracked:.2f}")
    if not args.skip_memory:
        short = peak_memory(args.video, args.memory_stride)
        with tempfile.TemporaryDirectory() as tmp:
            looped = Path(tmp) / f"looped_{args.loops}x.mp4"
            write_looped(args.video, args.loops, looped)
            long = peak_memory(looped, args.memory_stride)
        print(
            f"peak memory: {short['peak_mib']:.0f} MiB for {short['frames']} frames, "
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
