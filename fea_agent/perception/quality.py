"""Face quality: what a user must know before trusting a face's analysis.

The limits come from the expression model's person-grouped validation on ``../shared/data`` (3,609 photos):
accuracy is 0.78 on faces turned less than 20°, 0.70 at 20-30°, about 0.5 at 30-50° (still far above
abstaining, which counts as wrong) and no better than guessing beyond; 0.77 on faces pitched less than 20°, 0.59
at 20-30° and too few photos beyond to say (so the limit stays at 30°); 0.78 on faces of 128 px or more, about
0.5 at 64-128 px, 0.3 at 32-64 px (n=71) and none right below 32 px. So a face is answered with lower confidence
where the evidence still holds (turned 30-50°, pitched 20-30°, 32-64 px) and abstained on where it does not.

The landmark model's own face-presence score says how far it trusts a face: on the 3,513 faces of
``facial-expressions`` the expression is right 0.86 of the time where its logit is 18 or more, 0.78 at 8-14, 0.49
at 4-8 and 0.23 below 4 (n=57); on the shared clip it falls from about 20 to 4-12 while a hand covers the nose
and eyes. So a face below :data:`UNTRUSTED_LOGIT` is abstained on, one below :data:`UNSURE_LOGIT` is answered
with lower confidence. A face whose eyes, nose or mouth lie outside the photo is cut by its border: abstained on.

In a video the landmark model stays sure of a face whose mouth alone is covered (on the shared clip, the 3.5 s a
hand is held over the mouth with the eyes open): there the lower face's edges are measured instead
(:mod:`fea_agent.perception.occlusion`), against the face's own earlier frames, and a face whose edges turn
one-sided (fingers across the mouth) is marked occluded, answered with lower confidence (:func:`with_cover`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fea_agent.results import FaceQuality, HeadPose

#: Faces smaller than this (shorter box side, pixels) are too small for AUs or expression.
MIN_FACE_PX = 32.0
#: Below this size the face is answered with lower confidence.
SMALL_FACE_PX = 64.0
#: Beyond this yaw or pitch (degrees) the face is not frontal: answered with lower confidence.
MAX_FRONTAL_YAW = 30.0
MAX_FRONTAL_PITCH = 20.0
#: Beyond this yaw or pitch the expression cannot be read: abstain.
MAX_YAW = 50.0
MAX_PITCH = 30.0
#: The detector's five points, in its order: a face with one of them outside the photo is cut by its border.
KEYPOINT_NAMES = ("right eye", "left eye", "nose", "right mouth corner", "left mouth corner")
#: Below this face-presence logit the landmark model does not trust the face: abstain.
UNTRUSTED_LOGIT = 4.0
#: Below this logit it is unsure (a hand over part of the face, blur): answered with lower confidence.
UNSURE_LOGIT = 12.0
#: Confidence factors for a usable face that is turned, small or unsure (measured accuracy there over accuracy
#: overall: the unsure faces, logit 4-12, are right 0.71 of the time against 0.84).
TURNED_FACTOR = 0.65
SMALL_FACTOR = 0.45
UNSURE_FACTOR = 0.85
#: Lower-face edge balance (log of vertical over horizontal edge strength, see
#: :func:`fea_agent.perception.occlusion.edge_balance`): beyond this magnitude it is no face's (on the FRL photos
#: it spans -0.39 to 0.18; upright fingers over the mouth give 0.26-0.59 on the shared clip).
MAX_EDGE_BALANCE = math.log(1.25)
#: ... or this far from the face's own level in its earlier uncovered frames of a video (the clip's uncovered
#: frames stay within 0.08 of it; a hand held flat across the mouth moves it by 0.15-0.25).
MAX_EDGE_CHANGE = 0.15
COVERED_ISSUE = (
    "something covers the lower face (a hand across the mouth?): the mouth's AUs and the expression describe "
    "a face that is not seen, so the answer is less certain"
)


def assess(
    *,
    box: tuple[float, float, float, float],
    detection_score: float,
    landmarks_found: bool,
    presence: float,
    pose: HeadPose | None,
    landmarks_expected: bool = True,
    keypoints: Sequence[Sequence[float]] | None = None,
    image_size: tuple[int, int] | None = None,
) -> FaceQuality:
    """``landmarks_expected``: False when the pipeline runs no landmarks stage (then their absence, and an
    unknown pose, say nothing about the face). ``keypoints`` (the detector's five points) and ``image_size``
    (width, height) find a face cut by the photo's border."""
    size = float(min(box[2], box[3]))
    frontal = (
        abs(pose.yaw) <= MAX_FRONTAL_YAW and abs(pose.pitch) <= MAX_FRONTAL_PITCH
        if pose is not None
        else not landmarks_expected
    )
    readable_pose = pose is None or (abs(pose.yaw) <= MAX_YAW and abs(pose.pitch) <= MAX_PITCH)
    issues, cautions = [], []
    scale = 1.0
    cut = cut_by_border(keypoints, image_size) if keypoints is not None and image_size is not None else None
    if cut is not None:
        issues.append(cut)
    if size < MIN_FACE_PX:
        issues.append(f"face is {size:.0f} px, below the {MIN_FACE_PX:.0f} px needed for reliable AUs")
    elif size < SMALL_FACE_PX:
        cautions.append(f"face is small ({size:.0f} px), so the answer is less certain")
        scale *= SMALL_FACTOR
    logit = presence_logit(presence)
    if not landmarks_found and landmarks_expected:
        issues.append("the landmarker found no face in the crop (occluded, cut off or not a face)")
    elif landmarks_found and logit < UNTRUSTED_LOGIT:
        issues.append(
            f"the landmark model does not trust this face (presence logit {logit:.1f}, below "
            f"{UNTRUSTED_LOGIT:.0f}): it is covered, cut off or blurred"
        )
    elif pose is not None and not readable_pose:
        issues.append(
            f"head turned too far from frontal (yaw {pose.yaw:.0f}°, pitch {pose.pitch:.0f}°; "
            f"limits ±{MAX_YAW:.0f}° and ±{MAX_PITCH:.0f}°)"
        )
    elif pose is not None and not frontal:
        cautions.append(
            f"head turned (yaw {pose.yaw:.0f}°, pitch {pose.pitch:.0f}°), so the answer is less certain"
        )
        scale *= TURNED_FACTOR
    if landmarks_found and UNTRUSTED_LOGIT <= logit < UNSURE_LOGIT:
        cautions.append(
            f"the landmark model is unsure of this face (presence logit {logit:.1f}, below {UNSURE_LOGIT:.0f}): "
            "part of it may be covered (a hand, a microphone) or blurred, so the answer is less certain"
        )
        scale *= UNSURE_FACTOR
    return FaceQuality(
        face_size_px=round(size, 1),
        detection_score=round(detection_score, 4),
        landmarks_found=landmarks_found,
        landmark_presence=round(presence, 4),
        frontal=frontal,
        usable=not issues,
        issues=issues or cautions,
        confidence_scale=1.0 if issues else scale,
        occluded=landmarks_found and logit < UNSURE_LOGIT,
    )


def lower_face_covered(balance: float, own_level: float | None) -> bool:
    """Whether a face's lower-face edge balance says something lies across it: beyond any face's, or (in a
    video) too far from ``own_level``, the face's balance in its earlier uncovered frames."""
    return abs(balance) > MAX_EDGE_BALANCE or (
        own_level is not None and abs(balance - own_level) > MAX_EDGE_CHANGE
    )


def with_cover(quality: FaceQuality) -> FaceQuality:
    """``quality`` of a face found covered: marked occluded and, when usable, answered with lower confidence."""
    if quality.occluded:
        return quality
    if not quality.usable:
        return quality.model_copy(update={"occluded": True})
    return quality.model_copy(
        update={
            "occluded": True,
            "issues": [*quality.issues, COVERED_ISSUE],
            "confidence_scale": round(quality.confidence_scale * UNSURE_FACTOR, 4),
        }
    )


def cut_by_border(keypoints: Sequence[Sequence[float]], image_size: tuple[int, int]) -> str | None:
    """Why the face is cut by the photo's border (its eyes, nose or mouth corners lie outside it), or None.

    The detector places all five points even for a face the frame cuts (on the shared group photo it puts the
    eyes of a face cut at the top 5-7 px above the photo); the landmarker then fits a whole face to half of
    one, so its AUs and expression describe a face that is not there."""
    width, height = image_size
    outside, edges = [], []
    for name, (x, y) in zip(KEYPOINT_NAMES, keypoints, strict=False):
        where = [
            e
            for e, out in (("left", x < 0), ("right", x >= width), ("top", y < 0), ("bottom", y >= height))
            if out
        ]
        if where:
            outside.append(name)
            edges += [e for e in where if e not in edges]
    if not outside:
        return None
    what = ", ".join(outside)
    return f"face is cut by the photo's {' and '.join(edges)} edge ({what} outside the photo)"


def presence_logit(presence: float) -> float:
    """The landmark model's face-presence probability as the logit it came from (the probability saturates:
    0.99999 and 0.9999999 are logits 11.5 and 16)."""
    if presence >= 1.0:
        return math.inf
    if presence <= 0.0:
        return -math.inf
    return math.log(presence / (1.0 - presence))
