"""``fea-agent evaluate PATH [PATH ...]``: the report card of the pipeline on labelled data.

PATH is one of:

* **labelled folders**, each with ``labels.csv`` (``file,label``, ``person`` or ``face_id`` naming whose photo
  it is, and any group columns such as ``gender``, ``ethnicity``, ``age``): accuracy, recall and precision per
  class, confusion, mean recall of the main six classes, expected calibration error and the coverage curve, the
  share of labels that change when the photo is mirrored, the same broken down by every group column, AU
  validity (per AU, how often it fires on each labelled class and its AUC against neutral faces) and checks of
  the reasoning text (a core AU of the answer cited, third-label answers). Folders the expression model was
  trained on are answered by a person-grouped cross-validation of its recipe (``--folds``), so the figures
  are those of people it never saw;
* an **expression model** file (``.json``, from ``fea-agent train``): the card of its training run;
* a **FACS-coded CSV**: per-AU F1 and intensity correlation against the codes (``--images``, ``--present-at``).

Markdown goes to stdout (or ``--markdown FILE``), the full report as JSON to ``--json FILE``. Nothing else is
written: photos and their analyses stay in memory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fea_agent.cli._options import add_perception_arguments, perception_options
from fea_agent.errors import FEAError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="the report card on labelled photos (accuracy, calibration, mirror steadiness, AU validity)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="labelled folder(s), a model .json or a FACS-coded .csv",
    )
    p.add_argument(
        "--expression-model",
        default="default",
        metavar="PATH",
        help="the expression model to evaluate: default (shipped) or a file written by `fea-agent train`",
    )
    p.add_argument(
        "--folds",
        type=int,
        default=None,
        help="person-grouped cross-validation folds; 0 scores the model as given even on its training data "
        "(default: 5 when a folder is in the model's training data, else 0)",
    )
    p.add_argument("--no-mirror", action="store_true", help="skip the mirror check (halves the time)")
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the first N photos of each folder"
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the full report as JSON")
    p.add_argument(
        "--markdown", type=Path, metavar="FILE", help="write the Markdown report here, not to stdout"
    )
    p.add_argument("--images", type=Path, help="FACS-coded CSV: folder the image paths are relative to")
    p.add_argument(
        "--present-at", type=float, default=1.0, help="FACS-coded CSV: coded level counted as present"
    )
    add_perception_arguments(p)
    p.set_defaults(func=run)


def _progress(folder: str, done: int, total: int) -> None:
    if sys.stderr.isatty() or done == total:
        end = "\n" if done == total else ""
        print(f"\r{folder}: analysed {done}/{total}", end=end, file=sys.stderr, flush=True)


def _write(text: str, path: Path | None) -> None:
    if path is None:
        print(text)
    else:
        path.write_text(text + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    from fea_agent import FEAPipeline
    from fea_agent.evaluation.facs_codes import evaluate_facs_csv, format_facs_report
    from fea_agent.evaluation.folders import evaluate_folders
    from fea_agent.evaluation.markdown import to_markdown
    from fea_agent.expression.model import ExpressionModel, load_expression_model
    from fea_agent.expression.train import model_card
    from fea_agent.reasoning.facs import FACSReasoner

    for path in args.paths:
        if not path.exists():
            print(f"fea-agent evaluate: {path} does not exist", file=sys.stderr)
            return 2
    folders = [p for p in args.paths if p.is_dir()]
    files = [p for p in args.paths if not p.is_dir()]
    if (folders and files) or len(files) > 1:
        print(
            "fea-agent evaluate: give labelled folders, or one model .json, or one FACS-coded .csv",
            file=sys.stderr,
        )
        return 2
    try:
        if files and files[0].suffix == ".json":
            _write(model_card(ExpressionModel.load(files[0]), files[0]), args.markdown)
            return 0
        with FEAPipeline(reasoner=None, expression_model=None, **perception_options(args)) as pipeline:
            if files:
                report = evaluate_facs_csv(
                    files[0],
                    lambda p: pipeline.run(p, source=str(p), reasoner=None).faces,
                    images=args.images,
                    present_at=args.present_at,
                )
                _write(format_facs_report(report), args.markdown)
                return 0
            for folder in folders:
                if not (folder / "labels.csv").is_file():
                    print(f"fea-agent evaluate: {folder / 'labels.csv'} not found", file=sys.stderr)
                    return 2
            model = load_expression_model(args.expression_model)
            if model is None:
                print(
                    "fea-agent evaluate: --expression-model none: there is no model to evaluate",
                    file=sys.stderr,
                )
                return 2
            card = evaluate_folders(
                folders,
                pipeline,
                model,
                FACSReasoner(),
                folds=args.folds,
                mirror=not args.no_mirror,
                limit=args.limit,
                progress=_progress,
                log=lambda m: print(m, file=sys.stderr, flush=True),
            )
    except (FEAError, ValueError, FileNotFoundError) as exc:
        print(f"fea-agent evaluate: {exc}", file=sys.stderr)
        return 2
    if args.json is not None:
        args.json.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    _write(to_markdown(card), args.markdown)
    return 0
