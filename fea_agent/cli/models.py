"""``fea-agent models list|verify|fetch``: the model registry from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fea_agent.errors import ModelFileError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, verify or fetch model files", description=__doc__)
    # --model-dir after the action as well as before it: `fea-agent models verify --model-dir DIR`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--model-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="folder of pre-fetched model files (overrides $FEA_AGENT_MODEL_DIR)",
    )
    p.add_argument("--model-dir", type=Path, default=None, help=argparse.SUPPRESS)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "list", help="registered models, their licence and where each is found", parents=[common]
    )
    verify = actions.add_parser("verify", help="check every found file against its sha256", parents=[common])
    verify.add_argument("names", nargs="*", help="models to verify (default: all)")
    fetch = actions.add_parser("fetch", help="download into the cache and verify", parents=[common])
    fetch.add_argument("names", nargs="*", help="models to fetch (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fea_agent.models import registry

    if args.model_dir is not None:
        os.environ[registry.ENV_MODEL_DIR] = str(args.model_dir.expanduser().resolve())
    if args.action == "list":
        for s in registry.MODELS.values():
            found = next((p for p in registry.candidates(s.name) if p.is_file()), None)
            print(f"{s.name:16} {s.filename:40} {s.licence:11} {found or 'not found'}")
            print(f"{'':16} {s.description}; {s.url}")
        from fea_agent.backends.registry import describe_all

        print("\nbackends (stage, name, device, availability; * marks the default):")
        for b in describe_all():
            state = "available" if b.available else f"not available: {b.reason}"
            print(f"{b.stage:13} {b.name + ('*' if b.default else ''):16} {b.device:5} {state}")
        return 0
    names = args.names or list(registry.MODELS)
    status = 0
    for name in names:
        try:
            if args.action == "fetch":
                path = registry.model_path(name, download=True)
            else:
                s = registry.spec(name)
                path = next((p for p in registry.candidates(name) if p.is_file()), None)
                if path is None:
                    raise ModelFileError(
                        f"{s.filename} not found in {registry.where_looked(name)}; " + registry.how_to_get(s)
                    )
                registry.verify(path, s)
            print(f"ok      {name:16} {path}")
        except ModelFileError as exc:
            print(f"FAILED  {name:16} {exc}", file=sys.stderr)
            status = 1
    return status
