"""Benchmark the image pipeline against the raw model calls it wraps.

Prints, for a one-face and a many-face photo: the pipeline's latency (median, p90) and images/s, the same
photo through the raw model calls alone (YuNet -> Face Landmarker on each face crop -> FER CNN, with no result
building), and the ratio pipeline/raw; then the cold start (import + model load + warm-up) in a fresh process.
With ``--video``, it also runs tools/benchmark_video.py (video and batch figures).

    FEA_AGENT_MODEL_DIR=../shared/models python tools/benchmark.py [--runs 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FEA_AGENT_SHARED", ROOT.parent / "shared")) / "data"
PHOTOS = {
    "one face, 512x512": DATA / "edge-cases/images/skimage_astronaut.png",
    "five faces, 1280x853": DATA / "edge-cases/images/pexels_group.jpeg",
    "one face, 1350x1350": DATA / "frl-london/images/smiling_front/001_08.jpg",
}


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    for _ in range(3):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "images_per_s": round(1000.0 / statistics.median(ms), 1),
    }


class RawModels:
    """The three models called directly through their own APIs: the floor the pipeline is measured against."""

    def __init__(self) -> None:
        import cv2
        import mediapipe as mp
        from ai_edge_litert.interpreter import Interpreter
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions

        from fea_agent.models.registry import model_path

        self.cv2, self.mp = cv2, mp
        self.yunet = cv2.FaceDetectorYN.create(str(model_path("yunet")), "", (320, 320), 0.7, 0.3, 5000)
        self.landmarker = FaceLandmarker.create_from_options(
            FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(model_path("face_landmarker"))),
                output_face_blendshapes=True,
                output_facial_transformation_matrixes=True,
            )
        )
        self.fer = Interpreter(model_path=str(model_path("fer")), num_threads=1)
        self.fer.allocate_tensors()
        self.fer_in = self.fer.get_input_details()[0]["index"]
        self.fer_out = self.fer.get_output_details()[0]["index"]

    def __call__(self, rgb: np.ndarray) -> int:
        cv2 = self.cv2
        h, w = rgb.shape[:2]
        scale = min(1.0, 640 / max(h, w))
        small = cv2.resize(rgb, (round(w * scale), round(h * scale))) if scale < 1 else rgb
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        self.yunet.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self.yunet.detect(bgr)
        for row in faces if faces is not None else []:
            x, y, bw, bh = (row[:4] / scale).astype(int)
            side = int(max(bw, bh) * 1.8)
            cx, cy = x + bw // 2, y + bh // 2
            x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
            crop = np.ascontiguousarray(rgb[y0 : y0 + side, x0 : x0 + side])
            crop = cv2.resize(crop, (256, 256))
            self.landmarker.detect(self.mp.Image(image_format=self.mp.ImageFormat.SRGB, data=crop))
            gray = cv2.cvtColor(rgb[max(0, y) : y + bh, max(0, x) : x + bw], cv2.COLOR_RGB2GRAY)
            gray = cv2.resize(gray, (64, 64)).astype(np.float32)
            self.fer.set_tensor(self.fer_in, ((gray / 255.0 - 0.5) * 2.0)[None, :, :, None])
            self.fer.invoke()
            self.fer.get_tensor(self.fer_out)
        return 0 if faces is None else len(faces)

    def close(self) -> None:
        self.landmarker.close()


def cold_start(runs: int = 3) -> dict[str, float]:
    """Seconds from a fresh interpreter to a pipeline ready to analyse (import + model load + warm-up)."""
    code = (
        "import time; t=time.perf_counter(); from fea_agent import FEAPipeline; p=FEAPipeline(); "
        "print(time.perf_counter()-t); p.close()"
    )
    seconds = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        seconds.append(float(out.stdout.strip().splitlines()[-1]))
    return {"median_s": round(statistics.median(seconds), 2), "max_s": round(max(seconds), 2)}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--video", action="store_true", help="also run tools/benchmark_video.py")
    args = parser.parse_args()

    from fea_agent import FEAPipeline
    from fea_agent._native import quiet_stderr
    from fea_agent.io.images import load_image

    pipeline = FEAPipeline()
    with quiet_stderr():
        raw = RawModels()
    report: dict[str, object] = {"machine": machine(), "photos": {}}
    for name, path in PHOTOS.items():
        rgb = load_image(path).rgb
        faces = len(pipeline.analyze(rgb).faces)
        # Interleave the two so that load on a shared machine hits both alike.
        piped, bare = [], []
        for _ in range(max(1, args.runs // 10)):
            piped += _times(lambda rgb=rgb: pipeline.analyze(rgb), 10)
            bare += _times(lambda rgb=rgb: raw(rgb), 10)
        p, r = _summary(piped), _summary(bare)
        report["photos"][name] = {
            "faces": faces,
            "pipeline": p,
            "raw_models": r,
            "ratio_pipeline_over_raw": round(p["median_ms"] / r["median_ms"], 3),
        }
    raw.close()
    pipeline.close()
    report["cold_start"] = cold_start()

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"machine: {report['machine']}")
        print(
            f"{'photo':24} {'faces':>5} {'pipeline ms (p90)':>18} {'raw ms (p90)':>14} {'ratio':>6} {'img/s':>6}"
        )
        for name, row in report["photos"].items():
            p, r = row["pipeline"], row["raw_models"]
            print(
                f"{name:24} {row['faces']:>5} {p['median_ms']:>9.1f} ({p['p90_ms']:>5.1f}) "
                f"{r['median_ms']:>7.1f} ({r['p90_ms']:>5.1f}) {row['ratio_pipeline_over_raw']:>6.2f} "
                f"{p['images_per_s']:>6.1f}"
            )
        c = report["cold_start"]
        print(f"cold start (import + load + warm-up): median {c['median_s']} s, max {c['max_s']} s")
    if args.video:
        return subprocess.call([sys.executable, str(ROOT / "tools" / "benchmark_video.py")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
