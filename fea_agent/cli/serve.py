"""``fea-agent serve mcp``: the facial-analysis tools as an MCP server over stdio (default) or streamable HTTP.

fea-agent serve mcp                                   # stdio, all tools: what MCP hosts launch
fea-agent serve mcp --allow-dir ~/Pictures            # also read image paths under ~/Pictures
FEA_AGENT_TOKEN=... fea-agent serve mcp --transport http --port 8765     # http://127.0.0.1:8765/mcp
"""

from __future__ import annotations

import argparse
import logging
import sys

from fea_agent.cli._options import add_pipeline_arguments, pipeline_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the tools (MCP)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keep the examples one per line
    )
    kinds = p.add_subparsers(dest="server", required=True, metavar="SERVER")
    m = kinds.add_parser(
        "mcp",
        help="MCP server over stdio or streamable HTTP",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument(
        "--tools",
        choices=("perception", "reasoning", "all"),
        default="all",
        help="tool set: perception (faces, AUs, expression, video, analyze_face), reasoning (explain_emotion, "
        "describe_action_unit, analyze_face) or all (default)",
    )
    m.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    m.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    m.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765); the endpoint is /mcp")
    m.add_argument(
        "--allow-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="accept image and video file paths under DIR (repeatable); none by default: images come inline",
    )
    m.add_argument(
        "--workers", type=int, default=None, help="pipelines for parallel calls (default: CPUs, max 4)"
    )
    m.add_argument(
        "--max-request-mb", type=float, default=None, help="HTTP request size limit in MB (default about 34)"
    )
    m.add_argument(
        "--tool-text",
        choices=("summary", "json"),
        default="summary",
        help="what a tool result's text holds beside its structured content: a readable summary (default, "
        "fewer tokens for the model) or the same JSON (for clients that parse the text)",
    )
    m.add_argument(
        "--no-auth",
        action="store_true",
        help="HTTP on a loopback address without a token (refused for any other address)",
    )
    add_pipeline_arguments(m)
    m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fea_agent.agent_tools import ImagePolicy
    from fea_agent.errors import FEAError
    from fea_agent.mcp import Runtime, build_server
    from fea_agent.mcp.connections import HttpLimits
    from fea_agent.mcp.http import MAX_REQUEST_BYTES, resolve_token, run_http
    from fea_agent.mcp.runtime import default_workers

    # stdout carries the protocol over stdio: logs go to stderr only.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    try:
        policy = ImagePolicy.allowing(*args.allow_dir)
        token = limits = None
        if args.transport == "http":
            token = resolve_token(args.host, allow_no_auth=args.no_auth)
            limits = HttpLimits.from_env()
    except ValueError as exc:
        print(f"fea-agent serve mcp: {exc}", file=sys.stderr)
        return 2
    try:
        options = pipeline_options(args)
    except ValueError as exc:
        print(f"fea-agent serve mcp: {exc}", file=sys.stderr)
        return 2
    runtime = Runtime(policy=policy, workers=args.workers or default_workers(), pipeline_options=options)
    try:
        runtime.load()  # once, before the first client: a model problem stops the server here, clearly
    except FEAError as exc:
        print(f"fea-agent serve mcp: {exc}", file=sys.stderr)
        return 2
    server = build_server(
        runtime, tools=args.tools, host=args.host, port=args.port, text_content=args.tool_text
    )
    try:
        if args.transport == "stdio":
            server.run("stdio")
        else:
            limit = int(args.max_request_mb * 1024 * 1024) if args.max_request_mb else MAX_REQUEST_BYTES
            print(
                f"fea-agent MCP ({args.tools} tools) on http://{args.host}:{args.port}/mcp"
                + (" (bearer token required)" if token else " (no auth, loopback only)"),
                file=sys.stderr,
                flush=True,
            )
            run_http(
                server, host=args.host, port=args.port, token=token, max_request_bytes=limit, limits=limits
            )
    finally:
        runtime.close()
    return 0
