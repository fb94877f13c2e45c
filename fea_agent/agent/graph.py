"""The offline agent: a LangGraph ``StateGraph`` that runs detect -> perceive -> reason -> report.

No language model is involved; every node calls one stage of the same :class:`~fea_agent.pipeline.FEAPipeline`,
so the result is the pipeline's typed :class:`~fea_agent.results.ImageResult`, plus a readable report. An image
without faces takes the ``no_face`` branch and skips perception and reasoning. Stream it with
``graph.stream({"image": path}, stream_mode="updates")`` to see each node finish in turn.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from fea_agent.backends.base import Detection
from fea_agent.pipeline import Analysis, FEAPipeline
from fea_agent.render.text import format_result
from fea_agent.results import Face, ImageResult

#: Node names, in the order they run on an image with faces.
NODES: tuple[str, ...] = ("detect", "perceive", "reason", "report")


class FEAGraphInput(TypedDict, total=False):
    """What the graph takes: ``image`` (a path, encoded bytes, a PIL image or an RGB array) and an optional
    ``source`` naming it in the result."""

    image: Any
    source: str | None


class FEAGraphOutput(TypedDict, total=False):
    """What ``invoke`` returns: the typed result, the readable report and the number of faces."""

    result: ImageResult
    report: str
    face_count: int


class FEAGraphState(FEAGraphInput, FEAGraphOutput, total=False):
    """The whole state; ``analysis`` (the pipeline's :class:`~fea_agent.pipeline.Analysis`) passes between
    the nodes, each running one stage of the pipeline's single analysis path on it."""

    analysis: Analysis
    detections: list[Detection]  # what the detect node found (for streaming)
    faces: list[Face]  # the faces as the last node left them (for streaming)


def build_graph(pipeline: FEAPipeline) -> CompiledStateGraph:
    """Compile the offline graph over ``pipeline`` (its models are shared, not copied)."""

    def detect(state: FEAGraphState) -> dict[str, Any]:
        analysis = pipeline.start(state["image"], source=state.get("source"))
        return {"analysis": analysis, "detections": pipeline.detect(analysis)}

    def perceive(state: FEAGraphState) -> dict[str, Any]:
        return {"faces": pipeline.perceive(state["analysis"])}

    def no_face(state: FEAGraphState) -> dict[str, Any]:
        # An image without faces is a normal answer, not an error: perception and reasoning are skipped.
        return {"faces": []}

    def reason(state: FEAGraphState) -> dict[str, Any]:
        return {"faces": pipeline.reason(state["analysis"])}

    def report(state: FEAGraphState) -> dict[str, Any]:
        result = pipeline.finish(state["analysis"])
        return {"result": result, "report": format_result(result), "face_count": len(result.faces)}

    def after_detect(state: FEAGraphState) -> str:
        return "perceive" if state["analysis"].detections else "no_face"

    graph = StateGraph(FEAGraphState, input_schema=FEAGraphInput, output_schema=FEAGraphOutput)
    graph.add_node("detect", detect)
    graph.add_node("perceive", perceive)
    graph.add_node("no_face", no_face)
    graph.add_node("reason", reason)
    graph.add_node("report", report)
    graph.add_edge(START, "detect")
    graph.add_conditional_edges("detect", after_detect, ["perceive", "no_face"])
    graph.add_edge("perceive", "reason")
    graph.add_edge("reason", "report")
    graph.add_edge("no_face", "report")
    graph.add_edge("report", END)
    return graph.compile(name="fea-offline")
