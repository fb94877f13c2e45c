"""Train FEALLM's trainable parts on instruction data, and evaluate a checkpoint on FEABench-style JSONL.

    python tools/train_feallm.py train --data fea20k.jsonl --vision google/siglip-so400m-patch14-384 \\
        --llm Qwen/Qwen2.5-7B-Instruct --out ckpt/ --epochs 3
    python tools/train_feallm.py evaluate --checkpoint ckpt/ --data feabench.jsonl

``train`` reads FABA-Instruct (LLaVA-style conversations JSON) or FEA-20K (JSONL with AUs, labels, description),
finds the face in every image with fea-agent's own perception (its crop, landmarks and measured AUs are what the
reasoner will see at run time), and trains the Local Clue Aggregator, the Multi-perspective Projector and the
LoRA adapters with AdamW; encoder and LM stay frozen. ``evaluate`` prints one JSON line: expression accuracy and
AU F1 (macro over the AUs that occur in the labels; Aff-Wild2's 12 AUs by default), plus counts.
Formats: docs/reasoning-backends.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: The 12 AUs of Aff-Wild2 / FEABench.
AFFWILD2_AUS = (
    "AU01",
    "AU02",
    "AU04",
    "AU06",
    "AU07",
    "AU10",
    "AU12",
    "AU15",
    "AU23",
    "AU24",
    "AU25",
    "AU26",
)


def _perceive(paths: list[Path]) -> dict[Path, tuple[np.ndarray, Any]]:
    """Each image's RGB and its largest usable face (None when no face is found), with fea-agent's perception."""
    from fea_agent.io.images import load_image
    from fea_agent.pipeline import FEAPipeline

    out: dict[Path, tuple[np.ndarray, Any]] = {}
    with FEAPipeline(reasoner=None, appearance=None) as pipeline:
        for path in dict.fromkeys(paths):
            loaded = load_image(path)
            faces = pipeline.run(loaded).result.faces
            face = max(faces, key=lambda f: f.bbox.width * f.bbox.height) if faces else None
            out[path] = (loaded.rgb, face)
    return out


def _inputs(
    model: Any, items: list[tuple[np.ndarray, Any]], prompts: list[str | None]
) -> tuple[Any, Any, list[str]]:
    import torch

    from fea_agent.reasoning.feallm.data import face_inputs, pixel_values, prompt_for

    prepared = [face_inputs(rgb, face) for rgb, face in items]
    pixels = pixel_values(model.image_processor, [c for c, _ in prepared])
    boxes = torch.from_numpy(np.stack([b for _, b in prepared]))
    cfg = model.config
    texts = [
        prompt_for(face, p, cfg.with_aus, cfg.instruction)
        for (_, face), p in zip(items, prompts, strict=True)
    ]
    return pixels, boxes, texts


def train(args: argparse.Namespace) -> int:
    import torch

    from fea_agent.reasoning.feallm import FEALLM, FEALLMConfig
    from fea_agent.reasoning.feallm.data import read_instructions

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    samples = read_instructions(args.data, args.format, args.image_root)
    if not samples:
        print(f"train_feallm: {args.data} holds no examples", file=sys.stderr)
        return 2
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    # Frozen bases in bf16 on GPU; the trained parts in float32 for stable AdamW updates.
    base_dtype = torch.bfloat16 if cuda else torch.float32
    if args.init:
        model = FEALLM.from_pretrained(args.init, device="cpu", dtype=base_dtype)
        model.local.float()
        model.projector.float()
    else:
        extra = json.loads(args.config_json) if args.config_json else {}
        config = FEALLMConfig(vision_model=args.vision, language_model=args.llm, **extra)
        model = FEALLM.build(config, dtype=base_dtype)
    model.to(device)
    for p in model.lm.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    perceived = _perceive([s.image for s in samples])
    found = sum(face is not None for _, face in perceived.values())
    print(
        f"train_feallm: {len(samples)} examples, faces found in {found}/{len(perceived)} images, device {device}"
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    model.train()
    model.vision.eval()
    step, started = 0, time.perf_counter()
    for epoch in range(args.epochs):
        order = list(range(len(samples)))
        random.shuffle(order)
        for start in range(0, len(order), args.batch_size):
            chunk = [samples[i] for i in order[start : start + args.batch_size]]
            pixels, boxes, prompts = _inputs(
                model, [perceived[s.image] for s in chunk], [s.prompt for s in chunk]
            )
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                loss = model(pixels, boxes, prompts, [s.answer for s in chunk]).loss
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            step += 1
            if step % args.log_every == 0:
                print(
                    f"epoch {epoch} step {step} loss {loss.item():.4f} ({time.perf_counter() - started:.0f} s)"
                )
            if args.max_steps and step >= args.max_steps:
                break
        if args.max_steps and step >= args.max_steps:
            break
    model.save_pretrained(args.out)
    print(f"train_feallm: saved {args.out} after {step} steps, last loss {loss.item():.4f}")
    return 0


def au_f1(truth: list[list[str]], predicted: list[list[str]], aus: tuple[str, ...]) -> float:
    """Macro F1 over ``aus`` that occur in the labels (an AU never present anywhere is skipped)."""
    scores = []
    for au in aus:
        tp = sum(au in t and au in p for t, p in zip(truth, predicted, strict=True))
        fp = sum(au not in t and au in p for t, p in zip(truth, predicted, strict=True))
        fn = sum(au in t and au not in p for t, p in zip(truth, predicted, strict=True))
        if tp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def evaluate(args: argparse.Namespace) -> int:
    import torch

    from fea_agent.reasoning.feallm import FEALLM
    from fea_agent.reasoning.feallm.data import read_feabench

    samples = read_feabench(args.data, args.image_root)
    model = FEALLM.from_pretrained(args.checkpoint, device=args.device)
    perceived = _perceive([s.image for s in samples])
    predictions = []
    for start in range(0, len(samples), args.batch_size):
        chunk = samples[start : start + args.batch_size]
        pixels, boxes, prompts = _inputs(model, [perceived[s.image] for s in chunk], [None] * len(chunk))
        predictions += model.generate(pixels, boxes, prompts)
    labels = [s.expression for s in samples]
    guessed = [a.parsed.label for a in predictions]
    au_set = tuple(args.aus.split(",")) if args.aus else AFFWILD2_AUS
    metrics = {
        "n": len(samples),
        "expression_accuracy": round(
            float(np.mean([g == t for g, t in zip(guessed, labels, strict=True)])), 4
        ),
        "au_f1": round(au_f1([s.aus for s in samples], [a.parsed.aus for a in predictions], au_set), 4),
        "unparsed": sum(g is None for g in guessed),
        "device": str(model.device),
        "checkpoint": str(args.checkpoint),
    }
    del torch
    print(json.dumps(metrics))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the aggregator, projector and LoRA adapters")
    t.add_argument("--data", required=True, type=Path, help="FABA-Instruct JSON(L) or FEA-20K JSONL")
    t.add_argument("--format", default="auto", choices=["auto", "faba", "fea20k"])
    t.add_argument(
        "--image-root", type=Path, help="folder image paths are relative to (default: the data file's)"
    )
    t.add_argument("--vision", help="vision encoder: HF id or folder (ViT, SigLIP, CLIP)")
    t.add_argument("--llm", help="causal LM: HF id or folder, with its tokenizer")
    t.add_argument("--init", type=Path, help="continue from this FEALLM checkpoint instead of --vision/--llm")
    t.add_argument("--config-json", help="extra FEALLMConfig fields as JSON, e.g. '{\"lora_r\": 8}'")
    t.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    t.add_argument("--batch-size", type=int, default=4)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--device", help="cuda or cpu (default: cuda when present)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--log-every", type=int, default=10)
    t.set_defaults(func=train)
    e = sub.add_parser(
        "evaluate", help="expression accuracy and AU F1 of a checkpoint on FEABench-style JSONL"
    )
    e.add_argument("--checkpoint", required=True, type=Path)
    e.add_argument("--data", required=True, type=Path, help="JSONL with image, expression, aus")
    e.add_argument("--image-root", type=Path)
    e.add_argument("--aus", help="comma-separated AU set for F1 (default: Aff-Wild2's 12)")
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--device", help="cuda or cpu (default: cuda when present)")
    e.set_defaults(func=evaluate)
    args = parser.parse_args(argv)
    if args.command == "train" and not args.init and not (args.vision and args.llm):
        parser.error("train needs --vision and --llm (or --init CHECKPOINT)")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
