"""The Ray engine: the same batch on Ray Data, one pipeline per worker (models loaded once per worker).

Files are a dataset of paths; ``map_batches`` runs :class:`SourceAnalyser` (a callable class, so Ray keeps
one instance, with its loaded models, per actor) on a pool of ``workers`` actors. Each output record is one
file with its rows as JSON, so a file's rows reach the writer together. The paths must be readable by the
workers: on a cluster, put the files on shared storage (NFS, a mounted bucket) under the same path.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from fea_agent.batch.fate import FateShare, descendants
from fea_agent.batch.source import analyse_source


class SourceAnalyser:
    """Ray Data UDF: builds one :class:`~fea_agent.pipeline.FEAPipeline` per actor, analyses paths."""

    def __init__(
        self, pipeline_options: dict[str, Any], video_options: dict[str, Any], row_format: str = "fea-agent"
    ) -> None:
        from fea_agent.pipeline import FEAPipeline

        self.pipeline = FEAPipeline(**pipeline_options)
        self.video_options = video_options
        self.row_format = row_format

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sources = [str(s) for s in batch["source"]]
        rows = [
            json.dumps(analyse_source(self.pipeline, s, self.video_options, self.row_format), default=str)
            for s in sources
        ]
        return {"source": np.array(sources, dtype=object), "rows": np.array(rows, dtype=object)}


def run_on_ray(
    files: list[str],
    *,
    workers: int = 2,
    address: str | None = None,
    pipeline_options: dict[str, Any] | None = None,
    video_options: dict[str, Any] | None = None,
    row_format: str = "fea-agent",
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Yield ``(source, rows)`` as Ray's workers finish files; starts (and stops) a local Ray if needed."""
    import ray

    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    started_here = False
    fate: FateShare | None = None  # a local Ray's processes end with this run, even a killed one
    if not ray.is_initialized():
        # Workers need the model folder and, for the openai reasoner, the server (never the API key: Ray
        # records runtime environments; set OPENAI_API_KEY on the nodes, or pass it in reasoner_options).
        env = {k: v for k, v in os.environ.items() if k.startswith("FEA_AGENT_") or k == "OPENAI_BASE_URL"}
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "runtime_env": {"env_vars": env} if env else None,
        }
        if address:
            ray.init(address=address, **kwargs)
        else:
            older = descendants(os.getpid())
            ray.init(num_cpus=workers, **kwargs)
            fate = FateShare(older)
        started_here = True
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the runner draws its own bar over files
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        dataset = ray.data.from_items(
            [{"source": f} for f in files], override_num_blocks=min(len(files), 200)
        )
        mapped = dataset.map_batches(
            SourceAnalyser,
            fn_constructor_kwargs={
                "pipeline_options": pipeline_options or {},
                "video_options": video_options or {},
                "row_format": row_format,
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        for record in mapped.iter_rows():
            yield str(record["source"]), json.loads(record["rows"])
    finally:
        if started_here:
            ray.shutdown()
        if fate is not None:
            fate.close()
