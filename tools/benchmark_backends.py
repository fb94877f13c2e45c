"""Per-face latency of the specialist backends (RetinaFace, OpenFace 3.0, EmotiEffLib), beside the raw model call.

For each backend: the backend's own call on a real photo's faces (crop, preprocessing, model, decoding), and the
raw network call alone on an already-prepared batch; per image and per face. RetinaFace uses its real weights
(``openface3/mobilenet0.25_Final.pth``). OpenFace 3.0's and EmotiEffLib's weights cannot be downloaded here,
so their timings use stand-ins of the same architecture and size, made by this script and used for nothing
else: OpenFace 3.0's ``MTL`` with deterministic values, and an EfficientNet-B0 exported to ONNX with
EmotiEffLib's input and outputs (enet_b0_8_va_mtl: 224 px, 10 outputs). Timing does not depend on the values.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/benchmark_backends.py [--runs 15] [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _paths import DATA, ROOT
from PIL import Image

sys.path.insert(0, str(ROOT / "tests"))  # the deterministic MTL filler the tests use
PHOTOS = {
    "one face, 512x512": DATA / "edge-cases/images/skimage_astronaut.png",
    "five faces, 1280x853": DATA / "edge-cases/images/pexels_group.jpeg",
}


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times)


def _row(backend: str, photo: str, faces: int, call_ms: float, raw_ms: float) -> dict[str, object]:
    return {
        "backend": backend,
        "photo": photo,
        "faces": faces,
        "backend_ms": round(call_ms, 1),
        "raw_model_ms": round(raw_ms, 1),
        "backend_ms_per_face": round(call_ms / max(faces, 1), 1),
        "raw_ms_per_face": round(raw_ms / max(faces, 1), 1),
    }


def bench_retinaface(images: dict[str, np.ndarray], device: str, runs: int) -> list[dict[str, object]]:
    import torch

    from fea_agent.models.registry import model_path
    from fea_agent.perception.resize import downscale
    from fea_agent.perception.retinaface import BGR_MEAN, RetinaFaceDetector

    det = RetinaFaceDetector(model_path("retinaface"), device=device)
    rows = []
    for photo, rgb in images.items():
        faces = len(det.detect(rgb))
        h, w = rgb.shape[:2]
        scale = min(1.0, det.max_side / max(h, w))
        small = downscale(rgb, (round(w * scale), round(h * scale))) if scale < 1 else rgb
        x = torch.from_numpy(np.ascontiguousarray(small[..., ::-1], dtype=np.float32) - np.float32(BGR_MEAN))
        x = x.permute(2, 0, 1)[None].contiguous().to(device)

        def raw(x=x) -> None:
            with torch.inference_mode():
                det.net(x)

        rows.append(
            _row(
                "retinaface",
                photo,
                faces,
                _median_ms(lambda rgb=rgb: det.detect(rgb), runs),
                _median_ms(raw, runs),
            )
        )
    return rows


def bench_openface3(images, detections, device: str, runs: int) -> list[dict[str, object]]:
    import torch
    from openface3_reference import deterministic_model

    from fea_agent.perception import openface3
    from fea_agent.perception.openface3_model import MTL

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "MTL_backbone.pth"
        torch.save(deterministic_model(MTL()).state_dict(), path)  # a stand-in: timing only
        model = openface3.OpenFace3(path, device=device)
    rows = []
    for photo, rgb in images.items():
        dets = detections[photo]
        x = model.preprocess(rgb, dets)

        def call(rgb=rgb, dets=dets) -> None:
            model._last = None  # measure the forward pass, not the shared-stage memo
            model.run(rgb, dets)

        def raw(x=x) -> None:
            with torch.inference_mode():
                model.net(x)

        rows.append(
            _row(
                "openface3 (stand-in weights)",
                photo,
                len(dets),
                _median_ms(call, runs),
                _median_ms(raw, runs),
            )
        )
    return rows


def bench_emotiefflib(images, detections, runs: int) -> list[dict[str, object]]:
    import timm
    import torch

    from fea_agent.perception.emotiefflib import EmotiEffLibClassifier

    net = timm.create_model("efficientnet_b0", pretrained=False, num_classes=10).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "enet_b0_8_va_mtl.onnx"
        torch.onnx.export(
            net,
            (torch.zeros(1, 3, 224, 224),),
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
            dynamo=False,
        )
        clf = EmotiEffLibClassifier(path, "enet_b0_8_va_mtl")
    rows = []
    for photo, rgb in images.items():
        dets = detections[photo]
        batch = np.stack([clf.preprocess(rgb, d.box) for d in dets])
        rows.append(
            _row(
                f"emotiefflib (stand-in EfficientNet-B0 ONNX, {clf.device})",
                photo,
                len(dets),
                _median_ms(lambda rgb=rgb, dets=dets: clf.predict(rgb, dets), runs),
                _median_ms(lambda batch=batch: clf.scores(batch), runs),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--device", default="cpu", help="torch device for RetinaFace and OpenFace 3.0")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from fea_agent.models.registry import model_path
    from fea_agent.perception.yunet import YuNetDetector

    images = {name: np.asarray(Image.open(path).convert("RGB")) for name, path in PHOTOS.items()}
    yunet = YuNetDetector(model_path("yunet"))
    detections = {name: yunet.detect(rgb) for name, rgb in images.items()}
    rows = bench_retinaface(images, args.device, args.runs)
    rows += bench_openface3(images, detections, args.device, args.runs)
    rows += bench_emotiefflib(images, detections, args.runs)
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": args.device,
        "runs": args.runs,
        # shared machines: the load says how far to trust the figures
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    if args.json:
        print(json.dumps({"machine": machine, "rows": rows}, indent=1))
        return
    print(f"machine: {machine}")
    print(
        f"{'backend':52} {'photo':22} {'faces':>5} {'call ms':>8} {'raw ms':>7} {'call/face':>9} {'raw/face':>8}"
    )
    for r in rows:
        print(
            f"{r['backend']:52} {r['photo']:22} {r['faces']:>5} {r['backend_ms']:>8} {r['raw_model_ms']:>7} "
            f"{r['backend_ms_per_face']:>9} {r['raw_ms_per_face']:>8}"
        )


if __name__ == "__main__":
    main()
