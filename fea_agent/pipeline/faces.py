"""Face assembly: the one place a :class:`~fea_agent.results.Face` is built from the stages' outputs.

Each perception stage hands back plain per-face values (:mod:`fea_agent.backends.base`); this module turns one
face's detection, mesh, AUs and appearance into the typed result, judges its quality, and makes the faces that
cannot be read reliably abstain.
"""

from __future__ import annotations

import numpy as np

from fea_agent.backends.base import AppearanceOutput, AUOutput, Detection, FaceMesh
from fea_agent.perception.quality import assess
from fea_agent.results import BoundingBox, Expression, Face, Gaze, HeadPose


def build_face(
    detection: Detection,
    mesh: FaceMesh | None,
    aus: AUOutput | None,
    look: AppearanceOutput | None,
    *,
    landmarks_expected: bool,
    image_size: tuple[int, int] | None = None,
) -> Face:
    """One face from what each stage measured on it (None: the stage is off or found nothing).

    ``landmarks_expected`` is False when no landmarks stage ran, so their absence says nothing about the face.
    """
    pose = (
        HeadPose(yaw=round(mesh.pose[0], 2), pitch=round(mesh.pose[1], 2), roll=round(mesh.pose[2], 2))
        if mesh is not None and mesh.pose is not None
        else None
    )
    gaze = (aus.gaze if aus is not None and aus.gaze is not None else None) or (
        mesh.gaze if mesh is not None else None
    )
    x, y, w, h = detection.box
    # model_construct: every field here is built from typed model outputs, and validating 478 landmark
    # triples costs more than the landmarker's own Python wrapper.
    return Face.model_construct(
        face_id=None,
        bbox=BoundingBox(x=round(x, 1), y=round(y, 1), width=round(w, 1), height=round(h, 1)),
        score=round(detection.score, 4),
        keypoints=np.round(detection.keypoints.astype(np.float64), 1).tolist(),
        landmarks=np.round(mesh.landmarks.astype(np.float64), 2).tolist() if mesh is not None else [],
        head_pose=pose,
        blendshapes={k: round(v, 4) for k, v in mesh.blendshapes.items()} if mesh is not None else {},
        gaze=Gaze(yaw=round(gaze[0], 2), pitch=round(gaze[1], 2)) if gaze is not None else None,
        aus=aus.aus if aus is not None else [],
        expression=Expression.from_probabilities(look.probabilities) if look is not None else None,
        valence=None if look is None or look.valence is None else round(look.valence, 4),
        arousal=None if look is None or look.arousal is None else round(look.arousal, 4),
        quality=assess(
            box=detection.box,
            detection_score=detection.score,
            landmarks_found=mesh is not None,
            presence=mesh.presence if mesh is not None else 0.0,
            pose=pose,
            landmarks_expected=landmarks_expected,
            keypoints=detection.keypoints.tolist(),
            image_size=image_size,
        ),
        reasoning=None,
    )


def abstain_unusable(faces: list[Face]) -> None:
    """A face whose quality is not usable keeps no label or distribution that would look trustworthy (its
    quality issues say why); ``source`` and ``model`` stay, so the answer still says where it came from."""
    for face in faces:
        if not face.quality.usable and face.expression is not None:
            face.expression = Expression.model_construct(
                label=None, probabilities={}, source=face.expression.source, model=face.expression.model
            )
