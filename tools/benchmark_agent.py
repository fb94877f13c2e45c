"""Benchmark the offline agent graph against calling the pipeline directly.

For each photo, runs ``FEAPipeline.analyze(path)`` and ``create_fea_agent(pipeline=...).invoke({"image": path})``
alternately (so both see the same machine load), and prints the median and p90 of each and the graph's
overhead: the median of the paired differences (graph run minus the direct run next to it), in ms and % of
the pipeline's median. On a busy machine those medians are noisy, so it also measures LangGraph's fixed cost
alone: the same graph over a stub pipeline whose stages return at once. Target: <= 5 %.

    FEA_AGENT_MODEL_DIR=../shared/models python tools/benchmark_agent.py [--runs 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from _paths import DATA, use_shared_models

PHOTOS = {
    "one face, 512x512": DATA / "edge-cases/images/skimage_astronaut.png",
    "five faces, 1280x853": DATA / "edge-cases/images/pexels_group.jpeg",
    "no face, 640x360": DATA / "edge-cases/images/pixabay_mountains-615428_640.jpg",
}


def _p90(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, round(0.9 * (len(values) - 1)))]


def _stub_pipeline():
    """The real pipeline's stages over backends that return at once: what is left of a graph run is
    LangGraph's own cost and the pipeline's bookkeeping (plus a tiny decode)."""
    import threading

    import numpy as np

    from fea_agent.backends.base import Detection
    from fea_agent.pipeline import FEAPipeline, PipelineOptions

    class _Detector:
        name, device = "stub", "cpu"

        def detect(self, rgb):
            return [Detection((0.0, 0.0, 8.0, 8.0), 1.0, np.zeros((5, 2), np.float32))]

    pipeline = FEAPipeline.__new__(FEAPipeline)  # no models: the stages' own code only
    pipeline.options = PipelineOptions(landmarks=None, action_units=None, appearance=None, reasoner=None)
    pipeline._lock = threading.RLock()
    pipeline.detector, pipeline.landmarks, pipeline.action_units, pipeline.appearance = (
        _Detector(),
        None,
        None,
        None,
    )
    pipeline.expression_model = pipeline.reasoner = None
    return pipeline


def _fixed_cost_ms(runs: int) -> float:
    import numpy as np

    from fea_agent.agent.graph import build_graph

    graph = build_graph(_stub_pipeline())
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    times = []
    for i in range(runs + 20):
        # CPU time of this process: LangGraph's cost is pure Python on one thread, and CPU time is what a
        # busy shared machine distorts least.
        t = time.process_time()
        graph.invoke({"image": image})
        if i >= 20:
            times.append((time.process_time() - t) * 1000.0)
    return statistics.median(times)


def _time(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t) * 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each, per photo (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    use_shared_models()

    from fea_agent import FEAPipeline
    from fea_agent.agent import create_fea_agent

    rows = []
    fixed = _fixed_cost_ms(200)
    with FEAPipeline() as pipeline:
        graph = create_fea_agent(pipeline=pipeline)
        for label, path in PHOTOS.items():
            direct: list[float] = []
            via_graph: list[float] = []
            for i in range(args.runs + 3):  # 3 warm-up rounds
                d_ms = _time(pipeline.analyze, path)
                g_ms = _time(graph.invoke, {"image": path})
                if i >= 3:
                    direct.append(d_ms)
                    via_graph.append(g_ms)
            d, g = statistics.median(direct), statistics.median(via_graph)
            best = min(direct)  # the least disturbed run: closest to an idle machine
            paired = statistics.median(b - a for a, b in zip(direct, via_graph, strict=True))
            rows.append(
                {
                    "photo": label,
                    "pipeline_median_ms": round(d, 2),
                    "pipeline_p90_ms": round(_p90(direct), 2),
                    "graph_median_ms": round(g, 2),
                    "graph_p90_ms": round(_p90(via_graph), 2),
                    "overhead_ms": round(paired, 2),
                    "overhead_pct": round(100.0 * paired / d, 1),
                    "pipeline_min_ms": round(best, 2),
                    "fixed_cost_pct_of_min": round(100.0 * fixed / best, 2),
                }
            )
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    if args.json:
        out = {
            "machine": machine,
            "runs": args.runs,
            "langgraph_fixed_cost_ms": round(fixed, 3),
            "rows": rows,
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"offline agent graph vs pipeline.analyze, {args.runs} runs each, interleaved; {machine}")
    print(f"LangGraph's fixed cost per invoke (stub stages, CPU time, median of 200): {fixed:.3f} ms")
    print(
        f"{'photo':<22} {'pipeline ms (p90)':>18} {'graph ms (p90)':>16} {'paired overhead':>17} {'fixed / pipeline min':>22}"
    )
    for r in rows:
        print(
            f"{r['photo']:<22} {r['pipeline_median_ms']:>8.1f} ({r['pipeline_p90_ms']:>6.1f})"
            f" {r['graph_median_ms']:>7.1f} ({r['graph_p90_ms']:>6.1f})"
            f" {r['overhead_ms']:>+7.2f} ms {r['overhead_pct']:>+5.1f}% {r['fixed_cost_pct_of_min']:>6.2f}% of {r['pipeline_min_ms']:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
