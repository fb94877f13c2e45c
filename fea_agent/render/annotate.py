"""Annotated images: boxes, landmarks, and per-face label and strongest AUs drawn on the photo."""

from __future__ import annotations

import cv2
import numpy as np

from fea_agent.results import Face, ImageResult

_COLOURS = [(46, 204, 113), (52, 152, 219), (231, 76, 60), (241, 196, 15), (155, 89, 182), (26, 188, 156)]


def face_caption(face: Face, top_aus: int = 3) -> list[str]:
    """Short caption lines for a face: label and confidence, then its strongest present AUs."""
    lines = []
    if face.reasoning is not None and face.reasoning.label == "abstain":
        lines.append("abstain")
    elif face.expression is not None:
        p = face.expression.probabilities.get(face.expression.label, 0.0)
        lines.append(f"{face.expression.label} {p:.0%}")
    strongest = sorted((a for a in face.aus if a.present), key=lambda a: -a.intensity)[:top_aus]
    if strongest:
        lines.append(" ".join(f"{a.code}:{a.intensity:.1f}" for a in strongest))
    return lines


def annotate(rgb: np.ndarray, result: ImageResult, *, landmarks: bool = True) -> np.ndarray:
    """A copy of ``rgb`` with each face's box, landmarks (optional), label and top AUs drawn on it."""
    out = np.ascontiguousarray(rgb.copy())
    height, width = out.shape[:2]
    thickness = max(1, round(max(height, width) / 500))
    font_scale = max(0.4, max(height, width) / 1400)
    for i, face in enumerate(result.faces):
        colour = _COLOURS[i % len(_COLOURS)]
        b = face.bbox
        p0 = (round(b.x), round(b.y))
        p1 = (round(b.x + b.width), round(b.y + b.height))
        cv2.rectangle(out, p0, p1, colour, thickness, cv2.LINE_AA)
        if landmarks and face.landmarks:
            radius = max(1, thickness // 2)
            for x, y, _ in face.landmarks[::2]:
                cv2.circle(out, (round(x), round(y)), radius, (255, 255, 255), -1, cv2.LINE_AA)
        lines = [f"#{i}", *face_caption(face)]
        y = max(p0[1] - 6, 0)
        line_h = round(22 * font_scale * 1.4) + thickness
        y_top = y - line_h * (len(lines) - 1)
        if y_top < line_h:  # no room above the box: write below it
            y_top = min(p1[1] + line_h, height - 2)
        for k, text in enumerate(lines):
            org = (p0[0], y_top + k * line_h)
            cv2.putText(
                out, text, org, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness + 2, cv2.LINE_AA
            )
            cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, thickness, cv2.LINE_AA)
    return out


def save_annotated(rgb: np.ndarray, result: ImageResult, path: str, *, landmarks: bool = True) -> None:
    """Write the annotated image to ``path`` (format from its extension)."""
    from PIL import Image

    Image.fromarray(annotate(rgb, result, landmarks=landmarks)).save(path)
