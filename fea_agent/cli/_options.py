"""Arguments that several subcommands share: which reasoner, its options, and where the models are."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """``--reasoner``, ``--reasoner-option KEY=VALUE`` (repeatable) and ``--model-dir``."""
    parser.add_argument(
        "--reasoner",
        default="facs",
        help="reasoning backend: facs (default, offline), feallm, vlm, openai, or none",
    )
    parser.add_argument(
        "--reasoner-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the reasoner, repeatable (e.g. checkpoint=PATH, model=NAME, base_url=URL)",
    )
    parser.add_argument("--model-dir", type=Path, help="folder of model files (default $FEA_AGENT_MODEL_DIR)")


def pipeline_options(args: argparse.Namespace) -> dict[str, Any]:
    """``FEAPipeline`` keyword arguments from the shared arguments; ValueError for a malformed option."""
    options: dict[str, str] = {}
    for pair in args.reasoner_option:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--reasoner-option needs KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return {
        "reasoner": None if args.reasoner in ("none", "") else args.reasoner,
        "reasoner_options": options,
        "model_dir": args.model_dir,
    }
