"""Annotated images: boxes, landmarks, and per-face label and strongest AUs drawn on the photo."""

from __future__ import annotations

import cv2
import numpy as np

from fea_agent.results import Face, ImageResult

_COLOURS = [(46, 204, 113), (52, 152, 219), (231, 76, 60), (241, 196, 15), (155, 89, 182), (26, 188, 156)]


def face_caption(face: Face, top_aus: int = 3) -> list[str]:
    """Short caption lines for a face: label and confidence, then its strongest present AUs."""
    lines = []
    between = face.uncertain_between if face.quality.usable else None
    if between is not None:  # below min_confidence: both candidates, neither named as the answer
        lines.append(f"uncertain: {between[0]}/{between[1]}")
    elif (face.reasoning is not None and face.reasoning.abstained) or not face.quality.usable:
        return ["abstain"]  # no label, confidence or AUs that would look trustworthy
    if face.expression is not None and face.expression.label is not None:
        p = face.expression.probabilities.get(face.expression.label, 0.0)
        lines.append(f"{face.expression.label} {p:.0%}")
    strongest = sorted((a for a in face.aus if a.present), key=lambda a: -a.intensity)[:top_aus]
    if strongest:
        lines.append("  ".join(f"{a.code} {a.intensity:.1f}" for a in strongest))
    return lines


def annotate(rgb: np.ndarray, result: ImageResult, *, landmarks: bool = True) -> np.ndarray:
    """A copy of ``rgb`` with each face's box, landmarks (optional), label and top AUs drawn on it.

    Captions sit on a filled band above the box (below it when there is no room), sized to the face so that
    neighbouring faces' captions do not cover each other.
    """
    out = np.ascontiguousarray(rgb.copy())
    height, width = out.shape[:2]
    side = max(height, width)
    thickness = max(1, round(side / 400))
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i, face in enumerate(result.faces):
        colour = _COLOURS[i % len(_COLOURS)]
        b = face.bbox
        font_scale = min(1.2, max(0.4, b.width / 200))
        text_thickness = max(1, round(font_scale * 1.6))
        p0 = (round(b.x), round(b.y))
        p1 = (round(b.x + b.width), round(b.y + b.height))
        cv2.rectangle(out, p0, p1, colour, thickness, cv2.LINE_AA)
        if landmarks and face.landmarks:
            radius = max(1, round(side / 900))
            for x, y, _ in face.landmarks[::2]:
                cv2.circle(out, (round(x), round(y)), radius, (255, 255, 255), -1, cv2.LINE_AA)
        lines = face_caption(face)
        if len(result.faces) > 1:
            lines[0:1] = [f"#{i} {lines[0]}" if lines else f"#{i}"]
        if not lines:
            continue
        sizes = [cv2.getTextSize(t, font, font_scale, text_thickness)[0] for t in lines]
        line_h = max(h for _, h in sizes) + round(8 * font_scale)
        band_w = max(w for w, _ in sizes) + round(10 * font_scale)
        band_h = line_h * len(lines) + round(4 * font_scale)
        top = p0[1] - band_h if p0[1] - band_h >= 0 else min(p1[1], height - band_h)
        left = min(max(0, p0[0]), max(0, width - band_w))
        cv2.rectangle(out, (left, top), (left + band_w, top + band_h), colour, -1)
        for k, text in enumerate(lines):
            org = (left + round(5 * font_scale), top + (k + 1) * line_h - round(3 * font_scale))
            cv2.putText(out, text, org, font, font_scale, (20, 20, 20), text_thickness, cv2.LINE_AA)
    return out


def save_annotated(rgb: np.ndarray, result: ImageResult, path: str, *, landmarks: bool = True) -> None:
    """Write the annotated image to ``path`` (format from its extension)."""
    from PIL import Image

    Image.fromarray(annotate(rgb, result, landmarks=landmarks)).save(path)
