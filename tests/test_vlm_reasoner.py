"""The vlm reasoner with a tiny random LLaVA (CLIP vision + Llama) built and saved inside the test."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tiny_models import tiny_llama_config, tiny_tokenizer  # noqa: E402

from fea_agent.errors import BackendUnavailableError  # noqa: E402
from fea_agent.io.images import load_image  # noqa: E402
from fea_agent.reasoning import get_reasoner  # noqa: E402
from fea_agent.reasoning.prompting import INSTRUCTION, build_prompt, face_crop  # noqa: E402

HAPPY = "Happiness. Smile with AU6 and AU12."
CHAT_TEMPLATE = (
    "{% for m in messages %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def build_tiny_llava(folder: Path) -> Path:
    """A LLaVA with a 2-block CLIP vision tower (32 px, 8 px patches) and a 2-layer Llama, with its processor."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(
        [INSTRUCTION, HAPPY, "USER: ASSISTANT: Measured action units (intensity 0-5):"],
        extra_special=("<image>",),
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, do_center_crop=True
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            projection_dim=32,
        ),
        text_config=tiny_llama_config(tokenizer),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"))


@pytest.fixture(scope="module")
def astronaut_face(pipeline, astronaut):
    loaded = load_image(astronaut)
    return pipeline.analyze(loaded.rgb).faces[0], loaded.rgb


def test_loads_by_path_and_reports_device(tiny_vlm):
    reasoner = get_reasoner("vlm", model=str(tiny_vlm), local_files_only=True)
    assert reasoner.name == "vlm" and reasoner.device == "cpu (float32)"
    assert type(reasoner.model).__name__ == "LlavaForConditionalGeneration"


def test_random_model_answer_is_carried_through_typed(tiny_vlm, astronaut_face):
    """Untrained weights write noise: the result says the answer names no expression and keeps the measured one."""
    face, rgb = astronaut_face
    reasoner = get_reasoner("vlm", model=str(tiny_vlm), local_files_only=True, max_new_tokens=8)
    (text, probability), *_ = reasoner.generate([face_crop(rgb, face)], [build_prompt(face)])
    assert isinstance(text, str) and (probability is None or 0 < probability <= 1)
    out = reasoner.reason([face], rgb)[0]
    assert out.reasoning.reasoner == "vlm"
    if out.reasoning.label == "unknown":
        assert out.reasoning.text.startswith("Unknown. The vlm reasoner's answer names no expression")
        assert out.expression == face.expression


@pytest.mark.slow
def test_taught_model_answer_is_parsed_into_reasoning(tiny_vlm, astronaut_face):
    """Teach the tiny VLM one answer for this face, then the reasoner parses it into the typed result."""
    from PIL import Image

    face, rgb = astronaut_face
    reasoner = get_reasoner("vlm", model=str(tiny_vlm), local_files_only=True, max_new_tokens=16)
    processor, model = reasoner.processor, reasoner.model
    text = reasoner._chat_text(build_prompt(face)) + " " + HAPPY + processor.tokenizer.eos_token
    inputs = processor(images=[Image.fromarray(face_crop(rgb, face))], text=[text], return_tensors="pt")
    # Loss on the answer tokens only, as in instruction tuning.
    answer = processor.tokenizer(" " + HAPPY + processor.tokenizer.eos_token, add_special_tokens=False)[
        "input_ids"
    ]
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[:, -len(answer) :] = inputs["input_ids"][:, -len(answer) :]
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-2)
    model.train()
    for _ in range(100):
        loss = model(**inputs, labels=labels).loss
        if loss.item() < 0.02:
            break
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    unusable = face.model_copy(update={"quality": face.quality.model_copy(update={"usable": False})})
    out = reasoner.reason([face, unusable], rgb)
    r = out[0].reasoning
    assert r.reasoner == "vlm" and r.label == "happiness" and r.text == HAPPY
    assert [e.au for e in r.evidence] == ["AU06", "AU12"] and r.evidence[1].intensity > 1.0
    assert 0 < r.confidence <= 1 and out[0].expression.label == "happiness"
    assert out[1].reasoning.label == "abstain"


def test_missing_model_says_what_to_set(monkeypatch):
    monkeypatch.delenv("FEA_AGENT_VLM_MODEL", raising=False)
    with pytest.raises(BackendUnavailableError, match=r"needs a model.*FEA_AGENT_VLM_MODEL"):
        get_reasoner("vlm")


def test_folder_that_is_not_a_vlm_is_a_clear_error(tmp_path):
    with pytest.raises(BackendUnavailableError, match=r"cannot load the VLM"):
        get_reasoner("vlm", model=str(tmp_path), local_files_only=True)
