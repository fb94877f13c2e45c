"""What the LangChain and LlamaIndex skins share: the tool context (pipeline + image policy) they run with."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fea_agent.agent_tools import ImagePolicy, ToolContext

_lock = threading.Lock()
_default: Any = None


def default_pipeline() -> Any:
    """One pipeline per process for toolkits built without one: models load once, on first use."""
    global _default
    with _lock:
        if _default is None:
            from fea_agent.pipeline import FEAPipeline

            _default = FEAPipeline()
        return _default


def make_policy(allowed_dirs: Iterable[str | os.PathLike[str]] | None) -> ImagePolicy:
    """The image policy of an in-process toolkit: file paths under ``allowed_dirs``; None means the current
    working directory (the developer who builds the toolkit is its operator); ``()`` refuses every path."""
    dirs = [Path.cwd()] if allowed_dirs is None else [Path(d) for d in allowed_dirs]
    return ImagePolicy.allowing(*dirs)


def make_context(pipeline: Any | None, policy: ImagePolicy) -> ToolContext:
    return ToolContext(pipeline if pipeline is not None else default_pipeline(), policy)
