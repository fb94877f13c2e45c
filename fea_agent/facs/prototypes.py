"""Emotion prototypes: the one table of which AUs make which expression, and where that comes from.

Sources:
- [EMFACS] Friesen & Ekman (1983), EMFACS-7: Emotional Facial Action Coding System; the prototype table as
  reproduced in Ekman, Friesen & Hager (2002), FACS Investigator's Guide, ch. 12.
- [MATSUMOTO] Matsumoto & Ekman (2004), "The relationship among expressions, labels, and descriptions of
  contempt", JPSP 87(4): unilateral AU12/AU14.
- [DUCHENNE] Ekman, Davidson & Friesen (1990): the cheek raiser AU6 marks the felt (Duchenne) smile.

``core`` AUs are all needed: the reasoner scores their mean, so one resting movement (a raised inner brow) does
not make an expression; ``supporting`` AUs add to the score. ``contradicts`` lists AUs whose
presence argues against the expression (a raised lip corner is hard to square with sadness).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prototype:
    label: str
    core: tuple[str, ...]
    supporting: tuple[str, ...]
    contradicts: tuple[str, ...]
    source: str
    description: str


PROTOTYPES: dict[str, Prototype] = {
    p.label: p
    for p in (
        Prototype(
            "happiness",
            ("AU12",),
            ("AU06", "AU25"),
            ("AU15", "AU20"),
            "[EMFACS] 6+12; [DUCHENNE]",
            "a smile",
        ),
        Prototype(
            "sadness",
            ("AU15",),
            ("AU01", "AU04", "AU17"),
            ("AU12", "AU02", "AU05"),
            "[EMFACS] 1+4+15, 1+4+15+17",
            "a sad face",
        ),
        Prototype(
            "surprise",
            ("AU01", "AU02", "AU05", "AU26"),
            ("AU25",),
            ("AU04", "AU07", "AU12"),
            "[EMFACS] 1+2+5B+26, 1+2+5B+27",
            "a surprised face",
        ),
        Prototype(
            "fear",
            ("AU01", "AU02", "AU04", "AU05"),
            ("AU07", "AU20", "AU25", "AU26"),
            ("AU12",),
            "[EMFACS] 1+2+4+5+7+20+26",
            "a fearful face",
        ),
        Prototype(
            "anger",
            ("AU04", "AU07"),
            ("AU05", "AU23", "AU24", "AU17"),
            ("AU12", "AU01", "AU02"),
            "[EMFACS] 4+5+7+10+22+23+25,26; 4+5+7+23+24",
            "an angry face",
        ),
        Prototype(
            "disgust",
            ("AU09",),
            ("AU10", "AU15", "AU17", "AU04"),
            ("AU12", "AU02"),
            "[EMFACS] 9, 9+16+15,26, 10+16+25,26 (AU16 is not estimated here)",
            "a disgusted face",
        ),
        Prototype(
            "contempt",
            ("AU14",),
            ("AU12",),
            ("AU15", "AU04"),
            "[MATSUMOTO] unilateral 12 or 14",
            "contempt",
        ),
    )
}


@dataclass(frozen=True)
class AURoles:
    """What one AU means for the expressions: the prototypes it is core of, supports and argues against."""

    core_of: tuple[str, ...]
    supports: tuple[str, ...]  # core or supporting
    contradicts: tuple[str, ...]


def roles(code: str) -> AURoles:
    """The roles of an AU (zero-padded code, e.g. ``'AU12'``) in :data:`PROTOTYPES`."""
    return AURoles(
        core_of=tuple(p.label for p in PROTOTYPES.values() if code in p.core),
        supports=tuple(p.label for p in PROTOTYPES.values() if code in (*p.core, *p.supporting)),
        contradicts=tuple(p.label for p in PROTOTYPES.values() if code in p.contradicts),
    )
