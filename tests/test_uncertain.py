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
CLOSE_CALL = DATA / "facial-expressions" / "images" / "Bernard_Landry_0004.jpg"
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


# -- the interfaces ------------------------------------------------------------------------------------------


def test_readable_text_and_caption_say_uncertain(pipeline):
    from fea_agent.render import face_caption, format_result

    result = pipeline.run(NEUTRAL_FACE, min_confidence=0.99).result
    face = result.faces[0]
    a, b = face.uncertain_between
    p = face.expression.probabilities
    text = format_result(result)
    assert f"expression: uncertain between {a} ({p[a]:.0%}) and {b} ({p[b]:.0%})" in text
    assert face.reasoning.text in text
    assert face_caption(face)[0] == f"uncertain: {a}/{b}"


def test_tools_take_min_confidence_and_say_uncertain_between(pipeline):
    from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext
    from fea_agent.agent_tools.text import render_output

    ctx = ToolContext(pipeline, ImagePolicy.allowing(NEUTRAL_FACE.parent))
    for name in ("analyze_face", "classify_expression", "explain_emotion", "analyze_video"):
        field = TOOL_SPECS[name].input_model.model_json_schema()["properties"]["min_confidence"]
        assert "uncertain between" in field["description"].lower(), name
    classified = TOOL_SPECS["classify_expression"].run(
        ctx, {"image": str(NEUTRAL_FACE), "min_confidence": 0.99}
    )
    face = classified.faces[0]
    for view in (face.fused, face.appearance):
        assert view is not None and view.label is None and view.uncertain_between is not None
    a, b = face.fused.uncertain_between
    assert f"uncertain between {a} and {b}" in render_output(classified)
    explained = TOOL_SPECS["explain_emotion"].run(ctx, {"image": str(NEUTRAL_FACE), "min_confidence": 0.99})
    reasoning = explained.faces[0].reasoning
    assert reasoning.uncertain_between == (a, b) and reasoning.text.startswith(f"Uncertain between {a} (")
    assert render_output(explained).startswith("face 0 (box")
    assert f"uncertain between {a} and {b} (confidence" in render_output(explained)
    # From given AUs too: a smile's AUs alone are happiness, but not at 99.99%.
    from_aus = TOOL_SPECS["explain_emotion"].run(ctx, {"action_units": ["AU12"], "min_confidence": 0.9999})
    assert from_aus.faces[0].reasoning.uncertain_between is not None
    # Without the argument the answer is today's.
    plain = TOOL_SPECS["classify_expression"].run(ctx, {"image": str(NEUTRAL_FACE)})
    assert plain.faces[0].fused.label == "neutral" and plain.faces[0].fused.uncertain_between is None


def test_a_tool_refuses_an_out_of_range_bar(pipeline):
    from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext

    ctx = ToolContext(pipeline, ImagePolicy.allowing(NEUTRAL_FACE.parent))
    with pytest.raises(InvalidInputError, match="min_confidence"):
        TOOL_SPECS["analyze_face"].run(ctx, {"image": str(NEUTRAL_FACE), "min_confidence": 2})


def test_an_uncertain_stretch_is_no_episode_and_counts_apart(pipeline):
    from fea_agent.video.summary import summarize
    from fea_agent.video.timeline import timeline_text

    happy = pipeline.run(ASTRONAUT).result.faces[0]
    plain = pipeline.run(NEUTRAL_FACE).result.faces[0]
    uncertain = pipeline.run(NEUTRAL_FACE, min_confidence=0.99).result.faces[0]
    fps = 24

    def clip(middle):
        faces = [happy] * fps + [middle] * fps + [happy] * fps
        for i, face in enumerate(faces):
            yield ImageResult(
                image={"width": 512, "height": 512},
                faces=[face.model_copy(update={"face_id": 0})],
                frame_index=i,
                timestamp_s=i / fps,
            )

    def expressions(summary):
        return [e.label for e in summary.faces[0].episodes if e.kind == "expression"]

    assert expressions(summarize(clip(plain))) == ["happiness", "neutral", "happiness"]
    summary = summarize(clip(uncertain))
    assert expressions(summary) == ["happiness", "happiness"]
    face = summary.faces[0]
    assert face.uncertain_share == pytest.approx(1 / 3, abs=1e-3)
    assert face.expression_share == {"happiness": pytest.approx(2 / 3, abs=1e-3)}
    assert face.dominant_expression == "happiness"
    assert "uncertain in 33% of its frames" in timeline_text(summary)


def _fea(*args: str):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "fea_agent", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def test_cli_flag(tmp_path):
    import json

    proc = _fea("analyze", "--json", "--min-confidence", "0.99", str(NEUTRAL_FACE), str(ASTRONAUT))
    assert proc.returncode == 0, proc.stderr
    neutral, smiling = (r["faces"][0] for r in json.loads(proc.stdout))
    assert neutral["expression"]["label"] is None and neutral["reasoning"]["label"] == "abstain"
    a, b = neutral["expression"]["uncertain_between"]
    assert neutral["reasoning"]["uncertain_between"] == [a, b]
    assert neutral["reasoning"]["text"].startswith(f"Uncertain between {a} (")
    assert (
        smiling["expression"]["label"] == "happiness" and smiling["expression"]["uncertain_between"] is None
    )
    text = _fea("analyze", "--min-confidence", "0.99", str(NEUTRAL_FACE))
    assert f"expression: uncertain between {a} (" in text.stdout
    bad = _fea("analyze", "--min-confidence", "1.5", str(NEUTRAL_FACE))
    assert bad.returncode == 2 and "--min-confidence: must be a number from 0 to 1, got '1.5'" in bad.stderr


def test_table_rows_leave_the_expression_empty_and_keep_the_probabilities(pipeline):
    from fea_agent.video.dataframe import frame_rows

    (row,) = frame_rows(pipeline.run(NEUTRAL_FACE, min_confidence=0.99).result)
    assert "expression" not in row and row["reasoning"].startswith("Uncertain between ")
    assert row["neutral"] == pipeline.run(NEUTRAL_FACE).result.faces[0].expression.probabilities["neutral"]


def test_the_live_line_says_uncertain(pipeline):
    from fea_agent.video.live import frame_line

    result = pipeline.run(NEUTRAL_FACE, min_confidence=0.99).result
    a, b = result.faces[0].uncertain_between
    line = frame_line(result.model_copy(update={"frame_index": 0}))
    assert f"face 0: uncertain between {a} " in line and f" and {b} " in line


def test_a_generative_reasoners_answer_is_withheld_the_same_way(pipeline):
    from fea_agent.pipeline.confidence import withhold
    from fea_agent.reasoning.prompting import apply_answer, parse_answer

    face = pipeline.run(ASTRONAUT, reasoner=None).result.faces[0]
    # A VLM that gives no token probabilities: its confidence is recorded as 0.5, "not calibrated".
    answered = apply_answer(
        face, parse_answer("Happiness. The lip corners rise (AU12)."), confidence=None, reasoner="vlm"
    )
    assert answered.label == "happiness" and answered.confidence == 0.5
    assert withhold(answered, 0.5) is answered
    uncertain = withhold(answered, 0.6)
    assert uncertain.label is None and uncertain.reasoning.reasoner == "vlm"
    assert uncertain.uncertain_between[0] == "happiness"
    assert uncertain.reasoning.text.startswith("Uncertain between happiness (50%) and ")
    assert "Happiness." not in uncertain.reasoning.text
