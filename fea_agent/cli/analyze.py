"""``fea-agent analyze IMAGE...``: analyse photos; readable text, JSON, JSON lines, annotated images."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fea_agent.cli._options import add_pipeline_arguments, pipeline_options
from fea_agent.errors import FEAError, describe_error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse one or more photos", description=__doc__)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, WebP, TIFF, BMP, ...)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", action="store_true", help="print only a JSON list, one object per input, in order"
    )
    fmt.add_argument("--jsonl", action="store_true", help="print one JSON object per line, in input order")
    fmt.add_argument(
        "--format",
        choices=("text", "json", "jsonl", "openface"),
        help="text (default), json, jsonl, or openface: CSV rows in OpenFace 2's columns (one per face)",
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        help="write the annotated image here (a file for one input, a folder for several)",
    )
    p.add_argument("--no-landmarks", action="store_true", help="leave landmarks off the annotated image")
    add_pipeline_arguments(p)
    p.set_defaults(func=run)


def _out_path(out: str, image: str, many: bool) -> Path:
    if not many:
        return Path(out)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{Path(image).stem}_annotated.png"


def _openface_writer():
    """A function that prints one result's OpenFace rows as CSV on stdout, the header before the first."""
    import csv

    from fea_agent.interchange import openface

    writer = csv.DictWriter(sys.stdout, fieldnames=("source", *openface.COLUMNS), extrasaction="ignore")
    writer.writeheader()

    def write(result) -> None:
        writer.writerows(openface.openface_rows(result))
        sys.stdout.flush()

    return write


def run(args: argparse.Namespace) -> int:
    from fea_agent.pipeline import FEAPipeline
    from fea_agent.render import format_result, save_annotated

    args.json = args.json or args.format == "json"
    args.jsonl = args.jsonl or args.format == "jsonl"
    table = _openface_writer() if args.format == "openface" else None
    try:
        pipeline = FEAPipeline(**pipeline_options(args))
    except (FEAError, ValueError) as exc:
        print(f"fea-agent: {exc}", file=sys.stderr)
        return 2
    failed: list[str] = []
    records: list[dict] = []
    many = len(args.images) > 1
    for image in args.images:
        try:
            analysis = pipeline.run(image)
            result = analysis.result
            if args.out:
                target = _out_path(args.out, image, many)
                save_annotated(analysis.rgb, result, str(target), landmarks=not args.no_landmarks)
        except Exception as exc:  # one bad input must not lose the others' results (FEAError or not)
            failed.append(image)
            message = describe_error(exc)
            if args.json or args.jsonl:
                record = {"source": image, "error": message}
                records.append(record)
                if args.jsonl:
                    print(json.dumps(record), flush=True)
            elif table is not None:
                print(f"{image}: error: {message}", file=sys.stderr, flush=True)
            else:
                print(f"{image}: error: {message}", flush=True)
            continue
        if table is not None:
            table(result)
        elif args.jsonl:
            print(result.model_dump_json(), flush=True)
        elif args.json:
            records.append(result.model_dump(mode="json"))
        else:
            print(format_result(result), flush=True)
    if args.json:
        print(json.dumps(records))
    pipeline.close()
    if failed:
        print(
            f"fea-agent: {len(failed)} of {len(args.images)} inputs failed: {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0
