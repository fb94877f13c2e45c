"""The demo's API endpoints, which ``launch(mcp_server=True)`` also serves as MCP tools.

Their docstrings are what an MCP client's model reads, so they say what each tool does, what it takes and
what it returns. The page's own events are private; only these are public.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from fea_agent.demo.analysis import analyze, decode, user_errors
from fea_agent.demo.uploads import Upload, ephemeral_image
from fea_agent.facs.catalogue import describe
from fea_agent.pipeline import FEAPipeline
from fea_agent.render import plots


def build(pipeline: FEAPipeline) -> None:
    """Add the hidden API components and their public endpoints to the current ``gr.Blocks``."""

    def analyze_face(image: Upload | None) -> dict[str, Any]:
        """Analyse the faces in a photo: expression with a FACS-grounded explanation, action units, head pose.

        Use this to learn what emotion a face shows and why. Faces come largest first. For each face: the
        box (pixels), the expression label and its probability distribution, the action units (AU code, FACS
        name, presence probability 0-1, intensity 0-5), head pose in degrees (yaw > 0 turns towards the
        image's right, pitch > 0 tilts up), quality issues, and the reasoning text, which starts with the label
        and cites the AUs it rests on, e.g. "Happiness. ... lip corners pulled up into a smile (AU12)". The
        478 landmarks are left out to keep the answer short. A photo without faces gives "faces": [].

        Args:
            image: the photo (JPEG, PNG, WebP, ...) as a URL or base64 data.
        Returns:
            The analysis as a JSON object (fea-agent's ImageResult without landmarks).
        """
        if image is None:
            raise gr.Error("no image given: pass a photo")
        with user_errors(image.name):
            result = analyze(pipeline, decode(image.data, image.name, pipeline), None)
        return result.model_dump(mode="json", exclude={"faces": {"__all__": {"landmarks"}}})

    def describe_action_unit(code: str) -> dict[str, Any]:
        """Describe a facial action unit (FACS): its name, the muscle behind it and what it looks like.

        Args:
            code: an AU code such as "AU12", "au6" or "12".
        Returns:
            {"code", "name", "muscle", "appearance"}.
        """
        try:
            return describe(code).model_dump()
        except (KeyError, ValueError) as exc:
            raise gr.Error(str(exc).strip("'\"")) from None

    def compare_faces(image_a: Upload | None, image_b: Upload | None) -> dict[str, Any]:
        """Compare the largest face in two photos: which action units got stronger or weaker from A to B.

        Use this to explain how an expression changed, e.g. between a neutral and a smiling photo of a person.

        Args:
            image_a: the first photo, as a URL or base64 data.
            image_b: the second photo, as a URL or base64 data.
        Returns:
            {"a": label of A, "b": label of B, "changes": [{"action unit", "change", "direction", "A", "B"}]},
            intensities on the 0-5 scale, changes of at least 0.5, biggest first.
        """
        faces = []
        for upload in (image_a, image_b):
            if upload is None:
                raise gr.Error("pass two photos, image_a and image_b")
            with user_errors(upload.name):
                result = analyze(pipeline, decode(upload.data, upload.name, pipeline), None)
            if not result.faces:
                raise gr.Error(f"no face found in {upload.name}")
            faces.append(result.faces[0])
        a, b = faces
        return {
            "a": a.reasoning.label if a.reasoning else (a.expression.label if a.expression else None),
            "b": b.reasoning.label if b.reasoning else (b.expression.label if b.expression else None),
            "changes": plots.au_change_frame(a, b).to_dict(orient="records"),
        }

    with gr.Column(visible=False):
        image = ephemeral_image(label="image")
        image_a = ephemeral_image(label="image_a")
        image_b = ephemeral_image(label="image_b")
        code = gr.Textbox(label="code")
        out = gr.JSON()
        for fn, inputs in (
            (analyze_face, [image]),
            (describe_action_unit, [code]),
            (compare_faces, [image_a, image_b]),
        ):
            gr.Button(visible=False).click(fn, inputs, out, api_name=fn.__name__)
