"""Several appearance classifiers as one: their distributions averaged, their embeddings side by side.

The default appearance view is the FER2013 mini-Xception with face-api.js's expression net: trained on
different data, they err on different faces (person-grouped on ../shared/data, the pair read alone is right more
often than either, and the expression model over both was 0.788 accurate against 0.758 over the FER CNN alone,
its label changing under a mirror on 5.3% of faces against 6.5%).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fea_agent.backends.base import AppearanceBackend, AppearanceOutput, Detection
from fea_agent.backends.context import BuildContext


def load_fer_faceapi(ctx: BuildContext) -> AppearanceEnsemble:
    from fea_agent.perception.faceapi import load_faceapi
    from fea_agent.perception.fer import load_fer

    return AppearanceEnsemble("fer+faceapi", [load_fer(ctx), load_faceapi(ctx)])


class AppearanceEnsemble:
    """The members' probabilities averaged over the union of their labels (a label a member does not have
    counts as 0 for it) and their embeddings concatenated in member order (None unless every member gives
    one, so the width is always the same)."""

    def __init__(self, name: str, members: Sequence[AppearanceBackend]) -> None:
        if len(members) < 2:
            raise ValueError("an appearance ensemble needs two or more members")
        self.name = name
        self.members = list(members)
        devices = {m.device for m in members}
        self.device = devices.pop() if len(devices) == 1 else ",".join(m.device for m in members)

    def predict(self, rgb: np.ndarray, detections: list[Detection]) -> list[AppearanceOutput]:
        views = [m.predict(rgb, detections) for m in self.members]
        return [_combine([v[i] for v in views]) for i in range(len(detections))]


def _combine(outputs: list[AppearanceOutput]) -> AppearanceOutput:
    labels = list(dict.fromkeys(label for o in outputs for label in o.probabilities))
    mean = {label: sum(o.probabilities.get(label, 0.0) for o in outputs) / len(outputs) for label in labels}
    total = sum(mean.values()) or 1.0
    features = None
    if all(o.features is not None for o in outputs):
        features = np.concatenate([np.asarray(o.features, dtype=np.float32).reshape(-1) for o in outputs])
    valence = [o.valence for o in outputs if o.valence is not None]
    arousal = [o.arousal for o in outputs if o.arousal is not None]
    return AppearanceOutput(
        {label: p / total for label, p in mean.items()},
        valence=float(np.mean(valence)) if valence else None,
        arousal=float(np.mean(arousal)) if arousal else None,
        features=features,
    )
