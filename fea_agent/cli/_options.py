"""The pipeline's options as command-line flags, defined once for analyze, video, batch, serve and demo.

One flag per stage names its backend (``--detector``, ``--landmarks``, ``--action-units``, ``--appearance``,
``--reasoner``); the choices come from the backend registry, so a new backend is a new choice everywhere.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fea_agent.backends.registry import DEFAULTS, names

#: Stage -> (flag, what it picks). Optional stages also accept ``none``.
_STAGE_FLAGS: dict[str, tuple[str, str, bool]] = {
    "detector": ("--detector", "face detector", False),
    "landmarks": ("--landmarks", "landmarks, blendshapes and head pose", True),
    "action_units": ("--action-units", "action units", True),
    "appearance": ("--appearance", "appearance expression classifier", True),
    "reasoner": ("--reasoner", "reasoning", True),
}


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The per-stage backend flags, ``--reasoner-option KEY=VALUE`` (repeatable), ``--max-faces`` and
    ``--model-dir``."""
    group = parser.add_argument_group("pipeline (backends are listed by `fea-agent models list`)")
    for stage, (flag, what, optional) in _STAGE_FLAGS.items():
        choices = [*names(stage), *(["none"] if optional else [])]  # type: ignore[arg-type]
        group.add_argument(
            flag,
            dest=stage,
            default=DEFAULTS[stage],  # type: ignore[index]
            choices=choices,
            metavar="NAME",
            help=f"{what} backend: {', '.join(choices)} (default {DEFAULTS[stage]})",  # type: ignore[index]
        )
    group.add_argument(
        "--reasoner-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the reasoner, repeatable (e.g. checkpoint=PATH, model=NAME, base_url=URL)",
    )
    group.add_argument(
        "--max-faces",
        type=int,
        default=None,
        metavar="N",
        help="analyse at most N faces per image (default 32)",
    )
    group.add_argument("--model-dir", type=Path, help="folder of model files (default $FEA_AGENT_MODEL_DIR)")


def pipeline_options(args: argparse.Namespace) -> dict[str, Any]:
    """``FEAPipeline`` keyword arguments from the shared arguments; ValueError for a malformed option."""
    options: dict[str, str] = {}
    for pair in args.reasoner_option:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--reasoner-option needs KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    out: dict[str, Any] = {
        stage: None if getattr(args, stage) in ("none", "") else getattr(args, stage)
        for stage in _STAGE_FLAGS
    }
    out["reasoner_options"] = options
    out["model_dir"] = args.model_dir
    if args.max_faces is not None:
        out["max_faces"] = args.max_faces
    return out
