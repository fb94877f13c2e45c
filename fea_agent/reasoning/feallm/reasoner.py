"""The ``feallm`` reasoner: a trained FEALLM checkpoint reads each usable face (batched, CUDA + bf16 if present)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fea_agent.backends.context import BuildContext
from fea_agent.errors import BackendUnavailableError
from fea_agent.reasoning.prompting import abstention, apply_answer
from fea_agent.results import Face

ENV_CHECKPOINT = "FEA_AGENT_FEALLM_CHECKPOINT"


class FEALLMReasonerOptions(BaseModel):
    """Options of the ``feallm`` reasoner."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: Path | None = Field(None, description=f"FEALLM checkpoint folder; default ${ENV_CHECKPOINT}.")
    device: str | None = Field(None, description="'cuda', 'cuda:1', 'cpu'; default CUDA when present.")
    batch_size: int = Field(8, ge=1, description="Faces generated together.")
    max_new_tokens: int | None = Field(None, ge=1, description="Default: the checkpoint's setting.")


class FEALLMReasoner:
    """Emotion reasoning by our FEALLM implementation; refuses to run without trained weights."""

    name = "feallm"

    def __init__(self, **options: Any) -> None:
        from fea_agent.reasoning.feallm.model import HOW_TO_GET

        opts = FEALLMReasonerOptions(**options)
        checkpoint = opts.checkpoint or (
            Path(os.environ[ENV_CHECKPOINT]) if os.environ.get(ENV_CHECKPOINT) else None
        )
        if checkpoint is None:
            raise BackendUnavailableError(f"the feallm reasoner needs a trained checkpoint. {HOW_TO_GET}")
        if not checkpoint.is_dir():
            raise BackendUnavailableError(
                f"FEALLM checkpoint folder {checkpoint} does not exist. {HOW_TO_GET}"
            )
        from fea_agent.reasoning.feallm.model import FEALLM

        self.options = opts
        self.model = FEALLM.from_pretrained(checkpoint, device=opts.device)
        self.device = f"{self.model.device} ({str(self.model.dtype).removeprefix('torch.')})"

    def reason(
        self,
        faces: list[Face],
        rgb: np.ndarray | None = None,
        appearance: Sequence[dict[str, float] | None] | None = None,
    ) -> list[Face]:
        """Generate an answer for every usable face, ``batch_size`` at a time; unusable faces abstain."""
        from fea_agent.reasoning.feallm.data import face_inputs, pixel_values, prompt_for

        if rgb is None:
            raise BackendUnavailableError("the feallm reasoner needs the image (rgb) to see the face")
        import torch

        out = [abstention(f, self.name) or f for f in faces]
        todo = [i for i, f in enumerate(faces) if out[i] is f]
        with_aus, instruction = self.model.config.with_aus, self.model.config.instruction
        for start in range(0, len(todo), self.options.batch_size):
            chunk = todo[start : start + self.options.batch_size]
            inputs = [face_inputs(rgb, faces[i]) for i in chunk]
            pixels = pixel_values(self.model.image_processor, [c for c, _ in inputs])
            boxes = torch.from_numpy(np.stack([b for _, b in inputs]))
            prompts = [prompt_for(faces[i], None, with_aus, instruction) for i in chunk]
            answers = self.model.generate(pixels, boxes, prompts, max_new_tokens=self.options.max_new_tokens)
            for i, answer in zip(chunk, answers, strict=True):
                out[i] = apply_answer(
                    faces[i], answer.parsed, confidence=answer.label_probability, reasoner=self.name
                )
        return out


def load_feallm_reasoner(ctx: BuildContext) -> FEALLMReasoner:
    """The backend registry's factory: the reasoner with the pipeline's ``reasoner_options``."""
    return FEALLMReasoner(**ctx.options)
