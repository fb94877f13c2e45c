"""Which accelerator a backend can use: one answer for every torch and onnxruntime backend."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

#: Set to "cpu" to keep every backend off the GPU, or to "cuda:1" to choose a GPU.
ENV_DEVICE = "FEA_AGENT_DEVICE"


@lru_cache(maxsize=1)
def best_device() -> str:
    """'cuda' (or ``$FEA_AGENT_DEVICE``) when torch is installed and sees a GPU, else 'cpu'.

    torch is not imported when it is not installed, and only asked when a backend needs an answer.
    """
    wanted = os.environ.get(ENV_DEVICE)
    if wanted:
        return wanted
    if importlib.util.find_spec("torch") is None:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def onnx_providers() -> list[str]:
    """onnxruntime's execution providers in order of preference: CUDA first when it is installed and wanted."""
    import onnxruntime

    have = onnxruntime.get_available_providers()
    if os.environ.get(ENV_DEVICE, "").startswith("cpu"):
        return ["CPUExecutionProvider"]
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]
