"""``fea-agent train LABELLED_DIR [LABELLED_DIR ...] --out PATH``: train the expression model on labelled photos.

Each folder holds ``labels.csv`` (``file,label``, optional ``person`` for person-grouped validation, any other
columns such as ``gender`` to break accuracy down by). Writes the model at exactly PATH (JSON) and its model card
beside it (PATH with ``.md``); use it with ``--expression-model PATH``. A few thousand photos take minutes on a CPU.

The model learns from what the chosen perception backends measure (``--landmarks``, ``--action-units``,
``--appearance``, ...): train with the backends you will analyse with, and the model records them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fea_agent.cli._options import add_perception_arguments, perception_options
from fea_agent.errors import FEAError


def register(sub: argparse._SubParsersAction) -> None:
    from fea_agent.expression.fit import FitSettings

    d = FitSettings()
    p = sub.add_parser(
        "train",
        help="train the expression model on labelled folders",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("folders", nargs="+", type=Path, metavar="LABELLED_DIR", help="folder(s) with labels.csv")
    p.add_argument(
        "--out", type=Path, required=True, help="where to write the model (JSON); the card goes beside"
    )
    p.add_argument("--name", help="the model's name in results (default: the file name without extension)")
    p.add_argument("--folds", type=int, default=5, help="person-grouped validation folds (default 5)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument(
        "--hidden", type=int, default=d.hidden, help="hidden units; 0: logistic regression (default)"
    )
    p.add_argument("--l2", type=float, default=d.l2, help=f"weight decay (default {d.l2})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"full-batch steps (default {d.epochs})")
    p.add_argument(
        "--prior-strength",
        type=float,
        default=d.prior_strength,
        help="0: every learned label equally likely a priori; 1: as often as in the training data; below 0 "
        f"favours rare labels further, trading accuracy for mean recall (default {d.prior_strength})",
    )
    p.add_argument(
        "--folder-balance",
        type=float,
        default=d.folder_balance,
        help="with several folders, a photo weighs (photos of its label / photos of its label in its folder) "
        f"to this power: 0 counts photos, 1 gives each folder's labels equal say (default {d.folder_balance})",
    )
    p.add_argument(
        "--no-mirror",
        action="store_true",
        help="do not train on the photos' mirror images too (halves the analysis time)",
    )
    p.add_argument(
        "--min-per-label", type=int, default=20, help="labels with fewer photos are not learned (default 20)"
    )
    add_perception_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fea_agent import FEAPipeline
    from fea_agent.expression.fit import FitSettings
    from fea_agent.expression.train import command_line, train

    for folder in args.folders:
        if not (folder / "labels.csv").is_file():
            print(f"fea-agent train: {folder / 'labels.csv'} not found", file=sys.stderr)
            return 2
    settings = FitSettings(
        hidden=args.hidden,
        l2=args.l2,
        epochs=args.epochs,
        prior_strength=args.prior_strength,
        folder_balance=args.folder_balance,
        mirror=not args.no_mirror,
        seed=args.seed,
    )
    last: dict[str, int] = {}

    def progress(folder: str, done: int, total: int) -> None:
        if done == total or done - last.get(folder, 0) >= 100:
            last[folder] = done
            print(f"{folder}: analysed {done}/{total}", file=sys.stderr, flush=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    pipeline = None
    try:
        pipeline = FEAPipeline(reasoner=None, expression_model=None, **perception_options(args))
        result = train(
            args.folders,
            args.out,
            settings=settings,
            folds=args.folds,
            min_per_label=args.min_per_label,
            name=args.name,
            command=command_line(),
            pipeline=pipeline,
            progress=progress,
            log=log,
        )
    except (FEAError, ValueError, FileNotFoundError) as exc:
        print(f"fea-agent train: {exc}", file=sys.stderr)
        return 2
    finally:
        if pipeline is not None:
            pipeline.close()
    for folder, s in result.metrics["folders"].items():
        recall = ", ".join(f"{k} {v:.2f}" for k, v in s["per_class_recall"].items())
        print(
            f"{folder}: accuracy {s['accuracy']:.3f}, mean recall over the learned labels "
            f"{s['mean_recall_learned']:.3f} ({recall})"
        )
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0
