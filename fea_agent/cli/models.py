"""``fea-agent models list|verify|fetch``: the model registry from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fea_agent.errors import ModelFileError

if TYPE_CHECKING:
    from fea_agent.backends.registry import BackendStatus


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
    verify = actions.add_parser(
        "verify", help="check files against their pin (sha256 or git blob id)", parents=[common]
    )
    verify.add_argument(
        "names", nargs="*", help="models to verify (default: the default backends' and every file found)"
    )
    fetch = actions.add_parser("fetch", help="download into the cache and verify", parents=[common])
    fetch.add_argument(
        "names", nargs="*", help="models to fetch (default: the default backends'; others by name)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fea_agent.models import registry

    if args.model_dir is not None:
        os.environ[registry.ENV_MODEL_DIR] = str(args.model_dir.expanduser().resolve())
    if args.action == "list":
        list_models()
        return 0
    names = args.names or default_names(found=args.action == "verify")
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
            print(f"ok      {name:30} {path}")
        except ModelFileError as exc:
            print(f"FAILED  {name:30} {exc}", file=sys.stderr)
            status = 1
    return status


def default_names(*, found: bool) -> list[str]:
    """The files the default backends need, plus (``found``) every other registered file that is here.

    Optional backends' weights (some non-commercial) are fetched only when named.
    """
    from fea_agent.backends.registry import BACKENDS, DEFAULTS
    from fea_agent.models import registry

    wanted = {m for (stage, name), b in BACKENDS.items() if DEFAULTS[stage] == name for m in b.models}
    if found:
        wanted |= {n for n in registry.MODELS if any(p.is_file() for p in registry.candidates(n))}
    return [n for n in registry.MODELS if n in wanted]


def list_models() -> None:
    """Every model file (where it is found, its pin and licence), then every backend and whether it runs here."""
    from fea_agent.backends.registry import describe_all
    from fea_agent.models import registry

    for s in registry.MODELS.values():
        found = next((p for p in registry.candidates(s.name) if p.is_file()), None)
        backend = f"[{s.backend}] " if s.backend else ""
        print(f"{s.name:30} {s.filename:40} {found or 'not found'}")
        print(f"{'':30} {backend}{s.description}; {s.url}")
        flag = " (NON-COMMERCIAL)" if s.non_commercial and "non-commercial" not in s.licence else ""
        print(f"{'':30} licence: {s.licence}{flag}; {s.pin}")
    print()
    print("backends (stage, name, device here, state):")
    for b in describe_all():
        extra = f" [extra: {b.extra}]" if b.extra else ""
        files = f" files: {', '.join(b.models)};" if b.models else ""
        default = " (default)" if b.default else ""
        print(f"  {b.stage:13} {b.name + default:22} {b.device:5}{files}{extra} {backend_state(b)}")


def backend_state(b: BackendStatus) -> str:
    """'ready' only when the backend's code is installed and its files are here; otherwise what is missing."""
    from fea_agent.models import registry

    if not b.available:
        return f"not available: {b.reason}"
    missing = [m for m in b.models if not any(p.is_file() for p in registry.candidates(m))]
    if not missing:
        return "ready"
    later = "downloaded on first use, or" if registry.can_download() else "get them with"
    return f"installed, but its files are not here ({later} `fea-agent models fetch {' '.join(missing)}`)"
