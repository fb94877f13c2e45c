"""The FEALLM model: a frozen HF vision encoder, the two trained vision modules, a frozen causal LM with LoRA.

The language model reads ``[visual tokens][F_local][prompt]`` and writes FEALLM's answer form
("<Label>. <description grounded in facial actions>"). Only the Local Clue Aggregator, the Multi-perspective
Projector and the LoRA adapters are trained; a checkpoint holds just those (``model.safetensors``) and a
``feallm_config.json`` naming the base encoder and LM (hub ids or local folders).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from fea_agent.errors import BackendUnavailableError
from fea_agent.reasoning.feallm.modules import LocalClueAggregator, MultiPerspectiveProjector
from fea_agent.reasoning.prompting import INSTRUCTION, ParsedAnswer, parse_answer

CONFIG_NAME = "feallm_config.json"
WEIGHTS_NAME = "model.safetensors"
IGNORE_INDEX = -100


class FEALLMConfig(BaseModel):
    """What a FEALLM checkpoint is made of; saved as ``feallm_config.json``."""

    model_config = ConfigDict(extra="forbid")

    vision_model: str = Field(description="HF id or folder of the vision encoder (ViT, SigLIP, CLIP...).")
    language_model: str = Field(description="HF id or folder of the causal LM (and its tokenizer).")
    instruction: str = Field(INSTRUCTION, description="The question the reasoner asks about each face.")
    prompt_template: str = Field(
        "USER: {prompt}\nASSISTANT:", description="How the question is put to the LM."
    )
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, le=1)
    lora_target_modules: list[str] | None = Field(None, description="None: peft's default for the LM's type.")
    local_hidden_dim: int = Field(256, ge=8)
    local_conv_channels: int = Field(32, ge=4)
    region_size: int = Field(
        32, ge=8, description="Side, in encoder-input pixels, each region is resampled to."
    )
    local_heads: int = Field(4, ge=1)
    projector_heads: int = Field(8, ge=1)
    max_new_tokens: int = Field(128, ge=1)
    with_aus: bool = Field(True, description="Give the LM the measured AUs as text in the prompt.")


@dataclass
class FEALLMAnswer:
    """One generated answer: the raw text, its parsed form and the probability of its label tokens."""

    text: str
    parsed: ParsedAnswer
    label_probability: float | None


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str) -> torch.dtype:
    # bf16 on GPUs that support it; CPU matmuls in bf16 are slow and lossy, so float32 there.
    if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _vision_tower(model: nn.Module) -> nn.Module:
    # CLIPModel / SiglipModel hold the encoder as .vision_model; a bare ViTModel / SiglipVisionModel is itself.
    return getattr(model, "vision_model", model)


class FEALLM(nn.Module):
    """FEALLM: ``FEALLM.from_pretrained(folder).generate(pixel_values, boxes, prompts)``.

    Build a fresh one with :meth:`build` (bases loaded from ``config.vision_model`` / ``config.language_model``),
    train with ``loss = model(**batch).loss``, save with :meth:`save_pretrained`.
    """

    def __init__(
        self,
        config: FEALLMConfig,
        vision_encoder: nn.Module,
        image_processor: Any,
        language_model: nn.Module,
        tokenizer: Any,
    ) -> None:
        super().__init__()
        from peft import LoraConfig, get_peft_model

        self.config = config
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.vision = _vision_tower(vision_encoder)
        self.vision.requires_grad_(False)
        self.vision.eval()
        vcfg = self.vision.config
        vision_dim = vcfg.hidden_size
        layers = vcfg.num_hidden_layers
        if layers < 2:
            raise ValueError("FEALLM needs a vision encoder with at least 2 blocks (F_s and F_L)")
        llm_dim = language_model.get_input_embeddings().embedding_dim
        language_model.requires_grad_(False)
        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.lora_target_modules,
            task_type="CAUSAL_LM",
        )
        self.lm = get_peft_model(language_model, lora)
        self.local = LocalClueAggregator(
            vision_dim,
            llm_dim,
            hidden_dim=config.local_hidden_dim,
            conv_channels=config.local_conv_channels,
            region_size=config.region_size,
            num_heads=config.local_heads,
            in_channels=getattr(vcfg, "num_channels", 3),
        )
        self.projector = MultiPerspectiveProjector(
            vision_dim, layers - 1, llm_dim, num_heads=config.projector_heads
        )

    # -- building and saving ------------------------------------------------------------------------------

    @classmethod
    def build(
        cls, config: FEALLMConfig, *, base_dir: Path | None = None, dtype: torch.dtype | None = None
    ) -> FEALLM:
        """A FEALLM with fresh trainable parts over the bases named in ``config`` (relative to ``base_dir``).

        ``dtype`` is the frozen bases' dtype as loaded (bf16 halves a 7B LM's memory); the trained parts are
        created in float32.
        """
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

        def where(name: str) -> str:
            if base_dir is not None and (base_dir / name).exists():
                return str(base_dir / name)
            return name

        vision, lm = where(config.vision_model), where(config.language_model)
        return cls(
            config,
            AutoModel.from_pretrained(vision, dtype=dtype),
            load_pil_image_processor(vision),
            AutoModelForCausalLM.from_pretrained(lm, dtype=dtype),
            AutoTokenizer.from_pretrained(lm),
        )

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained parameters only: the two vision modules and the LoRA adapters."""
        return {k: v.detach().contiguous().cpu() for k, v in self.named_parameters() if v.requires_grad}

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``feallm_config.json`` and ``model.safetensors`` (trainable parts) to ``folder``."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_NAME).write_text(self.config.model_dump_json(indent=2))
        save_file(self.trainable_state_dict(), str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
        return folder

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, *, device: str | None = None, dtype: torch.dtype | None = None
    ) -> FEALLM:
        """Load a checkpoint written by :meth:`save_pretrained` (bases resolved relative to it, else as ids).

        Raises :class:`~fea_agent.errors.BackendUnavailableError` when the folder is not a FEALLM checkpoint.
        """
        from safetensors.torch import load_file

        folder = Path(folder)
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        if not config_path.is_file() or not weights_path.is_file():
            raise BackendUnavailableError(
                f"{folder} is not a FEALLM checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME}). " + HOW_TO_GET
            )
        config = FEALLMConfig(**json.loads(config_path.read_text()))
        device = device or default_device()
        dtype = dtype or default_dtype(device)
        model = cls.build(config, base_dir=folder, dtype=dtype)
        state = load_file(str(weights_path))
        expected = set(model.trainable_state_dict())
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise BackendUnavailableError(
                f"{weights_path} does not match its config: {len(missing)} missing tensors "
                f"({sorted(missing)[:3]}...), {len(unexpected)} unexpected ({sorted(unexpected)[:3]}...)"
            )
        model.load_state_dict(state, strict=False)
        return model.to(device=device, dtype=dtype).eval()

    @property
    def device(self) -> torch.device:
        return next(self.local.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.local.parameters()).dtype

    # -- forward ------------------------------------------------------------------------------------------

    def visual_tokens(self, pixel_values: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """(B, N + 1, llm_dim): the projected visual tokens followed by the F_local token."""
        # Each part runs in its own dtype (in training: frozen bases bf16, trained parts float32).
        vision_dtype = next(self.vision.parameters()).dtype
        with torch.no_grad():
            hidden = self.vision(
                pixel_values=pixel_values.to(self.device, vision_dtype), output_hidden_states=True
            ).hidden_states
        # hidden[0] is the patch embedding; hidden[1..L] are the blocks' outputs F1..FL.
        f_intermediate = torch.cat(hidden[1:-1], dim=-1).to(self.dtype)
        f_last = hidden[-1].to(self.dtype)
        pixels = pixel_values.to(self.device, self.dtype)
        f_local_v, f_local = self.local(pixels, boxes.to(self.device, self.dtype))
        visual = self.projector(f_last, f_intermediate, f_local_v)
        return torch.cat([visual, f_local], dim=1).to(self.lm.get_input_embeddings().weight.dtype)

    def prompt_text(self, prompt: str) -> str:
        return self.config.prompt_template.format(prompt=prompt)

    def _embed(self, ids: list[int]) -> torch.Tensor:
        return self.lm.get_input_embeddings()(torch.tensor(ids, device=self.device))

    def forward(
        self,
        pixel_values: torch.Tensor,
        boxes: torch.Tensor,
        prompts: list[str],
        answers: list[str] | None = None,
    ) -> Any:
        """Teacher-forced pass. With ``answers``, ``.loss`` is the LM loss on the answer tokens only.

        Sequences are ``[visual][F_local][prompt][answer][eos]``, right-padded.
        """
        visual = self.visual_tokens(pixel_values, boxes)
        tok = self.tokenizer
        rows, labels = [], []
        for i, prompt in enumerate(prompts):
            prompt_ids = tok(self.prompt_text(prompt), add_special_tokens=True)["input_ids"]
            answer_ids: list[int] = []
            if answers is not None:
                answer_ids = tok(" " + answers[i], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            rows.append(torch.cat([visual[i], self._embed(prompt_ids + answer_ids)], dim=0))
            labels.append([IGNORE_INDEX] * (visual.shape[1] + len(prompt_ids)) + answer_ids)
        length = max(r.shape[0] for r in rows)
        embeds = torch.zeros(len(rows), length, visual.shape[-1], device=self.device, dtype=visual.dtype)
        mask = torch.zeros(len(rows), length, device=self.device, dtype=torch.long)
        target = torch.full((len(rows), length), IGNORE_INDEX, device=self.device, dtype=torch.long)
        for i, row in enumerate(rows):
            embeds[i, : row.shape[0]] = row
            mask[i, : row.shape[0]] = 1
            target[i, : len(labels[i])] = torch.tensor(labels[i], device=self.device)
        return self.lm(
            inputs_embeds=embeds, attention_mask=mask, labels=target if answers is not None else None
        )

    @torch.no_grad()
    def generate(
        self,
        pixel_values: torch.Tensor,
        boxes: torch.Tensor,
        prompts: list[str],
        *,
        max_new_tokens: int | None = None,
    ) -> list[FEALLMAnswer]:
        """Greedy answers for a batch (left-padded), each parsed into label and AUs with its label probability."""
        visual = self.visual_tokens(pixel_values, boxes)
        rows = [
            torch.cat([visual[i], self._embed(self.tokenizer(self.prompt_text(p))["input_ids"])], dim=0)
            for i, p in enumerate(prompts)
        ]
        length = max(r.shape[0] for r in rows)
        embeds = torch.zeros(len(rows), length, visual.shape[-1], device=self.device, dtype=visual.dtype)
        mask = torch.zeros(len(rows), length, device=self.device, dtype=torch.long)
        for i, row in enumerate(rows):
            embeds[i, length - row.shape[0] :] = row
            mask[i, length - row.shape[0] :] = 1
        out = self.lm.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            max_new_tokens=max_new_tokens or self.config.max_new_tokens,
            do_sample=False,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            output_scores=True,
            return_dict_in_generate=True,
        )
        answers = []
        for i in range(len(prompts)):
            ids = out.sequences[i].tolist()
            text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
            answers.append(FEALLMAnswer(text, parse_answer(text), self._label_probability(out, i)))
        return answers

    def _label_probability(self, out: Any, row: int) -> float | None:
        """Product of the probabilities of the tokens up to the label's full stop."""
        total, text = 0.0, ""
        for step, scores in enumerate(out.scores):
            token = int(out.sequences[row, step])
            if token == self.tokenizer.eos_token_id:
                break
            total += float(torch.log_softmax(scores[row].float(), dim=-1)[token])
            text += self.tokenizer.decode([token])
            if "." in text or len(text.strip()) > 16:
                break
        return math.exp(total) if text else None


def load_pil_image_processor(name: str) -> Any:
    """The model's PIL-based (slow) image processor: it needs no torchvision."""
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(name, backend="pil")
    except (TypeError, ValueError):  # transformers releases before the ``backend`` argument
        return AutoImageProcessor.from_pretrained(name, use_fast=False)


HOW_TO_GET = (
    "No official FEALLM weights are published. Train a checkpoint with "
    "`python tools/train_feallm.py train --data FEA-20K.jsonl --vision google/siglip-so400m-patch14-384 "
    "--llm Qwen/Qwen2.5-7B-Instruct --out ckpt/` (see docs/reasoning-backends.md), then point to it with "
    "reasoner_options={'checkpoint': 'ckpt/'} or FEA_AGENT_FEALLM_CHECKPOINT=ckpt/ ; or serve a peer model "
    "with vLLM and use --reasoner openai."
)
