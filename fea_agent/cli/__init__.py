"""The ``fea-agent`` command line. Each subcommand lives in its own module of this package and registers itself
through a ``register(subparsers)`` function listed in :data:`COMMANDS`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from fea_agent import __version__

#: Subcommand modules, in help order. A module that fails to import (an optional extra is missing) still
#: gets its subcommand, which then says what to install.
COMMANDS: tuple[str, ...] = (
    "analyze",
    "models",
    "video",
    "live",
    "batch",
    "serve",
    "demo",
    "train",
    "evaluate",
)

_EXTRA_FOR = {"serve": "mcp", "demo": "demo", "video": "video", "live": "video", "batch": "video"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fea-agent",
        description="Facial emotion analysis: faces, landmarks, head pose, action units, expression, reasoning.",
    )
    parser.add_argument("--version", action="version", version=f"fea-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"fea_agent.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("fea_agent.cli"):
                continue  # not written yet
            _register_missing(sub, name, exc)
            continue
        module.register(sub)
    return parser


def _register_missing(sub: argparse._SubParsersAction, name: str, exc: ModuleNotFoundError) -> None:
    extra = _EXTRA_FOR.get(name, "all")
    p = sub.add_parser(name, help=f"(needs: pip install 'fea-agent[{extra}]')", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    def run(_: argparse.Namespace) -> int:
        print(
            f"fea-agent {name}: the package {exc.name!r} is missing; install it with pip install 'fea-agent[{extra}]'",
            file=sys.stderr,
        )
        return 2

    p.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`fea-agent ... | head`): stop quietly, as Unix tools do. Point stdout at
        # /dev/null so the interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
