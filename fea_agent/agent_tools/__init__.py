"""The agent tools, defined once; MCP, LangChain and LlamaIndex are thin skins over them.

    from fea_agent import FEAPipeline
    from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext

    ctx = ToolContext(FEAPipeline(), ImagePolicy.allowing("/data/photos"))
    out = TOOL_SPECS["analyze_face"].run(ctx, {"image": "/data/photos/me.jpg"})
    out.faces[0].reasoning.text          # typed output (pydantic)
    annotated_image(out)                 # (JPEG bytes, "image/jpeg") for tools with returns_image

Bad input raises :class:`~fea_agent.errors.InvalidInputError` (a ``FEAError``) whose message names the
problem; skins turn it into their error result.
"""

from fea_agent.agent_tools.image_input import (
    MAX_IMAGE_BYTES,
    ImagePolicy,
    ResolvedImage,
    resolve_image,
    resolve_path,
)
from fea_agent.agent_tools.schemas import IMAGE_DESCRIPTION, annotated_image
from fea_agent.agent_tools.tools import TOOL_GROUPS, TOOL_SPECS, ToolContext, ToolSpec, tools_for

__all__ = [
    "IMAGE_DESCRIPTION",
    "MAX_IMAGE_BYTES",
    "TOOL_GROUPS",
    "TOOL_SPECS",
    "ImagePolicy",
    "ResolvedImage",
    "ToolContext",
    "ToolSpec",
    "annotated_image",
    "resolve_image",
    "resolve_path",
    "tools_for",
]
