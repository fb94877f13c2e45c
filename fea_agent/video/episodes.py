"""Episodes: when each face shows each expression, each AU is active, and when the face cannot be read.

Computed as the frames stream, in memory that does not grow with the video (a few numbers per face, AU and
label, plus the episodes found). Per ``face_id``, every frame is first sorted by what can be read of it:

- ``missing``: a face seen before is not found in this frame (kept only when it is found again later);
- ``occluded``: ``quality.occluded`` (a hand across the face, or the landmark model unsure of it);
- ``unusable``: ``quality.usable`` is False (turned away, too small, cut by the frame's edge);

and only the other frames are read for expressions and AUs, so a hidden face is never read as an expression.
A frame whose answer fell below the pipeline's ``min_confidence`` (``expression.uncertain_between`` set) is
read for AUs but shows no expression: it starts none, and a run of them longer than ``merge_gap_s`` ends one.
There the expression probabilities and the AU probabilities and intensities are smoothed over time (an
exponential moving average with time constant ``smoothing_s``), then thresholded with hysteresis: an
expression starts when it is the most probable label and reaches ``expression_enter``, and lasts while its
probability stays at ``expression_exit`` or above and no other label overtakes it above ``expression_enter``
(so expression episodes never overlap); an AU is active from ``au_enter`` until its probability falls below
``au_exit``. Every kind of span then goes through the same time rules: a span shorter than ``min_duration_s``
is noise and dropped, and a gap shorter than ``merge_gap_s`` between two spans of the same thing joins them.

Live, an episode's start is known ``min_duration_s`` after its onset and its end ``merge_gap_s`` after its
offset (or ``min_duration_s`` after the next expression's onset), each plus the smoothing's lag (about
``smoothing_s`` times ln 2 for a sharp change): :class:`EpisodeTracker` calls ``on_event`` then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fea_agent.results import PRESENCE, Episode, EpisodeKind, Face, ImageResult

_EPS = 1e-6
#: A face not found for this long (and at least this many frame gaps) is not coming back with its id.
RETIRE_S, RETIRE_GAPS = 5.0, 5


class EpisodeOptions(BaseModel):
    """How episodes are found; the defaults suit 24-30 frames/s video analysed at stride 1 to 5."""

    model_config = ConfigDict(extra="forbid")

    smoothing_s: float = Field(
        0.15, ge=0, le=5, description="Time constant (s) of the moving average over the frames; 0: none."
    )
    expression_enter: float = Field(
        0.5, gt=0, le=1, description="An expression starts when its probability reaches this."
    )
    expression_exit: float = Field(
        0.35, ge=0, le=1, description="... and ends when it falls below this (or another label overtakes it)."
    )
    au_enter: float = Field(
        PRESENCE, gt=0, le=1, description="An AU event starts when its probability reaches this."
    )
    au_exit: float = Field(0.35, ge=0, le=1, description="... and ends when it falls below this.")
    min_duration_s: float = Field(
        0.3, ge=0, le=60, description="Spans shorter than this are dropped as noise (seconds)."
    )
    merge_gap_s: float = Field(
        0.3,
        ge=0,
        le=60,
        description="Spans of the same thing closer than this are joined (seconds); at most min_duration_s, "
        "so an occluded span always splits the expression around it.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> EpisodeOptions:
        if self.expression_exit > self.expression_enter:
            raise ValueError("expression_exit must not exceed expression_enter")
        if self.au_exit > self.au_enter:
            raise ValueError("au_exit must not exceed au_enter")
        if self.merge_gap_s > self.min_duration_s:
            raise ValueError("merge_gap_s must not exceed min_duration_s")
        return self


class EpisodeEvent(BaseModel):
    """An episode starting or ending, as a live run learns it (``fea-agent live --events`` prints these)."""

    event: Literal["start", "end"]
    face_id: int | None = Field(description="The face; None for a span with no face in the frame at all.")
    at_s: float = Field(description="Time of the frame at which this became known, seconds.")
    episode: Episode = Field(description="The episode; on 'start' its offset is None and its apex so far.")


@dataclass
class _Run:
    """One span of one value while it is being found."""

    value: str
    onset: float
    apex_t: float | None = None
    apex_v: float | None = None
    reason: str | None = None
    confirmed: bool = False

    def extend(self, t: float, score: float | None) -> None:
        if score is not None and (self.apex_v is None or score > self.apex_v):
            self.apex_t, self.apex_v = t, score


EpisodeSink = Callable[[Literal["start", "end"], _Run, "float | None", float], None]


class _Segmenter:
    """Spans of one categorical signal (a value, or None for nothing), with a minimum duration and gap
    bridging; calls ``sink(event, run, offset, at)`` when a span is confirmed ('start') and when it ends."""

    def __init__(self, min_duration: float, merge_gap: float, sink: EpisodeSink) -> None:
        self.min_duration, self.merge_gap, self.sink = min_duration, merge_gap, sink
        self.active: _Run | None = None
        self.candidate: _Run | None = None  # another value, while the active one pauses
        self.gap_since: float | None = None

    def feed(
        self, t: float, end: float, value: str | None, score: float | None = None, reason: str | None = None
    ) -> None:
        """The frame at ``t`` (its interval ends at ``end``, the next frame's expected time)."""
        active = self.active
        if active is None:
            if value is not None:
                self.active = _Run(value, t, reason=reason)
                self.active.extend(t, score)
                self._confirm(self.active, end, t)
            return
        if value == active.value:
            active.extend(t, score)
            self.gap_since = self.candidate = None
            self._confirm(active, end, t)
            return
        if self.gap_since is None:
            self.gap_since = t
        if value is None:
            self.candidate = None
        else:
            if self.candidate is None or self.candidate.value != value:
                self.candidate = _Run(value, t, reason=reason)
            self.candidate.extend(t, score)
            if end - self.candidate.onset >= self.min_duration - _EPS:
                self._close(active, self.gap_since, t)
                self.active, self.candidate, self.gap_since = self.candidate, None, None
                self._confirm(self.active, end, t)
                return
        if end - self.gap_since >= self.merge_gap - _EPS:
            self._close(active, self.gap_since, t)
            self.active, self.candidate, self.gap_since = self.candidate, None, None
            if self.active is not None:
                self._confirm(self.active, end, t)

    def finish(self, end: float, at: float) -> None:
        """The video (or this face) ends at ``end``: close what is open."""
        if self.active is not None:
            self._close(self.active, self.gap_since if self.gap_since is not None else end, at)
        self.active = self.candidate = self.gap_since = None

    def _confirm(self, run: _Run, end: float, at: float) -> None:
        if not run.confirmed and end - run.onset >= self.min_duration - _EPS:
            run.confirmed = True
            self.sink("start", run, None, at)

    def _close(self, run: _Run, offset: float, at: float) -> None:
        if not run.confirmed:
            if offset - run.onset < self.min_duration - _EPS:
                return
            run.confirmed = True
            self.sink("start", run, None, at)
        self.sink("end", run, offset, at)


def _episode(kind: EpisodeKind, run: _Run, offset: float | None, name: str | None = None) -> Episode:
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return Episode(
        kind=kind,
        label=run.value,
        name=name,
        onset_s=round(run.onset, 3),
        offset_s=r(offset),
        duration_s=r(None if offset is None else offset - run.onset),
        apex_s=r(run.apex_t),
        apex_value=None if run.apex_v is None else round(run.apex_v, 4 if kind == "expression" else 3),
        reason=run.reason,
    )


def _state(face: Face) -> tuple[EpisodeKind | None, str | None]:
    """Which state span a frame of this face belongs to (None: readable), and why, in words."""
    quality = face.quality
    if quality.occluded:
        why = next((i for i in quality.issues if "cover" in i or "landmark model" in i), None)
        return "occluded", why or (quality.issues[0] if quality.issues else None)
    if not quality.usable:
        return "unusable", quality.issues[0] if quality.issues else None
    return None, None


@dataclass
class _Smoothed:
    """An exponential moving average whose weight follows the time between frames."""

    tau: float
    values: dict[str, float] = field(default_factory=dict)

    def update(self, key: str, value: float, dt: float | None) -> float:
        old = self.values.get(key)
        if old is None or dt is None or self.tau <= 0:
            new = value
        else:
            new = old + (1.0 - math.exp(-max(dt, 0.0) / self.tau)) * (value - old)
        self.values[key] = new
        return new


class _FaceEpisodes:
    """The episodes of one face_id as its frames arrive."""

    def __init__(self, face_id: int, options: EpisodeOptions, emit: Callable[[EpisodeEvent], None]) -> None:
        self.face_id, self.options, self._emit = face_id, options, emit
        self.episodes: list[Episode] = []
        self.last_seen_s = 0.0
        self._names: dict[str, str] = {}
        self._smooth = _Smoothed(options.smoothing_s)
        self._last_read_s: float | None = None  # the last readable frame (None after a state span: restart)
        self._label: str | None = None  # the expression the hysteresis holds
        self._au_on: set[str] = set()
        md, gap = options.min_duration_s, options.merge_gap_s
        self._state = _Segmenter(md, gap, self._sink("state"))
        self._expression = _Segmenter(md, gap, self._sink("expression"))
        self._aus: dict[str, _Segmenter] = {}
        self._state_spans: list[tuple[float, float]] = []

    def _sink(self, channel: str) -> EpisodeSink:
        def sink(event: Literal["start", "end"], run: _Run, offset: float | None, at: float) -> None:
            at = round(at, 3)
            if channel == "state":
                kind: EpisodeKind = run.value  # type: ignore[assignment]
                if kind == "missing" and event == "start":
                    return  # known only when the face is found again: said with the end
                episode = _episode(kind, run, offset)
                if event == "end":
                    assert offset is not None
                    self._state_spans.append((run.onset, offset))
                    if kind == "missing":
                        start = _episode(kind, run, None)
                        self._emit(EpisodeEvent(event="start", face_id=self.face_id, at_s=at, episode=start))
                    self.episodes.append(episode)
                self._emit(EpisodeEvent(event=event, face_id=self.face_id, at_s=at, episode=episode))
                return
            kind = "expression" if channel == "expression" else "action_unit"
            name = self._names.get(run.value) if kind == "action_unit" else None
            if event == "start":
                episode = _episode(kind, run, None, name)
                self._emit(EpisodeEvent(event="start", face_id=self.face_id, at_s=at, episode=episode))
                return
            assert offset is not None
            for onset, until in self._readable(run.onset, offset):
                piece = _Run(run.value, onset, reason=run.reason, confirmed=True)
                if run.apex_t is not None and onset <= run.apex_t < until:
                    piece.apex_t, piece.apex_v = run.apex_t, run.apex_v
                episode = _episode(kind, piece, until, name)
                self.episodes.append(episode)
                self._emit(EpisodeEvent(event="end", face_id=self.face_id, at_s=at, episode=episode))

        return sink

    def _readable(self, onset: float, offset: float) -> list[tuple[float, float]]:
        """[onset, offset) without the state spans (finished, and the one going on), in pieces of at least
        the minimum duration. The channels bridge short gaps each on its own, so an expression can bridge
        the few frames a state span was not flagged, or a state span the few frames an expression was not."""
        spans = [s for s in reversed(self._state_spans) if s[1] > onset][:8]
        going = self._state.active
        if going is not None:
            spans.append((going.onset, self._state.gap_since or math.inf))
        pieces = [(onset, offset)]
        for a, b in spans:
            pieces = [p for lo, hi in pieces for p in ((lo, min(hi, a)), (max(lo, b), hi)) if p[1] > p[0]]
        return [p for p in pieces if p[1] - p[0] >= self.options.min_duration_s - _EPS]

    def add(self, t: float, end: float, face: Face | None) -> None:
        if face is not None:
            self.last_seen_s = t
        state, why = ("missing", None) if face is None else _state(face)
        self._state.feed(t, end, state, reason=why)
        readable = face if state is None else None
        expression = readable.expression if readable is not None else None
        if readable is None:
            self._last_read_s, self._label, self._au_on = None, None, set()
            self._smooth.values.clear()
        dt = None if self._last_read_s is None else t - self._last_read_s
        label, probability = None, None
        if expression is not None and expression.probabilities:
            smoothed = {
                k: self._smooth.update("expr:" + k, p, dt) for k, p in expression.probabilities.items()
            }
            # A frame below min_confidence shows no expression: a gap in the episode the hysteresis holds.
            if expression.uncertain_between is None:
                label = self._hold_label(smoothed)
                probability = smoothed[label] if label is not None else None
        self._expression.feed(t, end, label, probability)
        for au in readable.aus if readable is not None else []:
            self._names.setdefault(au.code, au.name)
            p = self._smooth.update(au.code + ":p", au.probability, dt)
            intensity = self._smooth.update(au.code + ":i", au.intensity, dt)
            on = p >= (self.options.au_exit if au.code in self._au_on else self.options.au_enter)
            self._au_on.discard(au.code) if not on else self._au_on.add(au.code)
            self._au(au.code).feed(t, end, au.code if on else None, intensity)
        if readable is None or not readable.aus:
            for segmenter in self._aus.values():
                segmenter.feed(t, end, None)
        if readable is not None:
            self._last_read_s = t

    def _au(self, code: str) -> _Segmenter:
        if code not in self._aus:
            self._aus[code] = _Segmenter(
                self.options.min_duration_s, self.options.merge_gap_s, self._sink(code)
            )
        return self._aus[code]

    def _hold_label(self, p: dict[str, float]) -> str | None:
        """The expression by hysteresis: the held label while it stays above exit and is not overtaken."""
        top = max(p, key=p.__getitem__)
        held = self._label
        enter, leave = self.options.expression_enter, self.options.expression_exit
        if (
            held is not None
            and p.get(held, 0.0) >= leave
            and not (top != held and p[top] >= enter and p[top] > p[held])
        ):
            return held
        self._label = top if p[top] >= enter else None
        return self._label

    def finish(self, end: float, at: float) -> None:
        state = self._state
        if state.active is not None and state.active.value == "missing" and state.gap_since is None:
            state.active = None  # the face left and did not come back: no missing span after its last frame
        for segmenter in (state, self._expression, *self._aus.values()):
            segmenter.finish(end, at)
        self.episodes.sort(key=lambda e: (e.onset_s, e.kind != "expression", e.label))


class EpisodeTracker:
    """Feed it frame results in order with :meth:`add`; :meth:`finish` closes every open episode, then
    :meth:`episodes` gives a face's episodes and :attr:`no_face` the spans with no face at all.

    ``on_event`` (optional) is called with each :class:`EpisodeEvent` as soon as it is known.
    """

    def __init__(
        self, options: EpisodeOptions | None = None, on_event: Callable[[EpisodeEvent], None] | None = None
    ) -> None:
        self.options = options or EpisodeOptions()
        self._on_event = on_event
        self._faces: dict[int, _FaceEpisodes] = {}
        self._retired: dict[int, list[Episode]] = {}
        self.no_face: list[Episode] = []
        self._no_face = _Segmenter(self.options.min_duration_s, self.options.merge_gap_s, self._no_face_sink)
        self._last_t: float | None = None
        self._gap = 0.0

    def _emit(self, event: EpisodeEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _no_face_sink(
        self, event: Literal["start", "end"], run: _Run, offset: float | None, at: float
    ) -> None:
        episode = _episode("missing", run, offset).model_copy(update={"label": "no face"})
        if event == "end":
            self.no_face.append(episode)
        self._emit(EpisodeEvent(event=event, face_id=None, at_s=round(at, 3), episode=episode))

    def add(self, result: ImageResult) -> None:
        t = result.timestamp_s if result.timestamp_s is not None else 0.0
        if self._last_t is not None and t > self._last_t:
            self._gap = t - self._last_t
        self._last_t = t
        end = t + self._gap
        seen = set()
        for i, face in enumerate(result.faces):
            fid = face.face_id if face.face_id is not None else i
            if fid in seen:
                continue
            seen.add(fid)
            if fid not in self._faces:
                self._faces[fid] = _FaceEpisodes(fid, self.options, self._emit)
            self._faces[fid].add(t, end, face)
        retire = max(RETIRE_S, RETIRE_GAPS * self._gap)
        for fid, episodes in list(self._faces.items()):
            if fid in seen:
                continue
            if t - episodes.last_seen_s > retire:
                episodes.finish(t, t)
                self._retired[fid] = episodes.episodes
                del self._faces[fid]
            else:
                episodes.add(t, end, None)
        self._no_face.feed(t, end, None if result.faces else "missing", reason="no face in the frame")

    def finish(self) -> None:
        """Close every open episode at the end of the last frame (idempotent)."""
        if self._last_t is None:
            return
        end = self._last_t + self._gap
        for fid, episodes in list(self._faces.items()):
            episodes.finish(end, self._last_t)
            self._retired[fid] = episodes.episodes
        self._faces.clear()
        self._no_face.finish(end, self._last_t)

    def episodes(self, face_id: int) -> list[Episode]:
        """The finished episodes of one face, in order of onset."""
        if face_id in self._retired:
            return self._retired[face_id]
        face = self._faces.get(face_id)
        return list(face.episodes) if face is not None else []
