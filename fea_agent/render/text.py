"""Readable text renderings of results, for terminals and chat."""

from __future__ import annotations

from fea_agent.results import Expression, ImageResult


def uncertain_words(expression: Expression) -> str:
    """'uncertain between neutral (55%) and happiness (38%)' for an answer below ``min_confidence``."""
    assert expression.uncertain_between is not None
    a, b = expression.uncertain_between
    p = expression.probabilities
    return f"uncertain between {a} ({p.get(a, 0.0):.0%}) and {b} ({p.get(b, 0.0):.0%})"


def format_result(result: ImageResult, *, top_aus: int = 5) -> str:
    """A few lines per face: box, expression, strongest AUs, pose, quality issues and the reasoning."""
    head = f"{result.source or 'image'} ({result.image.width}x{result.image.height}): "
    if not result.faces:
        return head + "no face found"
    lines = [head + f"{len(result.faces)} face{'s' if len(result.faces) > 1 else ''}"]
    for i, face in enumerate(result.faces):
        b = face.bbox
        lines.append(
            f"  face {i}: box x={b.x:.0f} y={b.y:.0f} w={b.width:.0f} h={b.height:.0f}, score {face.score:.2f}"
        )
        if not face.quality.usable:  # no label, distribution or AUs that would look trustworthy
            lines.append("    expression: none (the face cannot be read reliably)")
        elif face.expression is not None and face.expression.uncertain_between is not None:
            lines.append(f"    expression: {uncertain_words(face.expression)}")
        elif face.expression is not None and face.expression.label is not None:
            probs = sorted(face.expression.probabilities.items(), key=lambda kv: -kv[1])[:3]
            lines.append(
                f"    expression: {face.expression.label} ("
                + ", ".join(f"{k} {v:.0%}" for k, v in probs)
                + f"; {face.expression.source}"
                + (f", model {face.expression.model}" if face.expression.model else "")
                + ")"
            )
        present = sorted((a for a in face.aus if a.present), key=lambda a: -a.intensity)[:top_aus]
        if not face.quality.usable:
            pass
        elif present:
            lines.append(
                "    action units: " + ", ".join(f"{a.code} {a.name} {a.intensity:.1f}/5" for a in present)
            )
        elif face.aus:
            lines.append("    action units: none present")
        if face.head_pose is not None:
            p = face.head_pose
            lines.append(f"    head pose: yaw {p.yaw:+.0f}°, pitch {p.pitch:+.0f}°, roll {p.roll:+.0f}°")
        for issue in face.quality.issues:
            lines.append(f"    quality: {issue}")
        if face.reasoning is not None:
            lines.append(f"    reasoning ({face.reasoning.reasoner}): {face.reasoning.text}")
    return "\n".join(lines)
