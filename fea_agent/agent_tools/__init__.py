"""The agent tools, defined once (one module per tool); MCP, LangChain and LlamaIndex are thin skins over them.

    from fea_agent import FEAPipeline
    from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext

    ctx = ToolContext(FEAPipeline(), ImagePolicy.allowing("/data/photos"))
    result = TOOL_SPECS["analyze_face"].call(ctx, {"image": "/data/photos/me.jpg"})
    result.output.faces[0].reasoning.text    # typed output (pydantic)
    result.image.data                        # the annotated JPEG (analyze_face, detect_faces), or None

``TOOL_SPECS[name].run(ctx, arguments)`` gives the typed output alone. Bad input raises
:class:`~fea_agent.errors.InvalidInputError` (a ``FEAError``) whose message names the problem; skins turn any
exception into their error result with :func:`fea_agent.errors.describe_error`.
"""

from fea_agent.agent_tools.catalogue import TOOL_GROUPS, TOOL_SPECS, tools_for
from fea_agent.agent_tools.image_input import (
    MAX_IMAGE_BYTES,
    ImagePolicy,
    ResolvedImage,
    resolve_image,
    resolve_path,
)
from fea_agent.agent_tools.spec import IMAGE_DESCRIPTION, EncodedImage, ToolContext, ToolResult, ToolSpec
from fea_agent.agent_tools.text import render_output

__all__ = [
    "IMAGE_DESCRIPTION",
    "MAX_IMAGE_BYTES",
    "TOOL_GROUPS",
    "TOOL_SPECS",
    "EncodedImage",
    "ImagePolicy",
    "ResolvedImage",
    "ToolContext",
    "ToolResult",
    "ToolSpec",
    "render_output",
    "resolve_image",
    "resolve_path",
    "tools_for",
]
