"""``fea-agent video IN.mp4 --out OUT.csv``: analyse a video frame by frame, with a per-face summary.

With ``--out``, the episodes (one row each: expression episodes, AU events, spans where the face cannot be
read) go to a second file beside OUT, named ``OUT_episodes`` with OUT's ending; ``--timeline`` prints them in
words instead of the summary."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fea_agent.cli._options import add_pipeline_arguments, pipeline_options
from fea_agent.errors import FEAError
from fea_agent.results import VideoSummary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video", help="analyse a video: per-frame rows and a per-face summary", description=__doc__
    )
    p.add_argument("video", metavar="IN", help="video file (MP4, MOV, AVI, MKV, WebM, ...)")
    p.add_argument(
        "--out", metavar="OUT", help="write one row per face per frame to OUT (.csv, .parquet, .jsonl)"
    )
    p.add_argument("--stride", type=int, default=1, metavar="N", help="analyse every N-th frame (default 1)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N analysed frames")
    p.add_argument(
        "--smooth",
        nargs="?",
        const=0.5,
        type=float,
        metavar="ALPHA",
        help="smooth AUs and expression over time (EMA; weight of the new frame, default 0.5)",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="add AUxx_change columns: intensity minus the face's neutral level",
    )
    p.add_argument(
        "--no-tracking",
        action="store_true",
        help="detect faces on every frame instead of tracking them (slower)",
    )
    p.add_argument(
        "--format",
        choices=("fea-agent", "openface"),
        default="fea-agent",
        help="columns of OUT: fea-agent's (default) or OpenFace 2's (AU01_r, AU01_c, pose_Rx, gaze_angle_x, x_0, ...)",
    )
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="draw AU intensities and expression probabilities over time into PNG, episodes as bands behind",
    )
    p.add_argument(
        "--timeline",
        action="store_true",
        help="print the timeline of episodes (when each expression and AU starts, peaks and ends) instead of "
        "the summary",
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary (with its episodes) as JSON instead of text"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_pipeline_arguments(p)
    p.set_defaults(func=run)


def format_summary(summary: VideoSummary, seconds: float | None = None) -> str:
    """A few readable lines: frames, then per face its dominant expression, most active AUs and peaks."""
    speed = f", {summary.frames / seconds:.1f} frames/s" if seconds else ""
    lines = [
        f"{summary.source}: {summary.frames} frames analysed ({summary.frames_with_faces} with a face), "
        f"{summary.duration_s:.1f} s of video{speed}"
    ]
    if not summary.faces:
        lines.append("  no face found")
    for face in summary.faces:
        share = face.expression_share.get(face.dominant_expression, 0.0)
        active = sorted(face.au_activation.items(), key=lambda kv: -kv[1])[:4]
        peaks = sorted(face.au_peaks.items(), key=lambda kv: -kv[1].value)[:3]
        lines.append(
            f"  face {face.face_id}: {face.frames} frames ({face.first_s:.1f}-{face.last_s:.1f} s), "
            f"mostly {face.dominant_expression} ({share:.0%})"
        )
        others = [f"{k} {v:.0%}" for k, v in face.expression_share.items() if k != face.dominant_expression][
            :3
        ]
        if others:
            lines.append(f"    also: {', '.join(others)}")
        lines.append(
            "    AUs most often active: " + ", ".join(f"{k} {v:.0%}" for k, v in active if v > 0) or "none"
        )
        lines.append(
            "    peaks: " + ", ".join(f"{k} {p.value:.1f} at {p.timestamp_s:.1f} s" for k, p in peaks)
        )
    return "\n".join(lines)


def episodes_path(out: str) -> Path:
    """Where the episodes table goes beside OUT: ``clip.csv`` -> ``clip_episodes.csv``."""
    path = Path(out)
    return path.with_name(f"{path.stem}_episodes{path.suffix}")


def write_episodes(summary: VideoSummary, out: str) -> Path:
    """The episodes table beside OUT, in OUT's format (CSV, Parquet or JSON lines)."""
    from fea_agent.batch.writers import output_format
    from fea_agent.video.dataframe import episodes_dataframe

    path, table = episodes_path(out), episodes_dataframe(summary)
    kind = output_format(out)
    if kind == "csv":
        table.to_csv(path, index=False)
    elif kind == "parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_json(path, orient="records", lines=True)
    return path


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fea_agent.batch.writers import BATCH_COLUMNS, ResultWriter, output_format
    from fea_agent.interchange import openface
    from fea_agent.io.video import VideoReader
    from fea_agent.pipeline import FEAPipeline
    from fea_agent.video import frame_rows
    from fea_agent.video.dataframe import CHANGE_COLUMNS
    from fea_agent.video.summary import Summarizer

    try:
        if args.out:
            output_format(args.out)
        # A bad file fails before the models load.
        VideoReader(args.video, stride=args.stride, max_frames=args.max_frames).close()
        pipeline = FEAPipeline(**pipeline_options(args))
    except (FEAError, ValueError) as exc:
        print(f"fea-agent video: {exc}", file=sys.stderr)
        return 2
    bar = tqdm(unit="frame", file=sys.stderr, disable=args.no_progress, dynamic_ncols=True)

    def progress(done: int, total: int | None) -> None:
        if bar.total is None and total is not None:
            bar.total = total
        bar.update(done - bar.n)

    summarizer = Summarizer()
    writer = None
    started = time.perf_counter()
    try:
        frames = pipeline.analyze_video(
            args.video,
            stride=args.stride,
            tracking=not args.no_tracking,
            progress=progress,
            smooth=args.smooth,
            baseline=args.baseline,
            max_frames=args.max_frames,
        )
        columns = (*BATCH_COLUMNS, *CHANGE_COLUMNS) if args.baseline else BATCH_COLUMNS
        rows_of = frame_rows
        if args.format == "openface":
            columns, rows_of = openface.COLUMNS, openface.openface_rows
        writer = ResultWriter(args.out, resume=False, columns=columns) if args.out else None
        plotted: list[dict] = []
        for result in frames:
            summarizer.add(result)
            if writer is not None:
                writer.write_source(rows_of(result))
            if args.plot:
                plotted.extend(frame_rows(result))
    except (FEAError, ValueError) as exc:
        bar.close()
        print(f"fea-agent video: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        pipeline.close()
    summary = summarizer.summary()
    seconds = time.perf_counter() - started
    if args.plot:
        import pandas as pd

        from fea_agent.render.plots import video_time_series

        try:
            video_time_series(pd.DataFrame.from_records(plotted), args.plot, summary=summary)
        except FEAError as exc:
            print(f"fea-agent video: {exc}", file=sys.stderr)
            return 2
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.json:
        print(summary.model_dump_json(indent=2))
    elif args.timeline:
        from fea_agent.video.timeline import timeline_text

        print(timeline_text(summary))
    else:
        print(format_summary(summary, seconds))
    if args.out:
        print(f"rows written to {args.out}", file=sys.stderr)
        print(f"episodes written to {write_episodes(summary, args.out)}", file=sys.stderr)
    return 0
