"""Benchmark the image pipeline, with each landmarks backend, against the raw model calls it wraps.

Prints, for one-face and many-face photos (decoded once, in memory): the pipeline's latency (median, p90)
with the direct MediaPipe backend (the default) and with the Tasks backend; the same photo through the raw
model calls alone, with the Tasks Face Landmarker (YuNet -> Face Landmarker on each face crop -> FER CNN and face-api.js's net, no
result building) and with the bundle's models run directly (YuNet -> landmark and blendshape models and pose
on each face's region -> the two expression CNNs); and the ratios to the raw Tasks calls. The four are called in turn on
every iteration, so load on a shared machine hits all alike. Then the cold start (import + model load +
warm-up) in a fresh process. With ``--video``, it also runs tools/benchmark_video.py (video and batch).

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
from _paths import DATA, ROOT

PHOTOS = {
    "one face, 512x512": DATA / "edge-cases/images/skimage_astronaut.png",
    "five faces, 1280x853": DATA / "edge-cases/images/pexels_group.jpeg",
    "one face, 1350x1350": DATA / "frl-london/images/smiling_front/001_08.jpg",
}


def _times(fn: Callable[[], object], runs: int, *, warm: bool = True) -> list[float]:
    for _ in range(3 if warm else 0):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _cpu_ms(fn: Callable[[], object]) -> float:
    """CPU time of this process (all its threads) over one call: the work, whatever the wait for a core."""
    t = time.process_time()
    fn()
    return (time.process_time() - t) * 1000.0


def _summary(ms: list[float], cpu: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p10_ms": round(ms[int(0.1 * (len(ms) - 1))], 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "cpu_ms": round(statistics.median(cpu), 2),
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
        from fea_agent.perception.faceapi import build_graph, read_weights

        weights = read_weights(model_path("faceapi_expression_manifest"), model_path("faceapi_expression"))
        self.faceapi = cv2.dnn.readNetFromONNX(np.frombuffer(build_graph(weights, batch=1), dtype=np.uint8))

    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray | None, float]:
        """YuNet's rows at up to 640 px, and the scale they are at."""
        cv2 = self.cv2
        h, w = rgb.shape[:2]
        scale = min(1.0, 640 / max(h, w))
        small = cv2.resize(rgb, (round(w * scale), round(h * scale))) if scale < 1 else rgb
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        self.yunet.setInputSize((bgr.shape[1], bgr.shape[0]))
        return self.yunet.detect(bgr)[1], scale

    def expression(self, rgb: np.ndarray, x: int, y: int, bw: int, bh: int) -> None:
        gray = self.cv2.cvtColor(rgb[max(0, y) : y + bh, max(0, x) : x + bw], self.cv2.COLOR_RGB2GRAY)
        gray = self.cv2.resize(gray, (64, 64)).astype(np.float32)
        self.fer.set_tensor(self.fer_in, ((gray / 255.0 - 0.5) * 2.0)[None, :, :, None])
        self.fer.invoke()
        self.fer.get_tensor(self.fer_out)
        # face-api.js's net on the box, once (the pipeline runs the crop and its mirror in one batch)
        face = (
            self.cv2.resize(rgb[max(0, y) : y + bh, max(0, x) : x + bw], (112, 112)).astype(np.float32) / 255
        )
        self.faceapi.setInput(face.transpose(2, 0, 1)[None])
        self.faceapi.forward(["embedding", "logits"])

    def __call__(self, rgb: np.ndarray) -> int:
        cv2 = self.cv2
        faces, scale = self.detect(rgb)
        for row in faces if faces is not None else []:
            x, y, bw, bh = (row[:4] / scale).astype(int)
            side = int(max(bw, bh) * 1.8)
            cx, cy = x + bw // 2, y + bh // 2
            x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
            crop = np.ascontiguousarray(rgb[y0 : y0 + side, x0 : x0 + side])
            crop = cv2.resize(crop, (256, 256))
            self.landmarker.detect(self.mp.Image(image_format=self.mp.ImageFormat.SRGB, data=crop))
            self.expression(rgb, x, y, bw, bh)
        return 0 if faces is None else len(faces)

    def close(self) -> None:
        self.landmarker.close()


class RawDirectModels(RawModels):
    """YuNet, the bundle's landmark and blendshape models with the pose, and the two CNNs, called directly."""

    def __init__(self) -> None:
        super().__init__()
        from fea_agent.backends.base import Detection
        from fea_agent.models.registry import model_path
        from fea_agent.perception.mediapipe_mesh import MediaPipeFaceMesh

        self.detection = Detection
        self.mesh = MediaPipeFaceMesh(model_path("face_landmarker"))

    def __call__(self, rgb: np.ndarray) -> int:
        faces, scale = self.detect(rgb)
        for row in faces if faces is not None else []:
            x, y, bw, bh = (row[:4] / scale).astype(int)
            points = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
            self.mesh.run_box(rgb, self.detection((float(x), float(y), float(bw), float(bh)), 1.0, points))
            self.expression(rgb, x, y, bw, bh)
        return 0 if faces is None else len(faces)

    def close(self) -> None:
        super().close()
        self.mesh.close()


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

    direct = FEAPipeline()
    tasks = FEAPipeline(landmarks="mediapipe-tasks")
    with quiet_stderr():
        raw, raw_direct = RawModels(), RawDirectModels()
    report: dict[str, object] = {"machine": machine(), "load_average": os.getloadavg()[0], "photos": {}}
    names = ("pipeline, direct", "pipeline, Tasks", "raw, Tasks", "raw, direct")
    for name, path in PHOTOS.items():
        rgb = load_image(path).rgb
        faces = len(direct.analyze(rgb).faces)
        calls: dict[str, Callable[[], object]] = {
            "pipeline, direct": lambda rgb=rgb: direct.analyze(rgb),
            "pipeline, Tasks": lambda rgb=rgb: tasks.analyze(rgb),
            "raw, Tasks": lambda rgb=rgb: raw(rgb),
            "raw, direct": lambda rgb=rgb: raw_direct(rgb),
        }
        ms: dict[str, list[float]] = {k: [] for k in names}
        cpu: dict[str, list[float]] = {k: [] for k in names}
        for fn in calls.values():
            _times(fn, 0)  # warm-up (three calls)
        # Interleaved call by call: load on a shared machine hits all four alike.
        for _ in range(args.runs):
            for key, fn in calls.items():
                ms[key] += _times(fn, 1, warm=False)
                cpu[key].append(_cpu_ms(fn))
        summary = {k: _summary(ms[k], cpu[k]) for k in names}
        base = summary["raw, Tasks"]
        report["photos"][name] = {
            "faces": faces,
            **summary,
            "ratios_to_raw_tasks": {
                k: {m: round(summary[k][m] / base[m], 3) for m in ("median_ms", "p10_ms", "cpu_ms")}
                for k in names
            },
        }
    raw.close()
    raw_direct.close()
    direct.close()
    tasks.close()
    report["cold_start"] = cold_start()

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"machine: {report['machine']}; load average {report['load_average']:.1f}")
        print(
            f"{'photo':22} {'faces':>5} {'run':18} {'median':>7} {'p10':>7} {'p90':>7} {'CPU':>7}  x raw Tasks"
        )
        for name, row in report["photos"].items():
            for k in names:
                r, x = row[k], row["ratios_to_raw_tasks"][k]
                print(
                    f"{name:22} {row['faces']:>5} {k:18} {r['median_ms']:>7.1f} {r['p10_ms']:>7.1f} "
                    f"{r['p90_ms']:>7.1f} {r['cpu_ms']:>7.1f}  "
                    f"{x['median_ms']:.2f} / {x['p10_ms']:.2f} / {x['cpu_ms']:.2f}"
                )
        print(
            "ms per photo; x raw Tasks: median / p10 / CPU time over the raw Tasks calls' (YuNet + Tasks + the two CNNs)"
        )
        c = report["cold_start"]
        print(f"cold start (import + load + warm-up): median {c['median_s']} s, max {c['max_s']} s")
    if args.video:
        return subprocess.call([sys.executable, str(ROOT / "tools" / "benchmark_video.py")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
