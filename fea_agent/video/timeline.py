"""A video's episodes in words, for a language model: one line per episode, label first, times in seconds.

    Face 0, seen 0.0-19.7 s:
    - Sadness 0.0-2.5 s (peak 0.92 at 2.1 s); AU06 Cheek raiser, AU12 Lip corner puller
    - Face covered 2.5-9.4 s (something covers the lower face); nothing is read there
    - Happiness 9.5-19.7 s (peak 1.00 at 11.1 s); AU25 Lips part, AU12 Lip corner puller, AU06 Cheek raiser 10.4-19.7 s

An AU is listed with the expression episodes it overlaps (its own times only where they differ from the
episode's by more than half a second); AU events outside every expression episode get a line of their own.
``focus`` keeps the moments of one expression or one AU (and the spans where the face cannot be read, which
say where it could not be seen).
"""

from __future__ import annotations

from pathlib import PurePath

from fea_agent.facs.catalogue import AU_CATALOGUE, normalize_au_code
from fea_agent.results import EXPRESSION_LABELS, STATE_KINDS, Episode, VideoSummary, normalize_label

#: AU times are said beside an expression's only when they differ from it by more than this (seconds).
_SAME_S = 0.5
_STATE_WORDS = {"missing": "Face not found", "unusable": "Face unusable", "occluded": "Face covered"}


def parse_focus(focus: str) -> str:
    """An expression word ('smile', 'happy', 'sadness') or an AU code ('AU12', '12') as the label or code
    the episodes use. Raises ValueError naming what is accepted."""
    try:
        label = normalize_label(focus)
        if label in EXPRESSION_LABELS:
            return label
    except ValueError:
        pass
    try:
        code = normalize_au_code(focus)
    except ValueError:
        code = None
    if code in AU_CATALOGUE:
        return code
    raise ValueError(
        f"unknown expression or action unit {focus!r}: use an expression ({', '.join(EXPRESSION_LABELS)}, or a "
        f"word such as 'smile') or an AU code ({', '.join(AU_CATALOGUE)})"
    )


def keeps(episode: Episode, focus: str | None) -> bool:
    """Whether an episode is one of the moments ``focus`` (a parsed label or code) asks for; state spans
    always are."""
    return focus is None or episode.kind in STATE_KINDS or episode.label == focus


def _span(a: float, b: float | None) -> str:
    return f"{a:.1f}-{b:.1f} s" if b is not None else f"from {a:.1f} s"


def _peak(e: Episode, digits: int) -> str:
    if e.apex_value is None or e.apex_s is None:
        return ""
    return f" (peak {e.apex_value:.{digits}f} at {e.apex_s:.1f} s)"


def _reason(e: Episode) -> str:
    if not e.reason:
        return ""
    return f" ({e.reason.split(' (')[0].split(':')[0].split(', so ')[0]})"


def _overlap(a: Episode, b: Episode) -> float:
    return max(0.0, min(a.offset_s or 0.0, b.offset_s or 0.0) - max(a.onset_s, b.onset_s))


def _au_words(events: list[Episode], within: Episode | None) -> str:
    """One AU's events: its code and FACS name, and their times where they differ from ``within``'s."""
    first = events[0]
    words = f"{first.label} {first.name}" if first.name else first.label
    same = within is not None and len(events) == 1
    if same and within is not None:
        same = (
            abs(first.onset_s - within.onset_s) <= _SAME_S
            and abs((first.offset_s or 0) - (within.offset_s or 0)) <= _SAME_S
        )
    if not same:
        words += " " + " and ".join(_span(e.onset_s, e.offset_s) for e in events)
    return words


def _grouped(events: list[Episode]) -> list[list[Episode]]:
    """AU events by code, in the order their codes first appear."""
    groups: dict[str, list[Episode]] = {}
    for e in events:
        groups.setdefault(e.label, []).append(e)
    return [sorted(g, key=lambda e: e.onset_s) for g in groups.values()]


def face_lines(episodes: list[Episode], focus: str | None = None) -> list[str]:
    """One line per expression episode (with the AUs that mostly fall in it), per state span, and per AU
    whose events fall in no expression episode."""
    expressions = [e for e in episodes if e.kind == "expression" and keeps(e, focus)]
    aus = [e for e in episodes if e.kind == "action_unit" and keeps(e, focus)]
    home: dict[int, list[Episode]] = {}  # expression index -> the AU events that overlap it most
    alone: list[Episode] = []
    for au in aus:
        best = max(range(len(expressions)), key=lambda i: _overlap(au, expressions[i]), default=None)
        if best is not None and _overlap(au, expressions[best]) >= (au.duration_s or 0.0) / 3:
            home.setdefault(best, []).append(au)
        else:
            alone.append(au)
    lines: list[tuple[float, str]] = []
    for i, e in enumerate(expressions):
        line = f"- {e.label.capitalize()} {_span(e.onset_s, e.offset_s)}{_peak(e, 2)}"
        events = sorted(home.get(i, []), key=lambda a: -_overlap(a, e))
        if events:
            line += "; " + ", ".join(_au_words(group, e) for group in _grouped(events))
        lines.append((e.onset_s, line))
    for e in episodes:
        if e.kind in STATE_KINDS:
            lines.append((e.onset_s, f"- {_STATE_WORDS[e.kind]} {_span(e.onset_s, e.offset_s)}{_reason(e)}"))
    # Asked for one AU, each of its events is a moment of its own; otherwise an AU's events share a line.
    for group in _grouped(alone) if focus is None else [[a] for a in alone]:
        peak = max(group, key=lambda a: a.apex_value or 0.0)
        lines.append((group[0].onset_s, f"- {_au_words(group, None)}{_peak(peak, 1)}"))
    return [line for _, line in sorted(lines, key=lambda tl: tl[0])]


def timeline_text(summary: VideoSummary, focus: str | None = None) -> str:
    """The summary's episodes in words (see the module docstring); ``focus`` as :func:`parse_focus` takes it."""
    wanted = parse_focus(focus) if focus is not None else None
    faces = len(summary.faces)
    name = PurePath(summary.source).name if summary.source else "video"
    head = (
        f"{name}: {summary.duration_s:.1f} s, {summary.frames} frames analysed, "
        f"{faces} face{'s' if faces != 1 else ''}"
    )
    lines = [head + (f"; moments of {wanted} only." if wanted else ".")]
    for e in summary.no_face:
        lines.append(f"No face {_span(e.onset_s, e.offset_s)}.")
    for face in summary.faces:
        lines.append(f"Face {face.face_id}, seen {_span(face.first_s, face.last_s)}:")
        body = face_lines(face.episodes, wanted)
        if wanted is not None and not any(e.label == wanted for e in face.episodes):
            body.insert(0, f"- no {wanted} episode")
        lines += body or ["- no episode long enough to report"]
        if face.uncertain_share > 0:
            lines.append(
                f"- uncertain in {face.uncertain_share:.0%} of its frames (below the confidence asked for: "
                "no expression named there)"
            )
    return "\n".join(lines)
