"""Face quality: what a user must know before trusting a face's analysis."""

from __future__ import annotations

from fea_agent.results import FaceQuality, HeadPose

#: Faces smaller than this (shorter box side, pixels) are too small for AUs or expression.
MIN_FACE_PX = 32.0
#: Beyond this yaw or pitch (degrees) the face is not frontal and AU estimates degrade.
MAX_FRONTAL_YAW = 35.0
MAX_FRONTAL_PITCH = 30.0


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
    issues = []
    if size < MIN_FACE_PX:
        issues.append(f"face is {size:.0f} px, below the {MIN_FACE_PX:.0f} px needed for reliable AUs")
    if not landmarks_found and landmarks_expected:
        issues.append("the landmarker found no face in the crop (occluded, cut off or not a face)")
    elif not frontal and pose is not None:
        issues.append(
            f"head turned too far from frontal (yaw {pose.yaw:.0f}°, pitch {pose.pitch:.0f}°; "
            f"limits ±{MAX_FRONTAL_YAW:.0f}° and ±{MAX_FRONTAL_PITCH:.0f}°)"
        )
    return FaceQuality(
        face_size_px=round(size, 1),
        detection_score=round(detection_score, 4),
        landmarks_found=landmarks_found,
        landmark_presence=round(presence, 4),
        frontal=frontal,
        usable=not issues,
        issues=issues,
    )
