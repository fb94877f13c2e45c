"""AUs from blendshapes: calibration, the AU06/AU07 smile gate and the lip-corner geometry, on real photos."""

from __future__ import annotations

import numpy as np
from conftest import FRL, needs_shared

from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.perception.blendshape_aus import (
    AU_FROM_BLENDSHAPES,
    estimate_action_units,
    raw_evidence,
    smile_gate,
)

pytestmark = needs_shared


def test_every_mapped_au_is_in_the_catalogue_and_calibrated_in_order() -> None:
    for code, cal in AU_FROM_BLENDSHAPES.items():
        assert code in AU_CATALOGUE
        assert 0 <= cal.rest < cal.threshold < cal.full <= 1, code


def test_relaxed_face_has_no_au_present() -> None:
    aus = estimate_action_units({}, None)
    assert [a.code for a in aus] == list(AU_FROM_BLENDSHAPES)
    assert not any(a.present for a in aus) and all(a.intensity == 0 for a in aus)


def test_smile_gate_moves_eye_squint_from_lid_tightener_to_cheek_raiser() -> None:
    squint = {"eyeSquintLeft": 0.6, "eyeSquintRight": 0.6}
    frown = raw_evidence(squint, None)
    smile = raw_evidence({**squint, "mouthSmileLeft": 0.8, "mouthSmileRight": 0.8}, None)
    assert smile_gate(0.0) == 0.0 and smile_gate(1.0) == 1.0
    assert frown["AU07"] > frown["AU06"]
    assert smile["AU06"] > smile["AU07"] == 0.0


def test_smiling_photo_raises_au12_over_the_same_persons_neutral_photo(pipeline) -> None:
    for face_id in ("005", "042", "131"):  # closed-lip smiles whose smile blendshape stays near 0
        neutral = pipeline.analyze(FRL / "images" / "neutral_front" / f"{face_id}_03.jpg").faces[0]
        smiling = pipeline.analyze(FRL / "images" / "smiling_front" / f"{face_id}_08.jpg").faces[0]
        assert smiling.au("AU12").probability > neutral.au("AU12").probability, face_id
        lifted = raw_evidence(smiling.blendshapes, np.array(smiling.landmarks))["AU12"]
        rest = raw_evidence(neutral.blendshapes, np.array(neutral.landmarks))["AU12"]
        assert lifted > rest, face_id


def test_broad_smile_is_intense_au12_with_au06(astronaut, pipeline) -> None:
    face = pipeline.analyze(astronaut).faces[0]
    assert face.au("AU12").intensity >= 2 and face.au("AU06").present
    assert face.au("AU07").intensity <= face.au("AU06").intensity
