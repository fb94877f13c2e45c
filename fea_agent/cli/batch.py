"""``fea-agent batch DIR|GLOB --out OUT``: analyse every photo and video into one resumable file."""

from __future__ import annotations

import argparse
import signal
import sys

from fea_agent.cli._options import add_pipeline_arguments, pipeline_options
from fea_agent.errors import FEAError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help="analyse folders of photos and videos into one CSV/Parquet/JSONL", description=__doc__
    )
    p.add_argument(
        "inputs", metavar="DIR|GLOB", nargs="+", help="folders (searched recursively), globs or files"
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        help="output file (.csv, .parquet, .jsonl); files it already holds are skipped, so a run can resume",
    )
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local (default) or ray")
    p.add_argument(
        "--address", help="Ray cluster address (e.g. auto, ray://head:10001); default: a local Ray"
    )
    p.add_argument("--workers", type=int, default=2, help="Ray workers, one pipeline each (default 2)")
    p.add_argument("--stride", type=int, default=1, metavar="N", help="videos: analyse every N-th frame")
    p.add_argument(
        "--format",
        choices=("fea-agent", "openface"),
        default="fea-agent",
        help="columns of OUT: fea-agent's (default) or OpenFace 2's, after source and error",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_pipeline_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fea_agent.batch import find_media, output_format, run_batch

    try:
        output_format(args.out)
        options = pipeline_options(args)
        files: list[str] = []
        for spec in args.inputs:
            files.extend(f for f in find_media(spec) if f not in files)
    except (FEAError, ValueError) as exc:
        print(f"fea-agent batch: {exc}", file=sys.stderr)
        return 2
    if not files:
        print(f"fea-agent batch: no image or video files in {' '.join(args.inputs)}", file=sys.stderr)
        return 2
    # A service manager's SIGTERM stops the run as Ctrl-C does: OUT closed whole, the resume hint printed.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = run_batch(
            files,
            args.out,
            engine=args.engine,
            workers=args.workers,
            address=args.address,
            pipeline_options=options,
            video_options={"stride": args.stride},
            progress=not args.no_progress,
            row_format=args.format,
        )
    except FEAError as exc:
        print(f"fea-agent batch: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(
        f"{report.found} files: {report.analysed} analysed, {len(report.failed)} failed, "
        f"{report.skipped} already in {report.out} (skipped); {report.rows} rows written in {report.seconds:.1f} s "
        f"({report.engine})"
    )
    for source in report.failed:
        print(f"  failed: {source}")
    if report.complete:
        return 1 if report.failed else 0
    left = report.found - report.skipped - report.analysed - len(report.failed)
    why = "interrupted" if report.interrupted else f"stopped: {report.stopped}"
    print(
        f"fea-agent batch: {why}; {left} of {report.found} files not done yet. Run the same command again to "
        f"resume: the files already in {report.out} are skipped.",
        file=sys.stderr,
    )
    return 130 if report.interrupted else 3


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
