"""Readable renderings of the agent tools' typed outputs: what a language model reads from a tool call.

The typed output itself travels beside this text (LangChain's artifact, LlamaIndex's raw_output); the text
keeps the numbers a model needs to answer and cite: AU codes with intensities, probabilities, the reasoning.
"""

from __future__ import annotations

from pydantic import BaseModel

from fea_agent.agent_tools.analyze_face import FaceAnalysis
from fea_agent.agent_tools.analyze_video import VideoAnalysis
from fea_agent.agent_tools.classify_expression import ExpressionResult
from fea_agent.agent_tools.describe_action_unit import ActionUnitDescriptions
from fea_agent.agent_tools.detect_action_units import ActionUnitsResult
from fea_agent.agent_tools.detect_faces import FaceDetections
from fea_agent.agent_tools.explain_emotion import EmotionExplanation
from fea_agent.render.text import format_result
from fea_agent.results import BoundingBox, Expression, FaceQuality


def _head(source: str | None, width: int, height: int, count: int) -> str:
    name = source or "image"
    if not count:
        return f"{name} ({width}x{height}): no face found"
    return f"{name} ({width}x{height}): {count} face{'s' if count > 1 else ''}"


def _box(b: BoundingBox) -> str:
    return f"box x={b.x:.0f} y={b.y:.0f} w={b.width:.0f} h={b.height:.0f}"


def _top(expression: Expression, n: int = 3) -> str:
    probs = sorted(expression.probabilities.items(), key=lambda kv: -kv[1])[:n]
    spread = "(" + ", ".join(f"{k} {v:.0%}" for k, v in probs) + ")"
    if expression.uncertain_between is not None:
        a, b = expression.uncertain_between
        return f"uncertain between {a} and {b}, below the confidence asked for; no label {spread}"
    if expression.label is None:
        return "none (the face cannot be read reliably)"
    return f"{expression.label} {spread}"


def _issues(quality: FaceQuality) -> list[str]:
    return [f"    not usable: {issue}" for issue in quality.issues] if not quality.usable else []


def _detections(out: FaceDetections) -> str:
    lines = [_head(out.source, out.image.width, out.image.height, len(out.faces))]
    for i, f in enumerate(out.faces):
        pose = ""
        if f.head_pose is not None:
            p = f.head_pose
            pose = f", head pose yaw {p.yaw:+.0f}° pitch {p.pitch:+.0f}° roll {p.roll:+.0f}°"
        lines.append(f"  face {i}: {_box(f.bbox)}, score {f.score:.2f}{pose}")
        lines += _issues(f.quality)
    return "\n".join(lines)


def _action_units(out: ActionUnitsResult) -> str:
    lines = [_head(out.source, out.image.width, out.image.height, len(out.faces))]
    for i, f in enumerate(out.faces):
        lines.append(f"  face {i}: {_box(f.bbox)}")
        present = sorted((a for a in f.aus if a.present), key=lambda a: -a.intensity)
        absent = [a.code for a in f.aus if not a.present]
        if present:
            lines.append(
                "    present: "
                + ", ".join(f"{a.code} {a.name} {a.intensity:.1f}/5 (p={a.probability:.2f})" for a in present)
            )
        else:
            lines.append("    present: none" if f.aus else "    no action units measured")
        if absent:
            lines.append("    absent: " + ", ".join(absent))
        lines += _issues(f.quality)
    return "\n".join(lines)


def _expressions(out: ExpressionResult) -> str:
    lines = [_head(out.source, out.image.width, out.image.height, len(out.faces))]
    for i, f in enumerate(out.faces):
        lines.append(f"  face {i}: {_box(f.bbox)}")
        if f.fused is not None:
            lines.append(f"    fused with action units: {_top(f.fused)}")
        if f.appearance is not None:
            lines.append(f"    appearance alone: {_top(f.appearance)}")
        lines += _issues(f.quality)
    return "\n".join(lines)


def _explanation(out: EmotionExplanation) -> str:
    if not out.faces:
        return "no face found: nothing to explain"
    lines = []
    for i, f in enumerate(out.faces):
        where = f" ({_box(f.bbox)})" if f.bbox is not None else " (from the given action units)"
        r = f.reasoning
        if r.uncertain_between is not None:
            a, b = r.uncertain_between
            head = f"uncertain between {a} and {b} (confidence {r.confidence:.0%}, below the bar asked for)"
        else:
            head = f"{r.label}, confidence {r.confidence:.0%}"
        lines.append(f"face {i}{where}: {head}")
        lines.append(f"  {r.text}")
        if f.expression is not None:
            lines.append(f"  distribution: {_top(f.expression, 4)}")
    if out.note:
        lines.append(f"note: {out.note}")
    return "\n".join(lines)


def _descriptions(out: ActionUnitDescriptions) -> str:
    lines = []
    for d in out.action_units:
        line = f"{d.code} {d.name} ({d.muscle}): {d.appearance}."
        if d.core_of:
            line += f" Core of: {', '.join(d.core_of)}."
        if d.supports:
            line += f" Supports: {', '.join(d.supports)}."
        if d.contradicts:
            line += f" Argues against: {', '.join(d.contradicts)}."
        lines.append(line)
    return "\n".join(lines)


def _video(out: VideoAnalysis) -> str:
    """The timeline in words (the totals are in the structured content)."""
    from fea_agent.video.timeline import timeline_text

    return timeline_text(out.summary, out.focus)


def render_output(output: BaseModel) -> str:
    """The readable text of any agent tool's output."""
    if isinstance(output, FaceAnalysis):
        return format_result(output)
    if isinstance(output, FaceDetections):
        return _detections(output)
    if isinstance(output, ActionUnitsResult):
        return _action_units(output)
    if isinstance(output, ExpressionResult):
        return _expressions(output)
    if isinstance(output, EmotionExplanation):
        return _explanation(output)
    if isinstance(output, ActionUnitDescriptions):
        return _descriptions(output)
    if isinstance(output, VideoAnalysis):
        return _video(output)
    return output.model_dump_json(exclude_none=True)
