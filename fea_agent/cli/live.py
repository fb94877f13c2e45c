"""``fea-agent live --source SOURCE``: analyse a camera, a stream or a file as it plays, one line per frame.

Frames the analysis cannot keep up with are dropped, never queued, so the output stays live. A file plays at
its own frame rate and ends at its last frame (exit 0). The last line says how many frames were analysed and
how many dropped.

examples:
  fea-agent live --source 0                         # the first camera (OpenCV index)
  fea-agent live --source rtsp://host/stream --out live.csv
  fea-agent live --source clip.mp4 --format openface --out clip_openface.csv
  fea-agent live --source 0 --events                # episode starts and ends as JSON lines

With --events, stdout carries one JSON object per episode start or end (fea_agent.video.EpisodeEvent:
event, face_id, at_s, episode) as soon as it is known, instead of the per-frame lines: a start about 0.3 s
after the onset, an end about 0.3 s after the offset (video time), plus the analysis' own latency.
"""

from __future__ import annotations

import argparse
import signal
import sys

from fea_agent.cli._options import add_pipeline_arguments, pipeline_options
from fea_agent.errors import FEAError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "live",
        help="analyse a camera, stream or file live, dropping frames rather than falling behind",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--source",
        required=True,
        help="camera index (0, 1, ...), stream URL (rtsp://, http://) or video file",
    )
    p.add_argument(
        "--out", metavar="OUT", help="also write the rows to OUT (.csv, .parquet, .jsonl), as video does"
    )
    p.add_argument(
        "--format",
        choices=("fea-agent", "openface"),
        default="fea-agent",
        help="columns of OUT: fea-agent's (default) or OpenFace 2's",
    )
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N analysed frames")
    p.add_argument(
        "--preview",
        action="store_true",
        help="show the annotated frames in a window (needs a display; refused at once without one)",
    )
    p.add_argument("--quiet", action="store_true", help="no per-frame lines, only the last one")
    p.add_argument(
        "--events",
        action="store_true",
        help="print episode starts and ends as JSON lines as they happen, instead of the per-frame lines",
    )
    add_pipeline_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fea_agent.batch.writers import BATCH_COLUMNS, ResultWriter, output_format
    from fea_agent.interchange import openface
    from fea_agent.pipeline import FEAPipeline
    from fea_agent.video.dataframe import frame_rows
    from fea_agent.video.live import LiveSession, frame_line, preview_unavailable

    if args.preview and (reason := preview_unavailable()) is not None:  # before the models and OUT
        print(f"fea-agent live: {reason}", file=sys.stderr)
        return 2
    columns, rows_of = BATCH_COLUMNS, frame_rows
    if args.format == "openface":
        columns, rows_of = openface.COLUMNS, openface.openface_rows
    try:
        if args.out:
            output_format(args.out)
        pipeline = FEAPipeline(**pipeline_options(args))
        session = LiveSession(args.source, pipeline, preview=args.preview, max_frames=args.max_frames)
    except (FEAError, ValueError) as exc:
        print(f"fea-agent live: {exc}", file=sys.stderr)
        return 2
    writer = ResultWriter(args.out, resume=False, columns=columns) if args.out else None

    def on_result(result) -> None:
        if writer is not None:
            writer.write_source(rows_of(result))
        if not args.quiet and not args.events:
            print(frame_line(result), flush=True)

    def on_event(event) -> None:
        print(event.model_dump_json(), flush=True)

    # Ctrl-C (or a service manager's SIGTERM) ends a camera run cleanly, with the last line.
    previous = signal.signal(signal.SIGTERM, lambda *_: session.stop())
    try:
        stats = session.run(on_result, on_event if args.events else None)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if writer is not None:
            writer.close()
        pipeline.close()
    print(
        f"{stats.line()} in {stats.seconds:.1f} s, at most {stats.max_latency_s * 1000:.0f} ms behind",
        flush=True,
    )
    if args.out:
        print(f"rows written to {args.out}", file=sys.stderr)
    return 0
