"""FACS knowledge: the action-unit catalogue and the emotion prototypes."""

from fea_agent.facs.catalogue import AU_CATALOGUE, ActionUnitInfo, describe, normalize_au_code

__all__ = ["AU_CATALOGUE", "ActionUnitInfo", "describe", "normalize_au_code"]
