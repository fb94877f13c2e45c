"""``fea-agent demo``: the Gradio demo in the browser (image, video, compare, the AU catalogue)."""

from __future__ import annotations

import argparse
import sys

from fea_agent.cli._options import add_pipeline_arguments, pipeline_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="start the Gradio demo in the browser", description=__doc__)
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument(
        "--share-none",
        action="store_true",
        help="never create a public gradio.live link (the default here: no link is created unless --share)",
    )
    p.add_argument("--share", action="store_true", help="also create a temporary public gradio.live link")
    p.add_argument("--mcp", action="store_true", help="also serve the analysis endpoints as MCP tools")
    add_pipeline_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fea_agent.demo.app import MCP_PATH, build_app, launch
    from fea_agent.errors import FEAError
    from fea_agent.pipeline import FEAPipeline

    if args.share and args.share_none:
        print("fea-agent demo: --share and --share-none contradict each other", file=sys.stderr)
        return 2
    try:
        pipeline = FEAPipeline(**pipeline_options(args))
    except (FEAError, ValueError) as exc:
        print(f"fea-agent demo: {exc}", file=sys.stderr)
        return 2
    print(f"fea-agent demo: models loaded in {pipeline.load_ms / 1000:.1f} s", file=sys.stderr)
    if args.mcp:
        print(f"fea-agent demo: MCP tools at http://{args.host}:{args.port}{MCP_PATH}", file=sys.stderr)
    launch(
        build_app(pipeline),
        port=args.port,
        host=args.host,
        share=args.share and not args.share_none,
        mcp=args.mcp,
    )
    return 0
