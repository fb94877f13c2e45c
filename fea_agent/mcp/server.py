"""The fea-agent MCP server (official ``mcp`` SDK, FastMCP): the agent tools, two resources and a prompt.

Every tool comes from :data:`fea_agent.agent_tools.TOOL_SPECS`; this module only translates. A tool returns
its typed output as structured content (with an output schema), a readable summary as text (what a chat
assistant's model reads: the label, the AUs with their intensities, the reasoning; about a seventh of the
JSON's tokens; ``text_content="json"`` sends the JSON instead), and, for ``analyze_face`` and ``detect_faces``,
the annotated picture as image content.
A failing call comes back as an MCP error result naming the problem (:func:`fea_agent.errors.describe_error`);
the server keeps serving.

    from fea_agent.mcp import Runtime, build_server
    build_server(Runtime()).run()          # stdio
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations

from fea_agent import __version__
from fea_agent.agent_tools import ToolResult, ToolSpec, render_output, tools_for
from fea_agent.errors import FEAError, describe_error
from fea_agent.mcp.runtime import Runtime, disconnect_waiter

log = logging.getLogger(__name__)

SERVER_NAME = "fea-agent"
INSTRUCTIONS = (
    "Facial emotion analysis tools. Send photos as base64 or a data URI in the 'image' argument (file paths "
    "work only under directories the operator allowed). analyze_face gives everything with a grounded "
    "explanation; detect_faces, detect_action_units and classify_expression give one stage each; "
    "explain_emotion reasons from an image or from action units you already have; describe_action_unit "
    "looks up the FACS catalogue. Coordinates are pixels, probabilities 0-1, AU intensities 0-5."
)

#: The JSON Schema dialect declared on tool schemas. The SDK validates every call's arguments and structured
#: result with ``jsonschema.validate``, on the server and again in the client, and that first checks the schema
#: against its meta-schema: for our result schema, about 400 ms a call under 2020-12 (dynamic refs), 25 ms
#: under draft-07 (measured on 2 busy cores). Pydantic's schemas mean the same under both.
SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"

#: What a tool result's text content holds: the readable summary (default) or the structured JSON again.
TextContentKind = Literal["summary", "json"]

#: Seconds between two progress notifications of one call (the last one is always sent).
PROGRESS_INTERVAL_S = 0.25


def _progress_sender(ctx: Context) -> Callable[[int, int | None], None]:
    """A progress callback for a worker thread that forwards to the client, throttled."""
    last = 0.0

    def send(done: int, total: int | None) -> None:
        nonlocal last
        now = time.monotonic()
        if (total is None or done < total) and now - last < PROGRESS_INTERVAL_S:
            return
        last = now
        message = f"{done} of {total} frames" if total else f"{done} frames"
        try:
            anyio.from_thread.run(ctx.report_progress, done, total, message)
        except Exception:  # a client that went away must not stop the analysis
            log.debug("progress notification failed", exc_info=True)

    return send


def to_call_result(result: ToolResult, text_content: TextContentKind = "summary") -> CallToolResult:
    """Structured content, the readable summary (or the JSON) as text, and the annotated picture when the
    tool drew one."""
    structured = result.output.model_dump(mode="json")
    text = (
        render_output(result.output)
        if text_content == "summary"
        else json.dumps(structured, separators=(",", ":"))
    )
    content: list[TextContent | ImageContent] = [TextContent(type="text", text=text)]
    if result.image is not None:
        data = base64.b64encode(result.image.data).decode("ascii")
        content.append(ImageContent(type="image", data=data, mimeType=result.image.mime_type))
    return CallToolResult(content=content, structuredContent=structured)


def _tool_function(spec: ToolSpec, runtime: Runtime, text_content: TextContentKind) -> Callable[..., Any]:
    """An async function whose signature is the spec's input model, as FastMCP wants to see it."""

    async def call(ctx: Context, **arguments: Any) -> CallToolResult:
        try:
            args = spec.parse(arguments)
            progress = _progress_sender(ctx) if spec.name == "analyze_video" else None
            result = await runtime.call(spec, args, progress, disconnected=disconnect_waiter(ctx))
        except Exception as exc:  # the server keeps serving; the client learns what broke
            if not isinstance(exc, FEAError):
                log.exception("tool %s failed", spec.name)
            raise ToolError(describe_error(exc)) from None
        return to_call_result(result, text_content)

    params = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)]
    annotations: dict[str, Any] = {"ctx": Context}
    for name, info in spec.input_model.model_fields.items():
        annotation = Annotated[info.annotation, info]
        default = (
            inspect.Parameter.empty if info.is_required() else info.get_default(call_default_factory=True)
        )
        params.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        )
        annotations[name] = annotation
    returns = Annotated[CallToolResult, spec.output_model]
    annotations["return"] = returns
    call.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    call.__annotations__ = annotations
    call.__name__ = spec.name
    call.__doc__ = spec.description
    return call


def _register_resources(server: FastMCP, runtime: Runtime) -> None:
    from fea_agent.facs.catalogue import AU_CATALOGUE
    from fea_agent.facs.prototypes import PROTOTYPES

    @server.resource(
        "fea://action-units",
        name="action_unit_catalogue",
        title="FACS action-unit catalogue",
        description="Every action unit fea-agent knows: code, FACS name, muscle and what it looks like.",
        mime_type="application/json",
    )
    def action_units() -> str:
        return json.dumps([info.model_dump() for info in AU_CATALOGUE.values()], indent=1)

    @server.resource(
        "fea://emotion-prototypes",
        name="emotion_prototypes",
        title="Emotion prototypes (EMFACS)",
        description="Which action units make which expression: core, supporting and contradicting AUs, "
        "with the literature each row comes from.",
        mime_type="application/json",
    )
    def emotion_prototypes() -> str:
        return json.dumps([dataclasses.asdict(p) for p in PROTOTYPES.values()], indent=1)

    @server.resource(
        "fea://backends",
        name="backends",
        title="Backends of this server",
        description="The backend each stage runs on this server and its device, the learned expression "
        "model that gives the label (its inputs, validation numbers and whether it fits these backends), then "
        "every registered backend with whether it could run here and, if not, why.",
        mime_type="application/json",
    )
    def backends() -> str:
        from fea_agent.backends.registry import describe_all

        runtime.load()
        pipeline = runtime.pipelines[0]
        active = pipeline.options.backends
        model = pipeline.expression_model
        return json.dumps(
            {
                "active": active,
                "devices": pipeline.devices,
                "expression_model": model.summary(active).model_dump() if model is not None else None,
                "registered": [b.model_dump() for b in describe_all()],
            },
            indent=1,
        )


def _register_prompt(server: FastMCP) -> None:
    # Named as the tool it asks for (one spelling, the tools' American one).
    @server.prompt(
        name="analyze_face",
        title="Analyze this face",
        description="Ask for a facial emotion analysis of a photo, answered label first and grounded in "
        "facial action units.",
    )
    def analyze_face_prompt(image: str, question: str = "") -> str:
        ask = f" The user asks: {question}" if question.strip() else ""
        return (
            f"Analyze the face(s) in this image with the analyze_face tool (image argument: {image}).{ask}\n"
            "For each face, answer in this form: the expression label first, then one or two sentences "
            "naming the facial action units that support it (with their codes, e.g. AU06, AU12) and any that "
            "argue against it. Say when the evidence is ambiguous or mixed, and when a face's quality is not "
            "usable, say why instead of guessing. Describe expressions, not inner states or identity."
        )


def build_server(
    runtime: Runtime,
    *,
    tools: str = "all",
    host: str = "127.0.0.1",
    port: int = 8765,
    name: str = SERVER_NAME,
    text_content: TextContentKind = "summary",
) -> FastMCP:
    """A FastMCP server exposing the tool set ``tools`` ('perception', 'reasoning' or 'all') over ``runtime``;
    ``text_content`` says what a tool result's text holds (the readable summary, or the JSON again).

    The runtime loads its models on the first session (the lifespan) and keeps them for every later one:
    over streamable HTTP each client session enters the lifespan, and models must not reload per session.
    """

    @asynccontextmanager
    async def lifespan(_: FastMCP) -> AsyncIterator[Runtime]:
        await anyio.to_thread.run_sync(runtime.load)
        yield runtime

    server = FastMCP(
        name,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        host=host,
        port=port,
        streamable_http_path="/mcp",
    )
    # FastMCP takes no version: without this, serverInfo.version is the MCP SDK's, not fea-agent's.
    server._mcp_server.version = __version__
    read_only = ToolAnnotations(
        readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False
    )
    for spec in tools_for(tools):
        server.add_tool(
            _tool_function(spec, runtime, text_content),
            name=spec.name,
            title=spec.name.replace("_", " ").capitalize(),
            description=spec.description,
            annotations=read_only,
            structured_output=True,
        )
        tool = server._tool_manager.get_tool(spec.name)  # FastMCP 1.x has no public setter for the schemas
        for schema in (tool.parameters, tool.fn_metadata.output_schema):
            if schema is not None:
                schema.setdefault("$schema", SCHEMA_DIALECT)
    _register_resources(server, runtime)
    _register_prompt(server)
    return server
