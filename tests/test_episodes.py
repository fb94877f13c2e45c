"""Episodes (fea_agent/video/episodes.py): expression episodes, AU events and the spans where the face cannot be
read, found as the frames stream, on a video made of one FRL person's real photos and on the shared clip,
against a labelling made once by eye."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import FRL, needs_shared
from PIL import Image

from fea_agent.io.video import Frame, FrameSource
from fea_agent.results import STATE_KINDS, Episode
from fea_agent.video.episodes import EpisodeEvent, EpisodeOptions
from fea_agent.video.summary import Summarizer

#: The shared clip (WolfgangLanger_Pexels.mp4, 23.976 frames/s, 19.69 s), labelled by eye from its frames
#: (tests/test_quality.py marks the hand by frame: it covers the face from frame 59 to 226, coming in over
#: frames 57-58 and going over 227-228). Crying with the eyes shut, then a hand over the mouth, the nose and
#: eyes, then fingers over half the mouth while she looks up, then the hand away and a smile to the end.
CLIP_BY_EYE = (
    ("sadness", 0.0, 2.42),
    ("occluded", 2.42, 9.47),
    ("happiness", 9.5, 19.69),
)

FPS = 24.0


class PhotoBlocks:
    """A FrameSource of two photos shown in 2 s blocks (``pattern``: 0 the first, 1 the second) with a linear
    cross-fade of ``fade_s`` centred on each block boundary."""

    label = "photo blocks"
    frame_gap_s = 1 / FPS
    live = False

    def __init__(self, first: np.ndarray, second: np.ndarray, pattern: list[int], fade_s: float = 0.2):
        self.first, self.second = first.astype(np.float32), second.astype(np.float32)
        self.pattern, self.fade_s = pattern, fade_s

    @property
    def expected_frames(self) -> int:
        return int(len(self.pattern) * 2 * FPS)

    def weight(self, t: float) -> float:
        for j in range(1, len(self.pattern)):
            x = (t - 2 * j) / self.fade_s + 0.5
            if 0 <= x <= 1:
                return self.pattern[j - 1] * (1 - x) + self.pattern[j] * x
        return float(self.pattern[min(int(t // 2), len(self.pattern) - 1)])

    def __iter__(self) -> Iterator[Frame]:
        for i in range(self.expected_frames):
            w = self.weight(i / FPS)
            yield Frame(i, i / FPS, (self.first * (1 - w) + self.second * w).astype(np.uint8))

    def close(self) -> None:
        pass


def _photo(path: str) -> np.ndarray:
    return np.asarray(Image.open(FRL / path).convert("RGB").resize((480, 480)))


def label_at(episodes: list[Episode], t: float) -> str | None:
    """What the episodes say at time t: a state span's kind first, else the expression."""
    covering = [e for e in episodes if e.onset_s <= t < (e.offset_s or 0.0)]
    state = next((e.kind for e in covering if e.kind in STATE_KINDS), None)
    return state or next((e.label for e in covering if e.kind == "expression"), None)


def test_options_refuse_thresholds_that_cannot_work():
    EpisodeOptions()
    for bad in (
        {"expression_exit": 0.6},  # above the enter threshold
        {"au_exit": 0.9},
        {"merge_gap_s": 1.0},  # longer than the minimum duration
        {"min_duration_s": -1},
        {"smoothng_s": 0.1},  # misspelt
    ):
        with pytest.raises(ValueError):
            EpisodeOptions(**bad)


@needs_shared
@pytest.mark.slow
def test_neutral_smile_neutral_photos_give_exactly_three_episodes(pipeline):
    with open(FRL / "pairs.csv") as f:
        person = next(iter(csv.DictReader(f)))  # 001
    frames: FrameSource = PhotoBlocks(
        _photo(person["neutral_file"]), _photo(person["smiling_file"]), [0, 1, 0]
    )
    events: list[EpisodeEvent] = []

    summarizer = Summarizer(on_event=events.append)
    for result in pipeline.run_video(frames):
        summarizer.add(result)
    summary = summarizer.summary()
    assert [f.face_id for f in summary.faces] == [0]
    episodes = summary.faces[0].episodes
    expressions = [e for e in episodes if e.kind == "expression"]
    assert [e.label for e in expressions] == ["neutral", "happiness", "neutral"]
    assert not [e for e in episodes if e.kind in STATE_KINDS]
    for episode, (onset, offset) in zip(expressions, [(0, 2), (2, 4), (4, 6)], strict=True):
        assert abs(episode.onset_s - onset) <= 0.2 and abs((episode.offset_s or 0) - offset) <= 0.2, episode
    smile = expressions[1]
    assert smile.apex_value is not None and smile.apex_value > 0.9 and 2 <= (smile.apex_s or 0) <= 4
    # The smile's lip corner puller starts and ends with it (the AU's own hysteresis lags a little more).
    au12 = [e for e in episodes if e.label == "AU12"]
    assert len(au12) == 1 and au12[0].name == "Lip corner puller"
    assert abs(au12[0].onset_s - 2) <= 0.25 and abs((au12[0].offset_s or 0) - 4) <= 0.25
    # Live, every finished episode was announced: started, then ended, each once.
    ends = [e.episode for e in events if e.event == "end"]
    assert sorted(ends, key=lambda e: (e.onset_s, e.label)) == sorted(
        episodes, key=lambda e: (e.onset_s, e.label)
    )
    assert sum(e.event == "start" for e in events) == len(ends)
    starts = {(e.episode.label, e.episode.onset_s): e.at_s for e in events if e.event == "start"}
    # A start is known min_duration_s (0.3 s) after the onset, plus a frame.
    assert all(0.25 <= at - onset <= 0.3 + 2 / FPS for (_, onset), at in starts.items())


@needs_shared
@pytest.mark.slow
def test_clip_episodes_agree_with_the_labelling_by_eye(clip_summary):
    assert [f.face_id for f in clip_summary.faces] == [0]
    episodes = clip_summary.faces[0].episodes
    # The labelled time, every 10 ms (the few frames where the hand goes are left out).
    labelled = [(t, label) for label, a, b in CLIP_BY_EYE for t in np.arange(a, b, 0.01)]
    found = [label_at(episodes, float(t)) for t, _ in labelled]
    agreement = float(np.mean([label == f for (_, label), f in zip(labelled, found, strict=True)]))
    errors = {}
    for label, onset, offset in CLIP_BY_EYE:
        same = [
            e
            for e in episodes
            if label in (e.label, e.kind) and e.onset_s < offset and (e.offset_s or 0) > onset
        ]
        assert same, f"no {label} episode in {onset}-{offset} s"
        errors[label] = (
            round(min(e.onset_s for e in same) - onset, 2),
            round(max(e.offset_s or 0 for e in same) - offset, 2),
        )
    print(
        f"labels agree on {agreement:.1%} of the labelled time; boundary errors (onset, offset) s: {errors}"
    )
    assert agreement >= 0.8
    assert all(abs(x) <= 0.5 for pair in errors.values() for x in pair), errors
    # The hidden face is never read as an expression.
    hand = next(e for e in episodes if e.kind == "occluded")
    assert not [
        e
        for e in episodes
        if e.kind != "occluded"
        and e.onset_s < (hand.offset_s or 0)
        and (e.offset_s or 0) > hand.onset_s + 1e-6
        and e.kind == "expression"
    ]
    assert clip_summary.no_face == []
