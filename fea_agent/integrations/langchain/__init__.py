"""LangChain tools for fea-agent: ``FEAToolkit().get_tools()``, or one tool class per module.

Each tool is a thin skin over :data:`fea_agent.agent_tools.TOOL_SPECS` (the definitions the MCP server
uses): the same names, descriptions and ``args_schema``; ``response_format="content_and_artifact"`` returns
readable text for the model and the typed result as the artifact.
"""

from fea_agent.integrations.langchain._base import FEABaseTool
from fea_agent.integrations.langchain.analyze_face import AnalyzeFaceTool
from fea_agent.integrations.langchain.analyze_video import AnalyzeVideoTool
from fea_agent.integrations.langchain.classify_expression import ClassifyExpressionTool
from fea_agent.integrations.langchain.describe_action_unit import DescribeActionUnitTool
from fea_agent.integrations.langchain.detect_action_units import DetectActionUnitsTool
from fea_agent.integrations.langchain.detect_faces import DetectFacesTool
from fea_agent.integrations.langchain.explain_emotion import ExplainEmotionTool
from fea_agent.integrations.langchain.toolkit import TOOL_CLASSES, FEAToolkit

__all__ = [
    "TOOL_CLASSES",
    "AnalyzeFaceTool",
    "AnalyzeVideoTool",
    "ClassifyExpressionTool",
    "DescribeActionUnitTool",
    "DetectActionUnitsTool",
    "DetectFacesTool",
    "ExplainEmotionTool",
    "FEABaseTool",
    "FEAToolkit",
]
