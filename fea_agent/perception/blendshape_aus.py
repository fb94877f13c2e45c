"""Action units estimated from MediaPipe's blendshapes (and, for AU12 and AU25, the landmarks).

This module is the one place that maps blendshapes to AUs. The estimates are approximate: the blendshapes were
trained to drive 3-D avatars, not to code FACS, so treat them as a calibrated proxy, not as a FACS coder.

Each AU has a raw evidence value in 0-1 and three calibration points on it: ``rest`` (its typical value on a
neutral face), ``threshold`` (where the AU is called present, probability 0.5) and ``full`` (a maximal
movement, intensity 5). AU12's threshold is low (0.19, a trace smile) because the smile blendshape sits at
about 0 on relaxed faces and many closed-lip smiles read only 0.05-0.3; the expression model, not this
threshold, decides whether a face that merely rests with upturned lip corners is smiling. Intensity is
``5 * clip((raw - rest) / (full - rest))``, probability a logistic centred on ``threshold``.

The rest levels come from neutral faces: on the neutral photos of ``../shared/data`` (1,494 in-the-wild and 62
studio portraits, each set weighing half, as the default direct MediaPipe backend measures them), a resting
face's raw value stays below the point of intensity 2 ("clear", FACS grade B) in 98.5 % of cases for every AU. MediaPipe's brow, eye-squint, pucker and lower-lip-shrug
blendshapes sit well above zero on many resting faces, so those AUs have high rest levels; an AU whose clear
point was already above that percentile kept its hand-set calibration. Presence thresholds sit above the rest.

AU06 (cheek raiser) and AU07 (lid tightener) both narrow the eye, and MediaPipe's cheek-squint blendshapes stay
near zero even on broad smiles, so both must lean on eye-squint. They are told apart by the mouth, as FACS coders
do: eye narrowing that comes with a smile (AU12) is the cheek pushing up (AU06, the Duchenne marker); eye
narrowing on a face that is not smiling is the lids tightening (AU07, as in anger). The smile gate moves the
eye-squint evidence from AU07 to AU06 as the smile grows from 0.2 to 0.6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fea_agent.backends.base import AUOutput, Detection, FaceMesh
from fea_agent.backends.context import BuildContext
from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.results import ActionUnit

# MediaPipe face-mesh indices used for geometry.
_RIGHT_EYE_OUTER, _LEFT_EYE_OUTER = 33, 263
_MOUTH_RIGHT, _MOUTH_LEFT = 61, 291
_UPPER_LIP_INNER, _LOWER_LIP_INNER = 13, 14


@dataclass(frozen=True)
class AUCalibration:
    sources: tuple[str, ...]  # blendshapes (or derived measures) the raw value comes from, for the docs
    rest: float
    threshold: float
    full: float


def _both(name: str) -> tuple[str, ...]:
    return (f"{name}Left", f"{name}Right")


#: AU -> where its evidence comes from and how it is calibrated.
AU_FROM_BLENDSHAPES: dict[str, AUCalibration] = {
    "AU01": AUCalibration(("browInnerUp",), 0.72, 0.74, 1.00),
    "AU02": AUCalibration(_both("browOuterUp"), 0.61, 0.63, 1.00),
    "AU04": AUCalibration(_both("browDown"), 0.48, 0.50, 1.00),
    "AU05": AUCalibration(_both("eyeWide"), 0.02, 0.25, 0.70),
    "AU06": AUCalibration((*_both("cheekSquint"), *_both("eyeSquint"), "smile gate"), 0.10, 0.25, 0.65),
    "AU07": AUCalibration((*_both("eyeSquint"), "smile gate"), 0.47, 0.55, 1.00),
    "AU09": AUCalibration(_both("noseSneer"), 0.03, 0.30, 0.80),
    "AU10": AUCalibration(_both("mouthUpperUp"), 0.03, 0.30, 0.80),
    "AU12": AUCalibration((*_both("mouthSmile"), "lip-corner lift (landmarks)"), 0.17, 0.19, 1.00),
    "AU14": AUCalibration(_both("mouthDimple"), 0.02, 0.25, 0.70),
    "AU15": AUCalibration(_both("mouthFrown"), 0.02, 0.20, 0.60),
    "AU17": AUCalibration(("mouthShrugLower",), 0.62, 0.64, 1.00),
    "AU18": AUCalibration(("mouthPucker",), 0.72, 0.74, 1.00),
    "AU20": AUCalibration(_both("mouthStretch"), 0.02, 0.20, 0.60),
    "AU22": AUCalibration(("mouthFunnel",), 0.02, 0.25, 0.70),
    "AU23": AUCalibration(("mouthRollUpper", "mouthRollLower"), 0.02, 0.25, 0.89),
    "AU24": AUCalibration(_both("mouthPress"), 0.08, 0.35, 0.88),
    "AU25": AUCalibration(("inner-lip gap (landmarks)", "jawOpen"), 0.02, 0.12, 0.60),
    "AU26": AUCalibration(("jawOpen",), 0.02, 0.20, 0.60),
    "AU43": AUCalibration(_both("eyeBlink"), 0.15, 0.50, 0.90),
}


def _mean(blendshapes: dict[str, float], names: tuple[str, ...]) -> float:
    values = [blendshapes[n] for n in names if n in blendshapes]
    return sum(values) / len(values) if values else 0.0


#: Smile blendshape at which eye-squint starts to count as cheek raise, and where it counts fully.
GATE_START, GATE_FULL = 0.2, 0.6
#: Lip-corner lift (eye-span units) on a relaxed face, and on a broad smile.
LIFT_REST, LIFT_FULL = 0.0, 0.10
#: Weight of the lift in AU12 when the smile blendshape is low.
LIFT_WEIGHT = 0.2


def smile_gate(smile: float) -> float:
    """Share of eye-squint credited to the cheek raiser (AU06) rather than the lid tightener (AU07)."""
    return min(1.0, max(0.0, (smile - GATE_START) / (GATE_FULL - GATE_START)))


def _geometry(landmarks: np.ndarray) -> tuple[float, float]:
    """Lip-corner lift and inner-lip gap, in units of the outer-eye-corner distance, with roll removed."""
    pts = landmarks[:, :2].astype(np.float64)
    right, left = pts[_RIGHT_EYE_OUTER], pts[_LEFT_EYE_OUTER]
    span = float(np.linalg.norm(left - right))
    if span < 1e-6:
        return 0.0, 0.0
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    c, s = math.cos(-angle), math.sin(-angle)
    ys = {i: (pts[i] - right) @ np.array([s, c]) / span for i in (13, 14, 61, 291)}
    lift = (ys[_UPPER_LIP_INNER] + ys[_LOWER_LIP_INNER]) / 2 - (ys[_MOUTH_RIGHT] + ys[_MOUTH_LEFT]) / 2
    gap = ys[_LOWER_LIP_INNER] - ys[_UPPER_LIP_INNER]
    return float(lift), float(max(0.0, gap))


def smile_gated(blendshapes: dict[str, float]) -> frozenset[str]:
    """The AUs whose reading here comes from eye-squint through the smile gate, so it depends on AU12: AU06
    unless the cheek-squint blendshapes (0 on nearly every face) carry it, AU07 whenever the eyes squint."""
    squint = _mean(blendshapes, _both("eyeSquint"))
    gated = {"AU07"} if squint > 0 else set()
    if squint * smile_gate(_mean(blendshapes, _both("mouthSmile"))) > _mean(
        blendshapes, _both("cheekSquint")
    ):
        gated.add("AU06")
    return frozenset(gated)


def raw_evidence(blendshapes: dict[str, float], landmarks: np.ndarray | None) -> dict[str, float]:
    """AU -> raw evidence in 0-1 before calibration."""
    raw = {code: _mean(blendshapes, cal.sources) for code, cal in AU_FROM_BLENDSHAPES.items()}
    smile = _mean(blendshapes, _both("mouthSmile"))
    squint = _mean(blendshapes, _both("eyeSquint"))
    gate = smile_gate(smile)
    raw["AU06"] = max(_mean(blendshapes, _both("cheekSquint")), squint * gate)
    raw["AU07"] = squint * (1.0 - gate)
    lift, gap = _geometry(landmarks) if landmarks is not None and len(landmarks) > 300 else (0.0, 0.0)
    # Lip corners raised above the lip midline (0 on a neutral face, about 0.1 of the eye span on a broad
    # smile) back up the smile blendshape, which reads 0 on many closed-lip smiles.
    lifted = min(1.0, max(0.0, (lift - LIFT_REST) / (LIFT_FULL - LIFT_REST)))
    raw["AU12"] = max(smile, (1 - LIFT_WEIGHT) * smile + LIFT_WEIGHT * lifted)
    # Lips part: the inner-lip gap (0 when closed, about 0.25 of the eye span when wide open).
    raw["AU25"] = max(min(1.0, gap / 0.25), blendshapes.get("jawOpen", 0.0))
    return raw


def _calibrate(raw: float, cal: AUCalibration) -> tuple[float, float]:
    intensity = 5.0 * min(1.0, max(0.0, (raw - cal.rest) / (cal.full - cal.rest)))
    width = (cal.full - cal.rest) / 8.0
    probability = 1.0 / (1.0 + math.exp(-(raw - cal.threshold) / width))
    return intensity, probability


def estimate_action_units(blendshapes: dict[str, float], landmarks: np.ndarray | None) -> list[ActionUnit]:
    """Calibrated AUs, in catalogue order."""
    raw = raw_evidence(blendshapes, landmarks)
    gated = smile_gated(blendshapes)
    out = []
    for code, cal in AU_FROM_BLENDSHAPES.items():
        intensity, probability = _calibrate(raw[code], cal)
        out.append(
            ActionUnit.measured(
                code,
                AU_CATALOGUE[code].name,
                probability=round(probability, 4),
                intensity=round(intensity, 3),
                depends_on=("AU12",) if code in gated else (),
            )
        )
    return out


class BlendshapeActionUnits:
    """The default AU backend: :func:`estimate_action_units` on each face's mesh (no model of its own)."""

    name = "blendshapes"
    device = "cpu"

    def predict(
        self, rgb: np.ndarray, detections: list[Detection], meshes: list[FaceMesh | None]
    ) -> list[AUOutput]:
        return [
            AUOutput(estimate_action_units(m.blendshapes, m.landmarks) if m is not None else [])
            for m in meshes
        ]


def load_blendshape_aus(ctx: BuildContext) -> BlendshapeActionUnits:
    return BlendshapeActionUnits()
