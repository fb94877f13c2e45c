"""HTML pieces of the demo page, written so a person sees what the face is doing without reading JSON.

Pure functions of fea-agent's result types: they hold no state and touch no disk. The annotated photo is an
inline ``data:`` URI, so the face image never lands in a cache folder on its way to the browser.
"""

from __future__ import annotations

import base64
import html
import io
import re

import numpy as np
from PIL import Image

from fea_agent.facs import AU_CATALOGUE, intensity_word, roles
from fea_agent.render import annotate
from fea_agent.results import ABSTAIN, Face, ImageResult

#: Longest side of the annotated photo sent to the browser; enough for a sharp display, small to transfer.
DISPLAY_MAX_SIDE = 960

#: The headline's word for a face whose answer fell below the confidence asked for.
UNCERTAIN = "uncertain"

EMOJI = {
    "happiness": "😊",
    "sadness": "😢",
    "surprise": "😮",
    "fear": "😨",
    "disgust": "🤢",
    "anger": "😠",
    "contempt": "😏",
    "neutral": "😐",
    ABSTAIN: "❔",
    UNCERTAIN: "🤔",
}

#: One colour per expression, the same in every chart, so a line is recognised without the legend.
EXPRESSION_COLOURS = {
    "happiness": "#f59e0b",
    "sadness": "#3b82f6",
    "surprise": "#a855f7",
    "fear": "#14b8a6",
    "disgust": "#65a30d",
    "anger": "#dc2626",
    "contempt": "#92400e",
    "neutral": "#94a3b8",
}

_AU_CODE = re.compile(r"\bAU(\d{1,2})\b")


def jpeg_data_uri(rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE, quality: int = 88) -> str:
    """An RGB array as a ``data:image/jpeg;base64,...`` URI, downscaled to ``max_side``."""
    img = Image.fromarray(rgb)
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def annotated_html(
    rgb: np.ndarray, result: ImageResult, *, landmarks: bool, alt: str = "annotated photo"
) -> str:
    """The photo with boxes, labels and (optionally) landmarks drawn by :func:`fea_agent.render.annotate`."""
    uri = jpeg_data_uri(annotate(rgb, result, landmarks=landmarks))
    return f'<div class="fea-photo"><img src="{uri}" alt="{html.escape(alt)}"/></div>'


def placeholder(text: str) -> str:
    """A muted box with a hint, shown before anything is analysed or when there is nothing to show."""
    return f'<div class="fea-placeholder">{html.escape(text)}</div>'


def face_choices(result: ImageResult) -> list[tuple[str, int]]:
    """Dropdown entries ``("Face 1: happiness", 0)``, largest face first as the pipeline orders them."""
    choices = []
    for i, face in enumerate(result.faces):
        label = _label(face)
        if label == UNCERTAIN and face.uncertain_between is not None:
            label = f"{UNCERTAIN} ({'/'.join(face.uncertain_between)})"
        choices.append((f"Face {i + 1}: {label}" + ("" if face.quality.usable else " (low quality)"), i))
    return choices


def _label(face: Face) -> str:
    if face.quality.usable and face.uncertain_between is not None:
        return UNCERTAIN
    if (face.reasoning is not None and face.reasoning.abstained) or not face.quality.usable:
        return ABSTAIN
    return face.label or "unknown"


def _label_words(face: Face) -> str:
    """The label as the page shows it: 'Happiness', or 'Uncertain: neutral or happiness'."""
    label = _label(face)
    if label == UNCERTAIN and face.uncertain_between is not None:
        a, b = face.uncertain_between
        return f"Uncertain: {a} or {b}"
    return label.capitalize()


def headline_html(face: Face, index: int, n_faces: int) -> str:
    """The answer in one glance: emoji, label, confidence, and the visible movements in plain words."""
    label = _label(face)
    conf = face.confidence
    conf_text = f"{conf:.0%} confident" if conf is not None else ""
    if label == UNCERTAIN and face.expression is not None and face.uncertain_between is not None:
        p = face.expression.probabilities
        conf_text = " vs ".join(f"{k} {p.get(k, 0.0):.0%}" for k in face.uncertain_between)
        conf_text += ": below the confidence asked for, so neither is named"
    present = sorted((a for a in face.aus if a.present), key=lambda a: -a.intensity)
    movements = "".join(
        f'<li><span class="fea-au-chip">{a.code}</span> {html.escape(_appearance(a.code))}'
        f' <span class="fea-muted">({intensity_word(a.intensity)})</span></li>'
        for a in present[:5]
    )
    if not face.quality.usable:  # no AUs that would look trustworthy
        movements = '<li class="fea-muted">Not shown: the face cannot be read reliably.</li>'
    elif not movements:
        movements = '<li class="fea-muted">No action unit is clearly active: a relaxed face.</li>'
    which = f"Face {index + 1} of {n_faces}" if n_faces > 1 else "The face"
    notes = ""
    if face.reasoning is not None and face.reasoning.agreement.ambiguous:
        notes += '<div class="fea-note">Ambiguous: the two most likely expressions are close.</div>'
    if face.reasoning is not None and face.reasoning.agreement.mixed:
        mixed = ", ".join(face.reasoning.agreement.mixed)
        notes += f'<div class="fea-note">Blended expression: {html.escape(mixed)}.</div>'
    for issue in face.quality.issues:
        notes += f'<div class="fea-note fea-warn">⚠ {html.escape(issue)}</div>'
    return (
        '<div class="fea-headline">'
        f'<div class="fea-emoji">{EMOJI.get(label, "🙂")}</div>'
        f'<div><div class="fea-which">{which}</div>'
        f'<div class="fea-label">{html.escape(_label_words(face))}</div>'
        f'<div class="fea-muted">{conf_text}</div></div></div>'
        f'<div class="fea-doing"><b>What the face is doing</b><ul>{movements}</ul></div>{notes}'
    )


def _appearance(code: str) -> str:
    info = AU_CATALOGUE.get(code)
    return info.appearance if info is not None else code


def reasoning_html(face: Face) -> str:
    """The reasoner's grounded explanation with every cited AU highlighted: green supports, red contradicts."""
    if face.reasoning is None:
        return placeholder("No reasoner ran on this face.")
    supports = {e.au for e in face.reasoning.evidence if face.reasoning.label in e.supports}
    contradicts = {e.au for e in face.reasoning.evidence if face.reasoning.label in e.contradicts}

    def mark(m: re.Match[str]) -> str:
        code = f"AU{int(m.group(1)):02d}"
        kind = "fea-against" if code in contradicts else "fea-for" if code in supports else "fea-cited"
        info = AU_CATALOGUE.get(code)
        title = f"{code} {info.name}: {info.appearance}" if info else code
        return f'<mark class="{kind}" title="{html.escape(title)}">{m.group(0)}</mark>'

    text = _AU_CODE.sub(mark, html.escape(face.reasoning.text))
    agreement = face.reasoning.agreement
    extra = ""
    if agreement.appearance_label and agreement.action_unit_label:
        verdict = "agree" if agreement.agree else "disagree"
        extra = (
            f'<div class="fea-muted fea-small">Appearance model says <b>{html.escape(agreement.appearance_label)}</b>, '
            f"the action units say <b>{html.escape(agreement.action_unit_label)}</b>: they {verdict}. "
            f"Reasoner: {html.escape(face.reasoning.reasoner)}.</div>"
        )
    legend = (
        '<div class="fea-muted fea-small"><mark class="fea-for">AU</mark> supports the answer '
        '<mark class="fea-against">AU</mark> argues against it</div>'
    )
    return f'<div class="fea-reasoning">{text}</div>{legend}{extra}'


def _turn(value: float, positive: str, negative: str, small: float = 8.0, large: float = 25.0) -> str:
    if abs(value) < small:
        return "straight"
    side = positive if value > 0 else negative
    return f"{'strongly' if abs(value) >= large else 'slightly'} {side}"


def pose_html(face: Face) -> str:
    """Head pose in degrees and in words (yaw > 0 turns towards the image's right, pitch > 0 tilts up)."""
    p = face.head_pose
    if p is None:
        return placeholder("Head pose unavailable (no landmarks on this face).")
    rows = [
        ("Yaw", p.yaw, _turn(p.yaw, "turned to the image's right", "turned to the image's left")),
        ("Pitch", p.pitch, _turn(p.pitch, "tilted up", "tilted down")),
        ("Roll", p.roll, _turn(p.roll, "tilted clockwise", "tilted anticlockwise")),
    ]
    body = "".join(f"<tr><td>{n}</td><td>{v:+.0f}°</td><td>{html.escape(w)}</td></tr>" for n, v, w in rows)
    return f'<table class="fea-table fea-pose"><tbody>{body}</tbody></table>'


def about_aus_html() -> str:
    """The FACS catalogue as a table: code, name, muscle, appearance and the expressions each AU belongs to."""
    used_in: dict[str, list[str]] = {}
    for code in AU_CATALOGUE:
        role = roles(code)
        used_in[code] = [f"<b>{label}</b>" if label in role.core_of else label for label in role.supports]
    rows = "".join(
        f"<tr><td><span class='fea-au-chip'>{info.code}</span></td><td>{html.escape(info.name)}</td>"
        f"<td>{html.escape(info.appearance)}</td><td class='fea-muted'>{html.escape(info.muscle)}</td>"
        f"<td>{', '.join(used_in.get(info.code, [])) or '<span class=fea-muted>-</span>'}</td></tr>"
        for info in AU_CATALOGUE.values()
    )
    return (
        "<p>Facial expressions are built from <b>action units</b> (AUs), the visible movements of single facial "
        "muscles coded by the Facial Action Coding System (FACS; Ekman, Friesen &amp; Hager 2002). Intensity runs "
        "0-5: 0 absent, 1-5 the FACS grades A (trace) to E (maximum). Here the AUs are estimated from MediaPipe's "
        "face blendshapes: a calibrated approximation, not a certified FACS coder. In the last column, "
        "<b>bold</b> marks an AU an expression cannot do without.</p>"
        "<table class='fea-table'><thead><tr><th>AU</th><th>Name</th><th>Looks like</th><th>Muscle</th>"
        f"<th>Part of</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def reasoners_html(unavailable: dict[str, str]) -> str:
    """The reasoners that cannot run here, folded into one line (their reasons open on a click): a paragraph
    each pushed the photo below the fold."""
    if not unavailable:
        return ""
    items = "".join(
        f'<li><span class="fea-disabled">{html.escape(name)}</span> '
        f'<span class="fea-muted fea-small">{html.escape(why)}</span></li>'
        for name, why in unavailable.items()
    )
    names = ", ".join(html.escape(name) for name in unavailable)
    return (
        f'<details class="fea-reasoners fea-muted fea-small"><summary>Not available here: {names}</summary>'
        f"<ul>{items}</ul></details>"
    )


CSS = """
.fea-photo img {max-width: 100%; max-height: 560px; border-radius: 10px; display: block; margin: auto;}
.fea-placeholder {padding: 28px; text-align: center; color: var(--body-text-color-subdued);
  border: 1px dashed var(--border-color-primary); border-radius: 10px;}
.fea-headline {display: flex; gap: 16px; align-items: center; margin-bottom: 8px;}
.fea-emoji {font-size: 56px; line-height: 1;}
.fea-which {font-size: 13px; color: var(--body-text-color-subdued); text-transform: uppercase; letter-spacing: .05em;}
.fea-label {font-size: 32px; font-weight: 700;}
.fea-muted {color: var(--body-text-color-subdued);}
.fea-small {font-size: 12px; margin-top: 6px;}
.fea-doing ul {margin: 6px 0 0 0; padding-left: 4px; list-style: none;}
.fea-doing li {margin: 4px 0;}
.fea-au-chip {display: inline-block; font-family: var(--font-mono); font-size: 12px; padding: 1px 6px;
  border-radius: 6px; background: var(--color-accent-soft); color: var(--color-accent); font-weight: 600;}
.fea-note {margin-top: 6px; font-size: 14px;}
.fea-warn {color: #b45309;}
.fea-reasoning {font-size: 17px; line-height: 1.6;}
.fea-reasoning mark, .fea-small mark {border-radius: 4px; padding: 0 3px; font-weight: 600;}
mark.fea-for {background: #bbf7d0; color: #14532d;}
mark.fea-against {background: #fecaca; color: #7f1d1d;}
mark.fea-cited {background: #e0e7ff; color: #312e81;}
.fea-table {border-collapse: collapse; width: 100%; font-size: 14px;}
.fea-table td, .fea-table th {padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); text-align: left;}
.fea-pose td:nth-child(2) {font-family: var(--font-mono);}
.fea-disabled {color: var(--body-text-color-subdued); text-decoration: line-through;}
.fea-reasoners {list-style: none; padding-left: 0; margin: 4px 0;}
"""
CSS += """
.fea-card {border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 14px; margin-top: 8px;}
"""
