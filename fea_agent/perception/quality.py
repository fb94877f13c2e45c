"""Face quality: what a user must know before trusting a face's analysis.

The limits come from the expression model's person-grouped validation on ``../shared/data`` (3,609 photos):
accuracy is 0.78 on faces turned less than 20°, 0.70 at 20-30°, about 0.5 at 30-50° (still far above
abstaining, which counts as wrong) and no better than guessing beyond; 0.77 on faces pitched less than 20°, 0.59
at 20-30° and too few photos beyond to say (so the limit stays at 30°); 0.78 on faces of 128 px or more, about
0.5 at 64-128 px, 0.3 at 32-64 px (n=71) and none right below 32 px. So a face is answered with lower confidence
where the evidence still holds (turned 30-50°, pitched 20-30°, 32-64 px) and abstained on where it does not.
"""

from __future__ import annotations

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
#: Confidence factors for a usable face that is turned or small (measured accuracy there over accuracy overall).
TURNED_FACTOR = 0.65
SMALL_FACTOR = 0.45


def assess(
    *,
    box: tuple[float, float, float, float],
    detection_score: float,
    landmarks_found: bool,
    presence: float,
    pose: HeadPose | None,
    landmarks_expected: bool = True,
) -> FaceQuality:
    """``landmarks_expected``: False when the pipeline runs no landmarks stage (then their absence, and an
    unknown pose, say nothing about the face)."""
    size = float(min(box[2], box[3]))
    frontal = (
        abs(pose.yaw) <= MAX_FRONTAL_YAW and abs(pose.pitch) <= MAX_FRONTAL_PITCH
        if pose is not None
        else not landmarks_expected
    )
    readable_pose = pose is None or (abs(pose.yaw) <= MAX_YAW and abs(pose.pitch) <= MAX_PITCH)
    issues, cautions = [], []
    scale = 1.0
    if size < MIN_FACE_PX:
        issues.append(f"face is {size:.0f} px, below the {MIN_FACE_PX:.0f} px needed for reliable AUs")
    elif size < SMALL_FACE_PX:
        cautions.append(f"face is small ({size:.0f} px), so the answer is less certain")
        scale *= SMALL_FACTOR
    if not landmarks_found and landmarks_expected:
        issues.append("the landmarker found no face in the crop (occluded, cut off or not a face)")
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
    return FaceQuality(
        face_size_px=round(size, 1),
        detection_score=round(detection_score, 4),
        landmarks_found=landmarks_found,
        landmark_presence=round(presence, 4),
        frontal=frontal,
        usable=not issues,
        issues=issues or cautions,
        confidence_scale=1.0 if issues else scale,
    )
