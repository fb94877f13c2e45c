"""Model files: the registry of what fea-agent loads, where from, and how it is verified."""

from fea_agent.models.registry import MODELS, ModelSpec, fetch, model_path, verify

__all__ = ["MODELS", "ModelSpec", "fetch", "model_path", "verify"]
