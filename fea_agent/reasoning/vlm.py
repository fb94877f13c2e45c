"""The ``vlm`` reasoner: any transformers image-text-to-text model reads the face crop and the measured AUs.

Give it a Hugging Face id or a local folder (``reasoner_options={"model": ...}`` or ``$FEA_AGENT_VLM_MODEL``):
a Qwen2.5-VL-based FER model such as UniFER-7B, Face-LLaVA, a LLaVA, an Idefics... anything that
``AutoProcessor`` + ``AutoModelForImageTextToText`` load. It runs on CUDA in bf16 when present, batched, with
greedy decoding; the answer is parsed by :mod:`fea_agent.reasoning.prompting` into the typed result.
Image processors are the PIL ("slow") ones, so torchvision is not needed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fea_agent.backends.context import BuildContext
from fea_agent.errors import BackendUnavailableError
from fea_agent.reasoning.prompting import abstention, apply_answer, build_prompt, face_crop, parse_answer
from fea_agent.results import Face

ENV_MODEL = "FEA_AGENT_VLM_MODEL"


class VLMReasonerOptions(BaseModel):
    """Options of the ``vlm`` reasoner."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description=f"HF id or local folder; default ${ENV_MODEL}.")
    device: str | None = Field(None, description="'cuda', 'cpu'...; default CUDA when present.")
    batch_size: int = Field(4, ge=1, description="Faces generated together.")
    max_new_tokens: int = Field(160, ge=1)
    with_aus: bool = Field(True, description="Give the model the measured AUs as text.")
    local_files_only: bool = Field(False, description="Never download; load only what is on disk.")


def _load_processor(auto: Any, model_id: str, local_files_only: bool) -> Any:
    # PIL image processing ("slow" processors): no torchvision needed.
    try:
        return auto.from_pretrained(model_id, backend="pil", local_files_only=local_files_only)
    except TypeError:  # transformers releases before the ``backend`` argument
        return auto.from_pretrained(model_id, use_fast=False, local_files_only=local_files_only)


class VLMReasoner:
    """Emotion reasoning by a Hugging Face vision-language model."""

    name = "vlm"

    def __init__(self, **options: Any) -> None:
        opts = VLMReasonerOptions(**options)
        model_id = opts.model or os.environ.get(ENV_MODEL)
        if not model_id:
            raise BackendUnavailableError(
                "the vlm reasoner needs a model: pass reasoner_options={'model': 'org/name-or-folder'} or set "
                f"{ENV_MODEL} (any image-text-to-text model transformers loads, e.g. a Qwen2.5-VL FER model)"
            )
        try:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BackendUnavailableError(
                "the vlm reasoner needs torch and transformers: pip install 'fea-agent[feallm]'"
            ) from exc
        device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
        bf16 = device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if bf16 else torch.float32
        try:
            self.processor = _load_processor(AutoProcessor, model_id, opts.local_files_only)
            self.model = AutoModelForImageTextToText.from_pretrained(
                model_id, dtype=dtype, local_files_only=opts.local_files_only
            )
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(
                f"cannot load the VLM {model_id!r} as an image-text-to-text model: {str(exc).splitlines()[0]}"
            ) from exc
        self.model.to(device).eval()
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # generation continues from the right end of every row
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
        self.options = opts
        self.model_id = model_id
        self.device = f"{device} ({str(dtype).removeprefix('torch.')})"
        self._torch = torch

    def _chat_text(self, prompt: str) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(messages, add_generation_prompt=True)
        image_token = getattr(self.processor, "image_token", "<image>")
        return f"USER: {image_token}\n{prompt}\nASSISTANT:"

    def reason(
        self,
        faces: list[Face],
        rgb: np.ndarray | None = None,
        appearance: Sequence[dict[str, float] | None] | None = None,
    ) -> list[Face]:
        """Generate an answer for every usable face, ``batch_size`` at a time; unusable faces abstain."""
        if rgb is None:
            raise BackendUnavailableError("the vlm reasoner needs the image (rgb) to show the model the face")
        out = [abstention(f, self.name) or f for f in faces]
        todo = [i for i, f in enumerate(faces) if out[i] is f]
        for start in range(0, len(todo), self.options.batch_size):
            chunk = todo[start : start + self.options.batch_size]
            answers = self.generate(
                [face_crop(rgb, faces[i]) for i in chunk],
                [build_prompt(faces[i], with_aus=self.options.with_aus) for i in chunk],
            )
            for i, (text, confidence) in zip(chunk, answers, strict=True):
                out[i] = apply_answer(faces[i], parse_answer(text), confidence=confidence, reasoner=self.name)
        return out

    def generate(self, crops: list[np.ndarray], prompts: list[str]) -> list[tuple[str, float | None]]:
        """Greedy answers for face crops and prompts: (text, probability of the label tokens) each."""
        from PIL import Image

        torch = self._torch
        inputs = self.processor(
            images=[Image.fromarray(c) for c in crops],
            text=[self._chat_text(p) for p in prompts],
            return_tensors="pt",
            padding=True,
        ).to(self.model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        with torch.no_grad():
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.options.max_new_tokens,
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
            )
        start = inputs["input_ids"].shape[1]
        tokenizer = self.processor.tokenizer
        results = []
        for row in range(len(prompts)):
            new = out.sequences[row, start:]
            text = tokenizer.decode(new, skip_special_tokens=True).strip()
            total, head = 0.0, ""
            for step, token in enumerate(new.tolist()):
                if token == tokenizer.eos_token_id or step >= len(out.scores):
                    break
                total += float(torch.log_softmax(out.scores[step][row].float(), dim=-1)[token])
                head += tokenizer.decode([token])
                if "." in head or len(head.strip()) > 16:
                    break
            results.append((text, math.exp(total) if head else None))
        return results


def load_vlm_reasoner(ctx: BuildContext) -> VLMReasoner:
    """The backend registry's factory: the reasoner with the pipeline's ``reasoner_options``."""
    return VLMReasoner(**ctx.options)
