"""The ``openai`` reasoner: any OpenAI-compatible chat endpoint reads the face.

Works with vLLM (serving FEALLM, a peer such as UniFER-7B, or any VLM), llama.cpp's server, LM Studio,
Ollama's ``/v1`` API and hosted models. Each usable face is sent as one chat request: the face crop as an
image part (a JPEG data URI made in memory) and the measured AUs as text. The answer is parsed into the typed
result by :mod:`fea_agent.reasoning.prompting`.

Configuration, each from ``reasoner_options`` or else the environment: ``base_url`` (``OPENAI_BASE_URL``),
``model`` (``FEA_AGENT_OPENAI_MODEL``), ``api_key`` (``OPENAI_API_KEY``; local servers accept any),
``timeout_s``, ``max_retries`` (connection errors, 408, 409, 429 and 5xx are retried with exponential
backoff, honouring ``Retry-After``), ``logprobs`` (ask for token probabilities, which give the answer's
confidence; not every server supports them), ``max_concurrency`` (faces in flight at once).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fea_agent.backends.context import BuildContext
from fea_agent.errors import BackendUnavailableError, BadResponseError, ModelRefusalError
from fea_agent.reasoning.prompting import (
    ParsedAnswer,
    abstention,
    apply_answer,
    build_prompt,
    face_crop,
    image_data_uri,
    parse_answer,
)
from fea_agent.results import Face

SYSTEM_PROMPT = (
    "You are a facial-expression analyst trained in the Facial Action Coding System (FACS). "
    "You describe what the face shows, in terms of action units, without guessing identity."
)


class OpenAIReasonerOptions(BaseModel):
    """Options of the ``openai`` reasoner; unset ones come from the environment."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(None, description="e.g. http://localhost:8000/v1; default $OPENAI_BASE_URL.")
    model: str | None = Field(None, description="Served model name; default $FEA_AGENT_OPENAI_MODEL.")
    api_key: str | None = Field(None, description="Default $OPENAI_API_KEY, else 'EMPTY' (local servers).")
    timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for one answer.")
    max_retries: int = Field(2, ge=0, description="Retries with exponential backoff on transient failures.")
    max_tokens: int = Field(256, ge=8)
    temperature: float = Field(0.0, ge=0, le=2)
    logprobs: bool = Field(False, description="Ask for token probabilities (gives the answer's confidence).")
    with_aus: bool = Field(True, description="Give the model the measured AUs as text.")
    max_concurrency: int = Field(4, ge=1, description="Faces sent at once.")


def _label_confidence(choice: Any) -> float | None:
    """Probability of the answer's first word (the label), from the returned token log-probabilities."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    total, text = 0.0, ""
    for token in content:
        total += token.logprob
        text += token.token
        if "." in text or len(text.strip()) > 16:
            break
    return math.exp(total)


class OpenAIReasoner:
    """Emotion reasoning by an OpenAI-compatible chat model that sees the face crop and the measured AUs."""

    name = "openai"

    def __init__(self, **options: Any) -> None:
        opts = OpenAIReasonerOptions(**options)
        base_url = opts.base_url or os.environ.get("OPENAI_BASE_URL")
        model = opts.model or os.environ.get("FEA_AGENT_OPENAI_MODEL")
        missing = [n for n, v in (("base_url", base_url), ("model", model)) if not v]
        if missing:
            raise BackendUnavailableError(
                f"the openai reasoner needs {' and '.join(missing)}: pass reasoner_options "
                "{'base_url': 'http://host:8000/v1', 'model': 'served-name'} or set OPENAI_BASE_URL and "
                "FEA_AGENT_OPENAI_MODEL (for example a vLLM server: vllm serve MODEL --port 8000)"
            )
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise BackendUnavailableError(
                "the openai reasoner needs the openai package: pip install 'fea-agent[feallm]'"
            ) from exc
        self.options = opts
        self.base_url = str(base_url)
        self.model = str(model)
        self.device = f"remote:{self.base_url}"
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=opts.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=opts.timeout_s,
            max_retries=opts.max_retries,
        )

    def reason(
        self,
        faces: list[Face],
        rgb: np.ndarray | None = None,
        appearance: Sequence[dict[str, float] | None] | None = None,
    ) -> list[Face]:
        """Ask the endpoint about every usable face (several at once); unusable faces abstain."""
        if rgb is None:
            raise BackendUnavailableError(
                "the openai reasoner needs the image (rgb) to show the model the face"
            )
        out = [abstention(f, self.name) or f for f in faces]
        todo = [i for i, f in enumerate(faces) if out[i] is f]
        if not todo:
            return out
        with ThreadPoolExecutor(max_workers=min(self.options.max_concurrency, len(todo))) as pool:
            answers = list(pool.map(lambda i: self.ask(faces[i], rgb), todo))
        for i, (parsed, confidence) in zip(todo, answers, strict=True):
            out[i] = apply_answer(faces[i], parsed, confidence=confidence, reasoner=self.name)
        return out

    def ask(self, face: Face, rgb: np.ndarray) -> tuple[ParsedAnswer, float | None]:
        """One chat request for one face: its parsed answer and the label's probability (None if unknown)."""
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image_data_uri(face_crop(rgb, face))}},
                    {"type": "text", "text": build_prompt(face, with_aus=self.options.with_aus)},
                ],
            },
        ]
        extra: dict[str, Any] = {"logprobs": True} if self.options.logprobs else {}
        response = self._complete(messages, extra)
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise BadResponseError(
                f"{self.base_url} answered without choices[0].message; is it an OpenAI-compatible "
                f"/chat/completions endpoint? Got: {str(response)[:200]}"
            )
        choice = choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            raise ModelRefusalError(
                f"model {self.model!r} refused to describe the face"
                + (f": {refusal}" if refusal else " (content filter)")
            )
        content = message.content if isinstance(message.content, str) else None
        if not content or not content.strip():
            raise BadResponseError(
                f"model {self.model!r} returned an empty answer (finish_reason={choice.finish_reason!r})"
            )
        return parse_answer(content), _label_confidence(choice)

    def _complete(self, messages: list[dict[str, Any]], extra: dict[str, Any]) -> Any:
        openai = self._openai
        where = f"{self.base_url} (model {self.model!r})"
        try:
            return self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self.options.max_tokens,
                temperature=self.options.temperature,
                **extra,
            )
        except openai.APITimeoutError as exc:
            raise BackendUnavailableError(
                f"{where} gave no answer within {self.options.timeout_s:g} s "
                f"({self.options.max_retries} retries); raise timeout_s or check the server's load"
            ) from exc
        except openai.APIConnectionError as exc:
            raise BackendUnavailableError(
                f"cannot reach {where} after {self.options.max_retries} retries: {exc.__cause__ or exc}; "
                "is the server running and is base_url right (it usually ends in /v1)?"
            ) from exc
        except openai.AuthenticationError as exc:
            raise BackendUnavailableError(f"{where} rejected the API key (401); set OPENAI_API_KEY") from exc
        except openai.NotFoundError as exc:
            raise BackendUnavailableError(
                f"{where} answered 404: the model name or the path is wrong ({_message(exc)})"
            ) from exc
        except openai.APIStatusError as exc:
            raise BackendUnavailableError(
                f"{where} answered HTTP {exc.status_code}: {_message(exc)}"
            ) from exc
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise BadResponseError(f"{where} answered with a body that is not valid JSON: {exc}") from exc


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(exc)[:300]


def load_openai_reasoner(ctx: BuildContext) -> OpenAIReasoner:
    """The backend registry's factory: the reasoner with the pipeline's ``reasoner_options``."""
    return OpenAIReasoner(**ctx.options)
