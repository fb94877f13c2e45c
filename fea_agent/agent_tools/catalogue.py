"""The tool catalogue: every agent tool by name, in the order servers list them, and the tool sets."""

from __future__ import annotations

from fea_agent.agent_tools import (
    analyze_face,
    analyze_video,
    classify_expression,
    describe_action_unit,
    detect_action_units,
    detect_faces,
    explain_emotion,
)
from fea_agent.agent_tools.spec import PERCEPTION, REASONING, ToolSpec

TOOL_SPECS: dict[str, ToolSpec] = {
    module.SPEC.name: module.SPEC
    for module in (
        analyze_face,
        detect_faces,
        detect_action_units,
        classify_expression,
        explain_emotion,
        describe_action_unit,
        analyze_video,
    )
}

#: Tool sets a server can expose.
TOOL_GROUPS: dict[str, tuple[str, ...]] = {
    PERCEPTION: tuple(n for n, s in TOOL_SPECS.items() if PERCEPTION in s.groups),
    REASONING: tuple(n for n, s in TOOL_SPECS.items() if REASONING in s.groups),
    "all": tuple(TOOL_SPECS),
}


def tools_for(group: str = "all") -> list[ToolSpec]:
    """The specs of a tool set: 'perception', 'reasoning' or 'all'."""
    try:
        return [TOOL_SPECS[n] for n in TOOL_GROUPS[group]]
    except KeyError:
        raise ValueError(f"unknown tool set {group!r}; choose one of {', '.join(TOOL_GROUPS)}") from None
