"""FEALLM with tiny random encoder and LM built inside the test (no hub access, no official weights exist)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from conftest import FRL, needs_shared  # noqa: E402
from tiny_models import tiny_llama_config, tiny_tokenizer  # noqa: E402

from fea_agent.errors import BackendUnavailableError  # noqa: E402
from fea_agent.io.images import load_image  # noqa: E402
from fea_agent.reasoning import get_reasoner  # noqa: E402
from fea_agent.reasoning.feallm import (  # noqa: E402
    FEALLM,
    NUM_REGIONS,
    FEALLMConfig,
    LocalClueAggregator,
    MultiPerspectiveProjector,
)
from fea_agent.reasoning.feallm.data import face_inputs, pixel_values, prompt_for  # noqa: E402
from fea_agent.reasoning.prompting import INSTRUCTION, ParsedAnswer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HAPPY = "Happiness. Smile with AU6 and AU12."
NEUTRAL = "Neutral. Relaxed face."


def build_tiny_bases(folder: Path) -> FEALLMConfig:
    """A 3-block ViT (32 px, 8 px patches) and a 2-layer Llama with a byte-level BPE tokenizer, saved to folder."""
    from transformers import LlamaForCausalLM, ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    vision = folder / "vision"
    ViTModel(
        ViTConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=4,
            intermediate_size=64,
        ),
        add_pooling_layer=False,
    ).save_pretrained(vision)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(vision)

    fast = tiny_tokenizer(
        [
            INSTRUCTION,
            HAPPY,
            NEUTRAL,
            "USER: Expression?\nASSISTANT: A smile. A relaxed face. Active action units",
        ]
    )
    lm = folder / "lm"
    fast.save_pretrained(lm)
    LlamaForCausalLM(tiny_llama_config(fast, initializer_range=0.2)).save_pretrained(lm)
    return FEALLMConfig(
        vision_model=str(vision),
        language_model=str(lm),
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        local_hidden_dim=16,
        local_conv_channels=4,
        region_size=8,
        local_heads=2,
        projector_heads=4,
        max_new_tokens=24,
        # A short question and no AU text keep the sequences short, so CPU training takes seconds.
        instruction="Expression?",
        with_aus=False,
    )


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> FEALLMConfig:
    return build_tiny_bases(tmp_path_factory.mktemp("feallm_bases"))


@pytest.fixture(scope="module")
def astronaut_face(pipeline, astronaut):
    loaded = load_image(astronaut)
    return pipeline.analyze(loaded.rgb).faces[0], loaded.rgb


@pytest.fixture(scope="module")
def trained(tiny_config, batch, tmp_path_factory):
    """A tiny FEALLM taught one answer (20 steps), saved as a checkpoint; with its loss curve."""
    torch.manual_seed(0)
    model = FEALLM.build(tiny_config)
    losses = _train(model, batch, [HAPPY, HAPPY], steps=20)
    folder = model.save_pretrained(tmp_path_factory.mktemp("feallm") / "ckpt")
    return model, losses, folder


@pytest.fixture(scope="module")
def batch(tiny_config, astronaut_face):
    face, rgb = astronaut_face
    crop, boxes = face_inputs(rgb, face)
    from transformers import AutoImageProcessor

    processor = AutoImageProcessor.from_pretrained(tiny_config.vision_model, use_fast=False)
    pixels = pixel_values(processor, [crop, crop[:, ::-1].copy()])
    return (
        pixels,
        torch.from_numpy(np.stack([boxes, boxes])),
        [prompt_for(face, None, False, "Expression?")] * 2,
    )


def _train(model: FEALLM, batch, answers: list[str], steps: int, lr: float = 2e-2) -> list[float]:
    pixels, boxes, prompts = batch
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(pixels, boxes, prompts, answers).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


def test_local_clue_aggregator_shapes():
    lca = LocalClueAggregator(
        vision_dim=48, llm_dim=64, hidden_dim=16, conv_channels=4, region_size=8, num_heads=2
    )
    pixels = torch.randn(3, 3, 32, 32)
    boxes = torch.tensor([[0.1, 0.1, 0.4, 0.4]]).repeat(3, NUM_REGIONS, 1)
    f_local_v, f_local = lca(pixels, boxes)
    assert f_local_v.shape == (3, NUM_REGIONS, 48) and f_local.shape == (3, 1, 64)


def test_multi_perspective_projector_shapes():
    mpp = MultiPerspectiveProjector(vision_dim=32, num_intermediate=5, llm_dim=64, num_heads=4)
    out = mpp(torch.randn(2, 17, 32), torch.randn(2, 17, 32 * 5), torch.randn(2, NUM_REGIONS, 32))
    assert out.shape == (2, 17, 64)


def test_region_boxes_follow_the_real_landmarks(astronaut_face):
    face, rgb = astronaut_face
    crop, boxes = face_inputs(rgb, face)
    assert crop.shape[0] == crop.shape[1] and boxes.shape == (NUM_REGIONS, 4)
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    names = list(__import__("fea_agent.reasoning.feallm.regions", fromlist=["REGIONS"]).REGIONS)
    # Brows above eyes above mouth corners above chin, all inside the crop.
    order = [names.index(n) for n in ("right_brow", "right_eye", "right_mouth_corner", "chin")]
    assert list(np.argsort(centre_y[order])) == [0, 1, 2, 3]
    assert ((centre_y > 0.1) & (centre_y < 0.95)).all()


def test_visual_tokens_shape_and_frozen_parts(tiny_config, batch):
    model = FEALLM.build(tiny_config)
    pixels, boxes, _ = batch
    tokens = model.visual_tokens(pixels, boxes)
    assert tokens.shape == (2, 17 + 1, 32)  # 16 patches + CLS from the ViT, then the F_local token
    trainable = {k.split(".")[0] for k, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"lm", "local", "projector"}
    assert all("lora_" in k for k, p in model.lm.named_parameters() if p.requires_grad)
    assert not any(p.requires_grad for p in model.vision.parameters())


@pytest.mark.slow
def test_one_training_step_lowers_the_loss_and_only_trains_the_trainable(tiny_config, batch):
    model = FEALLM.build(tiny_config)
    frozen = {k: p.detach().clone() for k, p in model.named_parameters() if not p.requires_grad}
    pixels, boxes, prompts = batch
    with torch.no_grad():
        before = model(pixels, boxes, prompts, [HAPPY, NEUTRAL]).loss.item()
    _train(model, batch, [HAPPY, NEUTRAL], steps=1)
    with torch.no_grad():
        after = model(pixels, boxes, prompts, [HAPPY, NEUTRAL]).loss.item()
    assert after < before
    assert all(torch.equal(p, frozen[k]) for k, p in model.named_parameters() if not p.requires_grad)


@pytest.mark.slow
def test_bf16_bases_with_float32_trained_parts(tiny_config, batch):
    """The GPU training layout (frozen bases in bf16, trained parts in float32), exercised on CPU."""
    model = FEALLM.build(tiny_config, dtype=torch.bfloat16)
    assert next(model.vision.parameters()).dtype == torch.bfloat16 and model.dtype == torch.float32
    pixels, boxes, prompts = batch
    loss = model(pixels, boxes, prompts, [HAPPY, NEUTRAL]).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.local.parameters())
    assert any(
        p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.lm.named_parameters() if "lora_B" in n
    )


def test_save_then_load_gives_identical_logits(trained, batch):
    model, _, folder = trained
    assert {p.name for p in folder.iterdir()} == {"feallm_config.json", "model.safetensors"}
    loaded = FEALLM.from_pretrained(folder, device="cpu")
    pixels, boxes, prompts = batch
    with torch.no_grad():
        a = model(pixels, boxes, prompts, [HAPPY, NEUTRAL]).logits
        b = loaded(pixels, boxes, prompts, [HAPPY, NEUTRAL]).logits
    assert torch.equal(a, b)


def test_generate_returns_parsed_typed_answers(trained, batch):
    model, losses, _ = trained
    assert losses[-1] < 0.4 * losses[0]
    pixels, boxes, prompts = batch
    answers = model.generate(pixels, boxes, prompts)
    assert len(answers) == 2 and all(isinstance(a.parsed, ParsedAnswer) for a in answers)
    # The tiny model learnt its one answer: the parse recovers the label and the AU codes, zero-padded.
    assert answers[0].text == HAPPY
    assert answers[0].parsed.label == "happiness" and answers[0].parsed.aus == ["AU06", "AU12"]
    assert 0 < answers[0].label_probability <= 1


def test_batched_generation_matches_one_by_one(trained, batch):
    """Left padding for prompts of different lengths must not change any answer."""
    model, _, _ = trained
    pixels, boxes, _ = batch
    prompts = ["Expression?", "Expression? A smile. A relaxed face."]
    together = model.generate(pixels, boxes, prompts, max_new_tokens=12)
    alone = [
        model.generate(pixels[i : i + 1], boxes[i : i + 1], prompts[i : i + 1], max_new_tokens=12)[0]
        for i in range(2)
    ]
    for a, b in zip(together, alone, strict=True):
        assert a.text == b.text and a.label_probability == pytest.approx(b.label_probability, rel=1e-4)


def test_reasoner_without_checkpoint_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("FEA_AGENT_FEALLM_CHECKPOINT", raising=False)
    with pytest.raises(
        BackendUnavailableError, match=r"needs a trained checkpoint.*train_feallm.py.*FEA_AGENT_FEALLM"
    ):
        get_reasoner("feallm")
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        get_reasoner("feallm", checkpoint="/nonexistent/feallm")


def test_reasoner_on_a_real_face(trained, astronaut_face):
    reasoner = get_reasoner("feallm", checkpoint=str(trained[2]), device="cpu")
    assert reasoner.device == "cpu (float32)"
    face, rgb = astronaut_face
    unusable = face.model_copy(update={"quality": face.quality.model_copy(update={"usable": False})})
    out = reasoner.reason([face, unusable], rgb)
    r = out[0].reasoning
    assert r.reasoner == "feallm" and r.label == "happiness" and r.text == HAPPY
    assert [e.au for e in r.evidence] == ["AU06", "AU12"] and r.evidence[1].intensity > 1.0
    assert (
        out[0].expression.label == "happiness"
        and out[0].expression.probabilities["happiness"] == r.confidence
    )
    assert out[1].reasoning.label == "abstain"


@pytest.mark.slow
def test_cli_uses_the_checkpoint_from_the_environment(trained, astronaut):
    """`fea-agent analyze --reasoner feallm --json` with FEA_AGENT_FEALLM_CHECKPOINT set, as a user runs it."""
    import os
    import subprocess

    env = {**os.environ, "FEA_AGENT_FEALLM_CHECKPOINT": str(trained[2])}
    main = "import sys; from fea_agent.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", main, "analyze", str(astronaut), "--reasoner", "feallm", "--json"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)
    reasoning = result["faces"][0]["reasoning"]
    assert reasoning["reasoner"] == "feallm" and reasoning["text"] == HAPPY
    assert result["device"].startswith("cpu") or result["device"].startswith("cuda")


@needs_shared
@pytest.mark.slow
def test_train_and_evaluate_tool_end_to_end(tiny_config, tmp_path, capsys):
    """tools/train_feallm.py trains on a FEA-20K file and evaluates on FEABench-style JSONL, on real photos."""
    frl = FRL / "images"
    happy = sorted((frl / "smiling_front").glob("*.jpg"))[:2]
    neutral = sorted((frl / "neutral_front").glob("*.jpg"))[:1]
    train = tmp_path / "fea20k.jsonl"
    record = {"AUs": ["AU6", "AU12"], "labels": "happy", "description": "Smile with AU6 and AU12."}
    train.write_text("\n".join(json.dumps({"image": str(p), **record}) for p in happy))
    bench = tmp_path / "feabench.jsonl"
    rows = [{"image": str(p), "expression": "happiness", "aus": ["AU06", "AU12"]} for p in happy]
    rows += [{"image": str(p), "expression": "neutral", "aus": []} for p in neutral]
    bench.write_text("\n".join(json.dumps(r) for r in rows))
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import train_feallm
    finally:
        sys.path.remove(str(ROOT / "tools"))
    out = tmp_path / "ckpt"
    extra = tiny_config.model_dump_json(exclude={"vision_model", "language_model"})
    args = ["--vision", tiny_config.vision_model, "--llm", tiny_config.language_model, "--config-json", extra]
    train_args = ["train", "--data", str(train), "--out", str(out), "--epochs", "20", "--batch-size", "2"]
    code = train_feallm.main([*train_args, "--lr", "2e-2", "--device", "cpu", *args])
    assert code == 0 and (out / "model.safetensors").is_file()
    assert "faces found in 2/2 images" in capsys.readouterr().out
    code = train_feallm.main(["evaluate", "--checkpoint", str(out), "--data", str(bench), "--device", "cpu"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # It learnt one answer ("Happiness. Smile with AU6 and AU12.") and gives it to all three faces:
    # 2 of 3 labels right; AU06 and AU12 each have 2 true positives and 1 false positive, F1 = 0.8.
    assert metrics["n"] == 3 and metrics["unparsed"] == 0
    assert metrics["expression_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert metrics["au_f1"] == pytest.approx(0.8)
    # Training continues from a checkpoint.
    more = tmp_path / "ckpt2"
    code = train_feallm.main(
        ["train", "--data", str(train), "--init", str(out), "--out", str(more), "--max-steps", "1"]
    )
    assert code == 0 and (more / "model.safetensors").is_file()
