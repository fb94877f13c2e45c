"""FACS knowledge: the action-unit catalogue and the emotion prototypes."""

from fea_agent.facs.catalogue import AU_CATALOGUE, REPORTED_AUS, ActionUnitInfo, describe, normalize_au_code
from fea_agent.facs.intensity import facs_grade, intensity_adverb, intensity_word
from fea_agent.facs.prototypes import PROTOTYPES, AURoles, Prototype, roles

__all__ = [
    "AU_CATALOGUE",
    "PROTOTYPES",
    "REPORTED_AUS",
    "AURoles",
    "ActionUnitInfo",
    "Prototype",
    "describe",
    "facs_grade",
    "intensity_adverb",
    "intensity_word",
    "normalize_au_code",
    "roles",
]
