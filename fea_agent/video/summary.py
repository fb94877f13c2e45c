"""The per-face summary of a video, accumulated frame by frame (memory does not grow with the video): counts,
shares, peaks and, from :mod:`fea_agent.video.episodes`, the episodes, all in the same single pass."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fea_agent.results import FaceSummary, ImageResult, Peak, VideoSummary
from fea_agent.video.episodes import EpisodeEvent, EpisodeOptions, EpisodeTracker


@dataclass
class _FaceStats:
    frames: int = 0
    first_s: float = 0.0
    last_s: float = 0.0
    labels: Counter[str] = field(default_factory=Counter)
    uncertain: int = 0
    probability_sum: dict[str, float] = field(default_factory=dict)
    present: Counter[str] = field(default_factory=Counter)
    intensity_sum: dict[str, float] = field(default_factory=dict)
    au_peaks: dict[str, Peak] = field(default_factory=dict)
    expression_peaks: dict[str, Peak] = field(default_factory=dict)


def _peak(peaks: dict[str, Peak], key: str, value: float, frame: int, t: float) -> None:
    if key not in peaks or value > peaks[key].value:
        peaks[key] = Peak(value=round(value, 4), frame_index=frame, timestamp_s=round(t, 4))


class Summarizer:
    """Feed it frame results with :meth:`add`; :meth:`summary` gives the :class:`VideoSummary` (it closes the
    open episodes, so call it once the frames are done).

    ``episodes`` sets how episodes are found; ``on_event`` gets each episode start and end as it is known.
    """

    def __init__(
        self,
        episodes: EpisodeOptions | None = None,
        on_event: Callable[[EpisodeEvent], None] | None = None,
    ) -> None:
        self.episodes = EpisodeTracker(episodes, on_event)
        self.source: str | None = None
        self.frames = self.frames_with_faces = 0
        self.first_s: float | None = None
        self.last_s = 0.0
        self._faces: dict[int, _FaceStats] = {}

    def add(self, result: ImageResult) -> None:
        frame = result.frame_index if result.frame_index is not None else self.frames
        t = result.timestamp_s if result.timestamp_s is not None else 0.0
        self.source = self.source or result.source
        self.frames += 1
        self.frames_with_faces += bool(result.faces)
        self.first_s = t if self.first_s is None else self.first_s
        self.last_s = t
        self.episodes.add(result)
        for i, face in enumerate(result.faces):
            fid = face.face_id if face.face_id is not None else i
            stats = self._faces.get(fid)
            if stats is None:
                stats = self._faces[fid] = _FaceStats(first_s=t)
            stats.frames += 1
            stats.last_s = t
            if face.expression is not None and face.expression.probabilities:
                # A frame below min_confidence names no label, but its probabilities still count.
                if face.expression.label is not None:
                    stats.labels[face.expression.label] += 1
                elif face.expression.uncertain_between is not None:
                    stats.uncertain += 1
                for label, p in face.expression.probabilities.items():
                    stats.probability_sum[label] = stats.probability_sum.get(label, 0.0) + p
                    _peak(stats.expression_peaks, label, p, frame, t)
            for au in face.aus:
                stats.present[au.code] += au.present
                stats.intensity_sum[au.code] = stats.intensity_sum.get(au.code, 0.0) + au.intensity
                _peak(stats.au_peaks, au.code, au.intensity, frame, t)

    def summary(self) -> VideoSummary:
        self.episodes.finish()
        faces = []
        for fid in sorted(self._faces):
            s = self._faces[fid]
            n = s.frames
            faces.append(
                FaceSummary(
                    face_id=fid,
                    frames=n,
                    first_s=round(s.first_s, 4),
                    last_s=round(s.last_s, 4),
                    dominant_expression=s.labels.most_common(1)[0][0] if s.labels else "unknown",
                    expression_share={k: round(v / n, 4) for k, v in s.labels.most_common()},
                    uncertain_share=round(s.uncertain / n, 4),
                    mean_expression={k: round(v / n, 4) for k, v in s.probability_sum.items()},
                    expression_peaks=s.expression_peaks,
                    au_activation={k: round(s.present[k] / n, 4) for k in s.intensity_sum},
                    au_mean_intensity={k: round(v / n, 3) for k, v in s.intensity_sum.items()},
                    au_peaks=s.au_peaks,
                    episodes=self.episodes.episodes(fid),
                )
            )
        return VideoSummary(
            source=self.source,
            frames=self.frames,
            frames_with_faces=self.frames_with_faces,
            duration_s=round(self.last_s - (self.first_s or 0.0), 4),
            faces=faces,
            no_face=self.episodes.no_face,
        )


def summarize(results: Iterable[ImageResult], episodes: EpisodeOptions | None = None) -> VideoSummary:
    """Per face_id: frames seen, dominant expression, expression shares, AU activation rates, peaks and
    episodes (found with ``episodes``, default :class:`EpisodeOptions`).

    ``results`` may be a list or the iterator ``analyze_video`` returns (consumed as it goes).
    """
    summarizer = Summarizer(episodes)
    for result in results:
        summarizer.add(result)
    return summarizer.summary()
