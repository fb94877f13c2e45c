"""``describe_action_unit``: the FACS catalogue's entry for one or more action units (needs no image)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from fea_agent.agent_tools.spec import PERCEPTION, REASONING, ToolContext, ToolInput, ToolResult, ToolSpec
from fea_agent.errors import InvalidInputError
from fea_agent.facs import AU_CATALOGUE, ActionUnitInfo, describe, roles

DESCRIPTION = (
    "Look up facial action units in the FACS catalogue: name, muscle, what the movement looks "
    "like, and which expressions it is part of, supports or argues against. Accepts 'AU12', "
    "'12', several codes ('6+12') or 'all'. Needs no image."
)


class DescribeActionUnitInput(ToolInput):
    code: str = Field(
        description="One or more FACS action-unit codes, e.g. 'AU12', '6', or several joined by '+' or ',' "
        "('6+12'). 'all' lists the whole catalogue."
    )


class ActionUnitDescription(BaseModel):
    code: str
    name: str
    muscle: str = Field(description="Muscular basis.")
    appearance: str = Field(description="What the movement looks like.")
    core_of: list[str] = Field(default_factory=list, description="Expressions this AU is a core part of.")
    supports: list[str] = Field(default_factory=list, description="Expressions it supports.")
    contradicts: list[str] = Field(
        default_factory=list, description="Expressions its presence argues against."
    )


class ActionUnitDescriptions(BaseModel):
    """Entries of the FACS action-unit catalogue."""

    action_units: list[ActionUnitDescription]


def _entries(text: str) -> list[ActionUnitInfo]:
    if text.lower() == "all":
        return list(AU_CATALOGUE.values())
    codes = [c for c in re.split(r"[+,;\s]+", text) if c]
    if not codes:
        raise InvalidInputError("code is empty: give an AU code such as 'AU12', or 'all'")
    infos = []
    for code in codes:
        try:
            infos.append(describe(code))
        except (KeyError, ValueError) as exc:
            raise InvalidInputError(str(exc).strip("'\"")) from None
    return infos


def describe_action_unit(ctx: ToolContext, args: DescribeActionUnitInput) -> ToolResult:
    entries = [
        ActionUnitDescription(
            code=i.code,
            name=i.name,
            muscle=i.muscle,
            appearance=i.appearance,
            core_of=list(roles(i.code).core_of),
            supports=list(roles(i.code).supports),
            contradicts=list(roles(i.code).contradicts),
        )
        for i in _entries(args.code.strip())
    ]
    return ToolResult(ActionUnitDescriptions(action_units=entries))


SPEC = ToolSpec(
    name="describe_action_unit",
    description=DESCRIPTION,
    summary="FACS catalogue look-up: name, muscle, appearance, the expressions it supports or contradicts.",
    input_model=DescribeActionUnitInput,
    output_model=ActionUnitDescriptions,
    func=describe_action_unit,
    groups=frozenset({PERCEPTION, REASONING}),
)
