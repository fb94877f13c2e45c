"""Inputs for FEALLM: face crops and region boxes, and the instruction and benchmark file formats.

Formats read here (documented in docs/reasoning-backends.md):
- FABA-Instruct (EmoLA): a JSON list (or JSONL) of LLaVA-style records
  ``{"id", "image", "conversations": [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", "value": "..."}]}``.
- FEA-20K (Facial-R1): JSONL records ``{"image", "AUs": [...], "labels": "...", "description": "..."}``.
- FEABench-style evaluation: JSONL records ``{"image", "expression": "happiness", "aus": ["AU06", "AU12"]}``.
Image paths are relative to the data file's folder unless absolute (or ``image_root`` is given).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fea_agent.facs.catalogue import normalize_au_code
from fea_agent.reasoning.feallm.regions import region_boxes
from fea_agent.reasoning.prompting import FACE_CROP_SCALE, INSTRUCTION, au_context
from fea_agent.results import LABEL_SYNONYMS, Face


@dataclass
class InstructionSample:
    """One training example: an image, the question, and the answer in FEALLM's form."""

    image: Path
    prompt: str | None  # None: the standard question (with the measured AUs) is asked
    answer: str


@dataclass
class BenchSample:
    """One evaluation example: an image with its expression label and the AUs present."""

    image: Path
    expression: str
    aus: list[str] = field(default_factory=list)


def _records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not a JSON line ({exc.msg})") from None
    return rows


def _image(record: dict[str, Any], root: Path, where: str) -> Path:
    name = record.get("image") or record.get("image_path") or record.get("path")
    if not name:
        raise ValueError(f"{where}: record has no 'image' field")
    path = Path(name)
    return path if path.is_absolute() else root / path


def detect_format(records: list[dict[str, Any]]) -> str:
    """'faba' for LLaVA-style conversations, 'fea20k' for AUs/labels/description records."""
    first = records[0] if records else {}
    if "conversations" in first:
        return "faba"
    if "labels" in first or "description" in first:
        return "fea20k"
    raise ValueError("cannot tell the format: expected 'conversations' (FABA-Instruct) or 'labels' (FEA-20K)")


def fea20k_answer(record: dict[str, Any]) -> str:
    """FEALLM's answer form from a FEA-20K record: label first, then the description, AUs named."""
    labels = record.get("labels")
    label = labels[0] if isinstance(labels, list) else str(labels or "")
    label = LABEL_SYNONYMS.get(label.strip().lower(), label.strip().lower())
    description = str(record.get("description") or "").strip()
    if description.lower().startswith(label):
        description = description[len(label) :].lstrip(" .:,-")
    aus = [normalize_au_code(a) for a in record.get("AUs") or []]
    if aus and not any(a.lower() in description.lower() for a in aus):
        description = (description + " " if description else "") + f"Active action units: {', '.join(aus)}."
    return f"{label.capitalize()}. {description}".strip()


def read_instructions(
    path: str | Path, fmt: str = "auto", image_root: str | Path | None = None
) -> list[InstructionSample]:
    """Training examples from a FABA-Instruct JSON(L) or FEA-20K JSONL file."""
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    records = _records(path)
    fmt = detect_format(records) if fmt == "auto" else fmt
    samples = []
    for n, record in enumerate(records):
        where = f"{path} record {n}"
        if fmt == "faba":
            turns = record.get("conversations") or []
            human = next((t["value"] for t in turns if t.get("from") == "human"), None)
            answer = next((t["value"] for t in turns if t.get("from") == "gpt"), None)
            if human is None or answer is None:
                raise ValueError(f"{where}: needs a 'human' and a 'gpt' turn")
            prompt = human.replace("<image>", "").strip() or INSTRUCTION
            samples.append(InstructionSample(_image(record, root, where), prompt, answer.strip()))
        elif fmt == "fea20k":
            samples.append(InstructionSample(_image(record, root, where), None, fea20k_answer(record)))
        else:
            raise ValueError(f"unknown format {fmt!r}: use faba, fea20k or auto")
    return samples


def read_feabench(path: str | Path, image_root: str | Path | None = None) -> list[BenchSample]:
    """Evaluation examples from FEABench-style JSONL (``image``, ``expression``, ``aus``)."""
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    out = []
    for n, record in enumerate(_records(path)):
        label = str(record.get("expression") or record.get("label") or "").strip().lower()
        if not label:
            raise ValueError(f"{path} record {n}: no 'expression' label")
        aus = [normalize_au_code(a) for a in record.get("aus") or record.get("AUs") or []]
        out.append(
            BenchSample(_image(record, root, f"{path} record {n}"), LABEL_SYNONYMS.get(label, label), aus)
        )
    return out


def face_inputs(rgb: np.ndarray, face: Face | None) -> tuple[np.ndarray, np.ndarray]:
    """The face crop FEALLM sees and its 16 region boxes; without a face, the whole image and the template."""
    from fea_agent.perception.mediapipe_tasks import square_crop

    if face is None:
        h, w = rgb.shape[:2]
        crop = square_crop(rgb, (0.0, 0.0, float(w), float(h)), crop_scale=1.0)
        return crop.image, region_boxes(None)
    b = face.bbox
    crop = square_crop(rgb, (b.x, b.y, b.width, b.height), crop_scale=FACE_CROP_SCALE)
    points = None
    if face.landmarks:
        side = crop.image.shape[0]
        xy = np.asarray(face.landmarks, dtype=np.float32)[:, :2]
        points = (xy - np.array([crop.x0, crop.y0], dtype=np.float32)) * crop.scale / side
    return crop.image, region_boxes(points)


def prompt_for(face: Face | None, prompt: str | None, with_aus: bool, instruction: str = INSTRUCTION) -> str:
    """The question: the sample's own, else ``instruction``; the measured AUs appended when asked for."""
    question = prompt or instruction
    if with_aus and face is not None:
        return f"{question} {au_context(face)}".strip()
    return question


def pixel_values(image_processor: Any, crops: list[np.ndarray]) -> Any:
    """The encoder's input tensor (B, C, H, W) for a list of RGB crops."""
    return image_processor(images=list(crops), return_tensors="pt")["pixel_values"]
