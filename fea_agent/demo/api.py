"""The demo's API endpoints, which ``launch(mcp_server=True)`` also serves as MCP tools.

The tools are the catalogue's (:data:`fea_agent.agent_tools.TOOL_SPECS`), the same names, arguments and JSON
outputs as ``fea-agent serve mcp``: each endpoint validates its arguments with the tool's input model, runs the
tool on the demo's pipeline and answers with the tool's output as JSON text. Images come as base64 or data
URIs (no file paths: the demo allows no folder), so nothing a client sends is written to disk. Tools that
read a file by path (``analyze_video``) are left out, since they could only fail here. The one demo-only
helper, ``compare_faces``, has a name no tool uses.
"""

from __future__ import annotations

import inspect
import json
import typing
from typing import Any

import gradio as gr
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from fea_agent.agent_tools import TOOL_SPECS, ImagePolicy, ToolContext, ToolSpec
from fea_agent.demo.analysis import analyze, decode, user_errors
from fea_agent.demo.uploads import read_uploads, upload_ref
from fea_agent.pipeline import FEAPipeline
from fea_agent.render import plots

#: Catalogue tools the demo does not serve: each reads a file by path, and the demo allows no folder (its Video
#: tab and the ``/analyze_video_clip`` endpoint take an upload instead).
NOT_SERVED = frozenset({"analyze_video"})


def _component(field: FieldInfo, label: str) -> gr.components.Component:
    """The hidden input component whose API type and default match a tool argument's (JSON for lists, objects)."""
    kinds = [a for a in (typing.get_args(field.annotation) or (field.annotation,)) if a is not type(None)]
    default = None if field.is_required() else field.default
    if kinds == [str]:
        return gr.Textbox(label=label, value=default)
    if kinds == [bool]:
        return gr.Checkbox(label=label, value=bool(default))
    if kinds in ([int], [float]):
        return gr.Number(label=label, value=default, precision=0 if kinds == [int] else None)
    return gr.JSON(label=label, value=default)


def _endpoint(spec: ToolSpec, ctx: ToolContext) -> tuple[Any, list[str]]:
    """A function with the tool's name, docstring and arguments that runs the tool and returns its JSON."""
    fields = spec.input_model.model_fields
    names = list(fields)

    def call(*values: Any) -> str:
        arguments = {
            name: value
            for name, value in zip(names, values, strict=True)
            if value is not None and value != "" and not (isinstance(value, float) and value != value)
        }
        with user_errors(spec.name):
            output: BaseModel = spec.run(ctx, arguments)
        return output.model_dump_json()

    args_doc = "\n".join(
        f"    {name}: {(field.description or name).replace(chr(10), ' ')}" for name, field in fields.items()
    )
    call.__name__ = spec.name
    call.__doc__ = f"{spec.description}\n\nArgs:\n{args_doc}\nReturns:\n    The tool's answer as JSON."
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=inspect.Parameter.empty if field.is_required() else field.default,
                annotation=field.annotation,
            )
            for name, field in fields.items()
        ],
        return_annotation=str,
    )
    return call, names


def build(pipeline: FEAPipeline) -> None:
    """Add the hidden API components and their public endpoints to the current ``gr.Blocks``."""
    ctx = ToolContext(pipeline, ImagePolicy())

    def compare_faces(image_a: Any, image_b: Any) -> str:
        """Compare the largest face in two photos: which action units got stronger or weaker from A to B.

        Use this to explain how an expression changed, e.g. between a neutral and a smiling photo of a person.

        Args:
            image_a: the first photo, as a URL or base64 data.
            image_b: the second photo, as a URL or base64 data.
        Returns:
            JSON {"a": label of A, "b": label of B, "changes": [{"action unit", "change", "direction", "A", "B"}]},
            intensities on the 0-5 scale, changes of at least 0.5, biggest first.
        """
        ref_a, ref_b = upload_ref(image_a), upload_ref(image_b)
        if ref_a is None or ref_b is None:
            raise gr.Error("pass two photos, image_a and image_b")
        faces = []
        for upload in read_uploads(ref_a, ref_b):  # one photo passed twice is read once
            assert upload is not None
            with user_errors(upload.name):
                result = analyze(pipeline, decode(upload.data, upload.name, pipeline), None)
            if not result.faces:
                raise gr.Error(f"no face found in {upload.name}")
            faces.append(result.faces[0])
        a, b = faces
        changes = plots.au_change_frame(a, b).to_dict(orient="records")
        return json.dumps({"a": a.label, "b": b.label, "changes": changes})

    with gr.Column(visible=False):
        out = gr.Textbox(label="result")
        for spec in TOOL_SPECS.values():
            if spec.name in NOT_SERVED:
                continue
            fn, names = _endpoint(spec, ctx)
            fields = spec.input_model.model_fields
            inputs = [_component(fields[name], name) for name in names]
            gr.Button(visible=False).click(fn, inputs, out, api_name=spec.name)
        image_a = gr.Image(label="image_a")
        image_b = gr.Image(label="image_b")
        gr.Button(visible=False).click(
            compare_faces, [image_a, image_b], out, api_name="compare_faces", preprocess=False
        )
