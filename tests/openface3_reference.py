"""Records what upstream OpenFace 3.0's ``MTL`` class is, for tests that run without it installed.

It writes ``tests/data/openface3_mtl_reference.json``: upstream's state-dict keys and shapes, and its outputs
for deterministic (sine-filled, RNG-free) weights and inputs. Recorded with upstream's own class, without its
dependency pins::

    pip download openface-test==0.1.26 --no-deps -d /tmp/of3 && unzip -q /tmp/of3/*.whl -d /tmp/of3/pkg
    PYTHONPATH=/tmp/of3/pkg:. python tests/openface3_reference.py

``test_openface3.py`` builds this package's ``MTL``, fills it the same way and compares (and compares with
upstream's class directly when ``openface`` is importable).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).parent / "data" / "openface3_mtl_reference.json"


def deterministic_state(state: dict[str, Any]) -> dict[str, Any]:
    """Every tensor filled from a sine of its position (same values on any machine and torch version)."""
    import torch

    out = {}
    for i, (key, value) in enumerate(state.items()):
        if not value.dtype.is_floating_point:
            out[key] = value.clone()
            continue
        wave = torch.sin(torch.arange(value.numel(), dtype=torch.float64) * 0.7 + i).reshape(value.shape)
        if key.endswith("running_var"):
            filled = 1.0 + 0.1 * wave.abs()
        elif value.dim() == 1 and ("bn" in key or key.endswith("bnv.weight")) and key.endswith("weight"):
            filled = 1.0 + 0.1 * wave
        elif value.dim() == 1:
            filled = 0.01 * wave
        else:
            fan_in = value.numel() // value.shape[0]
            filled = wave * math.sqrt(3.0 / fan_in)
        out[key] = filled.to(value.dtype)
    return out


def deterministic_input(batch: int = 2, phase: float = 0.0) -> Any:
    """``batch`` different 224x224 'images' in normalised units."""
    import torch

    n = batch * 3 * 224 * 224
    wave = torch.sin(torch.arange(n, dtype=torch.float64) * 0.013 + phase)
    ramp = torch.linspace(-1.0, 1.0, batch, dtype=torch.float64).repeat_interleave(n // batch)
    return (wave + ramp).reshape(batch, 3, 224, 224).float()


def deterministic_model(model: Any) -> Any:
    """``model`` with sine weights and its batch-norm statistics taken from one deterministic batch.

    Without the second step an untrained EfficientNet's signal dies out before the pooling, and every input
    gives the same features: the comparison would not see the backbone at all.
    """
    import torch

    model.load_state_dict(deterministic_state(model.state_dict()))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(deterministic_input(4, phase=1.0))
    for m in norms:
        m.momentum = 0.1
    return model.eval()


def record(model_class: type) -> dict[str, Any]:
    import timm
    import torch

    model = deterministic_model(model_class())
    with torch.no_grad():
        emotion, gaze, aus = model(deterministic_input())
    return {
        "recorded_with": "PYTHONPATH=/tmp/of3/pkg:. python tests/openface3_reference.py "
        "(openface-test 0.1.26 installed with --no-deps, unzipped)",
        "versions": {"torch": torch.__version__, "timm": timm.__version__},
        "keys": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        "outputs": {"emotion": emotion.tolist(), "gaze": gaze.tolist(), "aus": aus.tolist()},
    }


if __name__ == "__main__":
    from openface.model.MTL import MTL  # upstream's class (openface-test, --no-deps)

    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps(record(MTL), indent=1) + "\n")
    print(f"wrote {REFERENCE}", file=sys.stderr)
