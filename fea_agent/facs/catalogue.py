"""The FACS action-unit catalogue: the one place that names AUs (Ekman, Friesen & Hager, FACS Manual, 2002)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ActionUnitInfo(BaseModel):
    """A FACS action unit: its code, name, the muscle behind it and what it looks like."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="Zero-padded code, e.g. 'AU12'.")
    name: str = Field(description="FACS name.")
    muscle: str = Field(description="Muscular basis.")
    appearance: str = Field(description="What the movement looks like, in plain words.")


def _au(code: int, name: str, muscle: str, appearance: str) -> ActionUnitInfo:
    return ActionUnitInfo(code=f"AU{code:02d}", name=name, muscle=muscle, appearance=appearance)


AU_CATALOGUE: dict[str, ActionUnitInfo] = {
    a.code: a
    for a in (
        _au(1, "Inner brow raiser", "frontalis, pars medialis", "raised inner brows"),
        _au(2, "Outer brow raiser", "frontalis, pars lateralis", "raised outer brows"),
        _au(
            4, "Brow lowerer", "corrugator supercilii, depressor supercilii", "lowered, drawn-together brows"
        ),
        _au(5, "Upper lid raiser", "levator palpebrae superioris", "widened eyes"),
        _au(6, "Cheek raiser", "orbicularis oculi, pars orbitalis", "raised cheeks narrowing the eyes"),
        _au(7, "Lid tightener", "orbicularis oculi, pars palpebralis", "tightened eyelids"),
        _au(9, "Nose wrinkler", "levator labii superioris alaeque nasi", "a wrinkled nose"),
        _au(10, "Upper lip raiser", "levator labii superioris", "a raised upper lip"),
        _au(12, "Lip corner puller", "zygomaticus major", "lip corners pulled up into a smile"),
        _au(14, "Dimpler", "buccinator", "dimpled, tightened lip corners"),
        _au(15, "Lip corner depressor", "depressor anguli oris", "lip corners pulled down"),
        _au(17, "Chin raiser", "mentalis", "a raised chin pushing the lower lip up"),
        _au(18, "Lip pucker", "incisivii labii superioris and inferioris", "puckered lips"),
        _au(20, "Lip stretcher", "risorius with platysma", "lips stretched sideways"),
        _au(22, "Lip funneler", "orbicularis oris", "funnelled lips"),
        _au(23, "Lip tightener", "orbicularis oris", "tightened, narrowed lips"),
        _au(24, "Lip pressor", "orbicularis oris", "lips pressed together"),
        _au(25, "Lips part", "depressor labii inferioris, relaxed mentalis", "parted lips"),
        _au(26, "Jaw drop", "masseter relaxed, temporalis and internal pterygoid", "a dropped jaw"),
        _au(43, "Eyes closed", "relaxed levator palpebrae superioris", "closed eyes"),
    )
}

#: The AU columns of every table (video, batch, OpenFace export), in catalogue order: each catalogue AU, so a
#: table has the same columns whichever AU backend filled them (a backend that does not measure an AU leaves
#: its cells empty).
REPORTED_AUS: tuple[str, ...] = tuple(AU_CATALOGUE)


def normalize_au_code(code: str | int) -> str:
    """'12', 12, 'au12', 'AU12' -> 'AU12'. Raises ValueError for anything else."""
    text = str(code).strip().upper().removeprefix("AU")
    if not text.isdigit():
        raise ValueError(f"not an action-unit code: {code!r} (expected e.g. 'AU12' or 12)")
    return f"AU{int(text):02d}"


def describe(code: str | int) -> ActionUnitInfo:
    """The catalogue entry for an AU code; KeyError naming the known codes when absent."""
    key = normalize_au_code(code)
    try:
        return AU_CATALOGUE[key]
    except KeyError:
        raise KeyError(f"{key} is not in the catalogue; known: {', '.join(AU_CATALOGUE)}") from None
