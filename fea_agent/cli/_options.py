"""The pipeline's options as command-line flags, defined once for analyze, video, batch, live, serve, demo and
train (``--min-confidence`` among them: every command that analyses takes it).

One flag per stage names its backend (``--detector``, ``--landmarks``, ``--action-units``, ``--appearance``,
``--reasoner``); the choices come from the backend registry, so a new backend is a new choice everywhere.
``train`` takes the perception flags only: a model is trained on what those backends measure.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fea_agent.backends.registry import DEFAULTS, names
from fea_agent.pipeline.options import MAX_FACES

#: Stage -> (flag, what it picks). Optional stages also accept ``none``.
_PERCEPTION_FLAGS: dict[str, tuple[str, str, bool]] = {
    "detector": ("--detector", "face detector", False),
    "landmarks": ("--landmarks", "landmarks, blendshapes and head pose", True),
    "action_units": ("--action-units", "action units", True),
    "appearance": ("--appearance", "appearance expression classifier", True),
}
_REASONER_FLAGS: dict[str, tuple[str, str, bool]] = {"reasoner": ("--reasoner", "reasoning", True)}


def add_perception_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The perception stages' backend flags and ``--model-dir`` (all that ``train`` takes)."""
    group = parser.add_argument_group("pipeline (backends are listed by `fea-agent models list`)")
    _add_stage_flags(group, _PERCEPTION_FLAGS)
    group.add_argument("--model-dir", type=Path, help="folder of model files (default $FEA_AGENT_MODEL_DIR)")
    return group


def _confidence(text: str) -> float:
    """``--min-confidence``'s type: a number from 0 to 1, or argparse's usage error saying so."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also False for NaN
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The per-stage backend flags, ``--reasoner-option KEY=VALUE`` (repeatable), ``--max-faces``,
    ``--expression-model``, ``--min-confidence`` and ``--model-dir``."""
    group = add_perception_arguments(parser)
    _add_stage_flags(group, _REASONER_FLAGS)
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
        help=f"analyse at most N faces per image (default {MAX_FACES})",
    )
    group.add_argument(
        "--expression-model",
        default="default",
        metavar="PATH",
        help="the learned expression model: default (shipped), a file written by `fea-agent train`, or none "
        "for the appearance classifier's label",
    )
    group.add_argument(
        "--min-confidence",
        type=_confidence,
        default=None,
        metavar="P",
        help="name a face's expression only when the answer's confidence reaches P (0-1); below it the face "
        "is 'uncertain between' its two most probable labels (default: always name the most probable)",
    )


def _add_stage_flags(group: argparse._ArgumentGroup, flags: dict[str, tuple[str, str, bool]]) -> None:
    for stage, (flag, what, optional) in flags.items():
        choices = [*names(stage), *(["none"] if optional else [])]  # type: ignore[arg-type]
        group.add_argument(
            flag,
            dest=stage,
            default=DEFAULTS[stage],  # type: ignore[index]
            choices=choices,
            metavar="NAME",
            help=f"{what} backend: {', '.join(choices)} (default {DEFAULTS[stage]})",  # type: ignore[index]
        )


def perception_options(args: argparse.Namespace) -> dict[str, Any]:
    """``FEAPipeline`` keyword arguments from :func:`add_perception_arguments`' flags."""
    out: dict[str, Any] = {
        stage: None if getattr(args, stage) in ("none", "") else getattr(args, stage)
        for stage in _PERCEPTION_FLAGS
    }
    out["model_dir"] = args.model_dir
    return out


def pipeline_options(args: argparse.Namespace) -> dict[str, Any]:
    """``FEAPipeline`` keyword arguments from the shared arguments; ValueError for a malformed option."""
    options: dict[str, str] = {}
    for pair in args.reasoner_option:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--reasoner-option needs KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    out = perception_options(args)
    out["reasoner"] = None if args.reasoner in ("none", "") else args.reasoner
    out["reasoner_options"] = options
    out["expression_model"] = None if args.expression_model in ("none", "") else args.expression_model
    if args.max_faces is not None:
        out["max_faces"] = args.max_faces
    if args.min_confidence is not None:
        out["min_confidence"] = args.min_confidence
    return out
