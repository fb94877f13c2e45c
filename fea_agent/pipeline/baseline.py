"""A per-person baseline: AU intensities read as change from that face's own most neutral frames.

FACS coders read an action as change from the person's neutral face: some people's brows sit low, some
faces look slightly smiling at rest. The baseline of a face is the mean AU intensity over its ``keep`` most
neutral frames so far (neutral = the least total AU movement); each AU then carries ``change_from_baseline``
= intensity - baseline. It is causal (a frame is compared with the frames before it, so results stream):
it settles once the face has shown a calm moment, and the first frames compare with the few seen so far.
"""

from __future__ import annotations

import heapq
from typing import Any

from fea_agent.results import Face

#: Average over this many most-neutral frames.
DEFAULT_KEEP = 15


def apply_baseline(face: Face, state: dict[str, Any], keep: int = DEFAULT_KEEP) -> Face:
    """The face with ``change_from_baseline`` set on each AU; ``state`` is this face's memory (updated)."""
    if not face.aus:
        return face
    intensities = {au.code: au.intensity for au in face.aus}
    activity = sum(intensities.values())
    # A bounded max-heap on activity (negated): the ``keep`` calmest frames seen so far.
    calm: list[tuple[float, int, dict[str, float]]] = state.setdefault("calm", [])
    counter = state["frames"] = state.get("frames", 0) + 1
    entry = (-activity, counter, intensities)
    if len(calm) < keep:
        heapq.heappush(calm, entry)
    elif -calm[0][0] > activity:
        heapq.heapreplace(calm, entry)
    baseline = {code: sum(frame[code] for _, _, frame in calm) / len(calm) for code in intensities}
    aus = [
        au.model_copy(
            update={"change_from_baseline": round(max(-5.0, min(5.0, au.intensity - baseline[au.code])), 3)}
        )
        for au in face.aus
    ]
    return face.model_copy(update={"aus": aus})
