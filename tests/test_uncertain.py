"""The confidence bar (``min_confidence``): below it a face is "uncertain between" its top two labels, on real
photos, in the pipeline and in the interfaces that take pipeline options."""

from __future__ import annotations

import pytest
from conftest import ASTRONAUT, DATA, NEUTRAL_FACE, needs_shared
from pydantic import ValidationError

from fea_agent.errors import InvalidInputError
from fea_agent.pipeline import PipelineOptions
from fea_agent.results import ABSTAIN, Expression, ImageResult, json_schema

#: A photo labelled happiness that the default pipeline reads as neutral (about 55%) over happiness.
CLOSE_CALL = DATA / "facial-expressions" / "images" / "Abdoulaye_Wade_0004.jpg"
#: A surprised face, turned enough that its confidence is discounted (about 0.77 x 0.65).
DISCOUNTED = DATA / "facial-expressions" / "images" / "Adam_Mair_0001.jpg"


def _comparable(result: ImageResult) -> dict:
    return result.model_dump(exclude={"timings_ms"})


def _top_two(expression: Expression) -> tuple[str, str]:
    p = expression.probabilities
    first, second = sorted(p, key=lambda k: -p[k])[:2]
    return first, second


def test_a_bar_above_the_answer_says_uncertain_between_the_top_two(pipeline):
    plain = pipeline.run(NEUTRAL_FACE).result.faces[0]
    assert plain.label == "neutral" and plain.confidence is not None and plain.confidence < 0.99
    face = pipeline.run(NEUTRAL_FACE, min_confidence=0.99).result.faces[0]
    between = _top_two(plain.expression)
    assert face.expression.uncertain_between == between == face.reasoning.uncertain_between
    assert face.uncertain_between == between
    # No label anywhere, the distribution kept: the abstain convention, with the reason it abstains.
    assert face.expression.label is None and face.label is None and face.confidence is None
    assert face.expression.probabilities == plain.expression.probabilities
    assert face.reasoning.label == ABSTAIN and face.reasoning.abstained
    assert face.reasoning.confidence == plain.reasoning.confidence
    p = plain.expression.probabilities
    text = face.reasoning.text
    assert text.startswith(
        f"Uncertain between {between[0]} ({p[between[0]]:.0%}) and {between[1]} ({p[between[1]]:.0%})."
    )
    assert "below the 99% asked for" in text
    assert "Neutral." not in text and "The face reads as" not in text and "The face shows" not in text


@needs_shared
def test_a_close_call_on_a_real_photo(pipeline):
    plain = pipeline.run(CLOSE_CALL).result.faces[0]
    assert plain.label == "neutral" and 0.5 < plain.confidence < 0.6
    face = pipeline.run(CLOSE_CALL, min_confidence=0.6).result.faces[0]
    assert face.uncertain_between == ("neutral", "happiness") and face.label is None
    p = face.expression.probabilities
    assert face.reasoning.text.startswith(
        f"Uncertain between neutral ({p['neutral']:.0%}) and happiness ({p['happiness']:.0%})."
    )
    # A bar under its confidence: the answer stands.
    assert pipeline.run(CLOSE_CALL, min_confidence=0.5).result.faces[0].label == "neutral"


@needs_shared
def test_the_bar_is_on_the_answers_confidence_with_its_quality_discount(pipeline):
    plain = pipeline.run(DISCOUNTED).result.faces[0]
    assert plain.quality.confidence_scale < 1
    top = max(plain.expression.probabilities.values())
    assert plain.confidence < 0.6 < top
    face = pipeline.run(DISCOUNTED, min_confidence=0.6).result.faces[0]
    assert face.label is None and face.uncertain_between == _top_two(plain.expression)
    assert "Less certain: " in face.reasoning.text


@pytest.mark.parametrize("bar", [None, 0, 0.0])
def test_no_bar_or_zero_gives_todays_answer(pipeline, bar):
    today = pipeline.run(ASTRONAUT).result
    barred = pipeline.run(ASTRONAUT, min_confidence=bar).result
    assert _comparable(barred) == _comparable(today)
    assert barred.faces[0].expression.uncertain_between is None
    assert barred.faces[0].reasoning.text.startswith("Happiness.")


def test_a_confident_answer_passes_the_bar_unchanged(pipeline):
    today = pipeline.run(ASTRONAUT).result
    assert _comparable(pipeline.run(ASTRONAUT, min_confidence=0.9).result) == _comparable(today)


def test_without_a_reasoner_the_expression_model_answer_is_withheld(pipeline):
    face = pipeline.run(NEUTRAL_FACE, reasoner=None, min_confidence=0.99).result.faces[0]
    assert face.reasoning is None
    assert face.expression.label is None and face.uncertain_between is not None


def test_an_unreadable_face_keeps_its_abstention(pipeline):
    from conftest import TINY_FACE

    today = pipeline.run(TINY_FACE).result
    barred = pipeline.run(TINY_FACE, min_confidence=0.99).result
    assert _comparable(barred) == _comparable(today)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "high", True])
def test_out_of_range_is_a_clear_error(pipeline, bad):
    with pytest.raises(ValidationError, match="min_confidence must be a number from 0 to 1"):
        PipelineOptions(min_confidence=bad)
    with pytest.raises(InvalidInputError, match="min_confidence must be a number from 0 to 1"):
        pipeline.run(ASTRONAUT, min_confidence=bad)


def test_the_pipeline_option_is_the_default_of_every_call(pipeline):
    from fea_agent import FEAPipeline

    options = pipeline.options.model_dump(exclude_unset=True)
    with FEAPipeline(PipelineOptions(**options, min_confidence=0.99)) as barred:
        face = barred.run(NEUTRAL_FACE).result.faces[0]
        assert face.label is None and face.uncertain_between is not None
        assert barred.run(NEUTRAL_FACE, min_confidence=None).result.faces[0].label == "neutral"


def test_the_json_schema_names_the_field():
    defs = json_schema()["$defs"]
    for model in ("Expression", "Reasoning"):
        field = defs[model]["properties"]["uncertain_between"]
        assert "uncertain between" in field["description"]
    assert PipelineOptions.model_json_schema()["properties"]["min_confidence"]["anyOf"][0]["maximum"] == 1
