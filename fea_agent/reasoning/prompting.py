"""Prompts and answer parsing shared by the generative reasoners (feallm, vlm, openai).

Every generative backend asks the same question in the same words, gives the model the same face crop and
the same measured AUs as text, and turns what it writes into the same typed
:class:`~fea_agent.results.Reasoning`.
The answer form is FEALLM's: the label first, then a description grounded in facial actions, e.g.
``"Happiness. A smile with raised cheeks (AU6) and pulled lip corners (AU12)."``
Parsing is forgiving about what models actually write ("Happy.", "**Label:** sadness", "AU 12", "au6").
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field

import numpy as np

from fea_agent.facs.catalogue import AU_CATALOGUE, normalize_au_code
from fea_agent.facs.prototypes import roles
from fea_agent.results import (
    EXPRESSION_LABELS,
    LABEL_SYNONYMS,
    UNKNOWN,
    Agreement,
    AUEvidence,
    Expression,
    Face,
    Reasoning,
)

#: How much larger than the detector's box the face crop shown to a model is.
FACE_CROP_SCALE = 1.4

#: The instruction every generative backend receives (the AU context is appended when measured).
INSTRUCTION = (
    "Look at this face. Which facial expression does it show: neutral, happiness, sadness, surprise, fear, "
    "disgust, anger or contempt? Answer in this form: first the label and a full stop, then one or two "
    "sentences that ground it in the facial action units (AUs) you see, citing AU codes such as AU6 or AU12."
)

_WORD = re.compile(r"[A-Za-z]+")
_AU = re.compile(r"\bAU[\s_-]?(\d{1,2})\b", re.IGNORECASE)
_LEAD = re.compile(
    r"^\s*(?:[*_#>\s]*)(?:(?:label|expression|answer|emotion)\s*[:=-]\s*)?[*_\s]*", re.IGNORECASE
)


@dataclass(frozen=True)
class ParsedAnswer:
    """A generated answer in typed form.

    ``label`` is one of :data:`EXPRESSION_LABELS`, ``"other"``, or None when no label could be read;
    ``aus`` are the AU codes cited, zero-padded and in order of first mention;
    ``text`` is the answer as written.
    """

    text: str
    label: str | None
    aus: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        """The answer after its leading label."""
        head, _, rest = self.text.strip().partition(".")
        return (
            rest.strip()
            if self.label and LABEL_SYNONYMS.get(head.strip(" *_#").lower())
            else self.text.strip()
        )


def parse_answer(text: str) -> ParsedAnswer:
    """Read the label (the first label word of the first sentence, else anywhere) and the AUs cited."""
    clean = text.strip()
    aus: list[str] = []
    for match in _AU.finditer(clean):
        code = normalize_au_code(match.group(1))
        if code not in aus:
            aus.append(code)
    label = None
    body = _LEAD.sub("", clean, count=1)
    first_sentence = re.split(r"[.\n!]", body, maxsplit=1)[0]
    for scope in (first_sentence, clean):
        for word in _WORD.findall(scope):
            if word.lower() in LABEL_SYNONYMS:
                label = LABEL_SYNONYMS[word.lower()]
                break
        if label is not None:
            break
    return ParsedAnswer(text=clean, label=label, aus=aus)


def au_context(face: Face, *, top: int = 6) -> str:
    """The measured AUs as one sentence a language model can use; empty when none were measured."""
    if not face.aus:
        return ""
    present = sorted((a for a in face.aus if a.present), key=lambda a: -a.intensity)[:top]
    if not present:
        return "Measured action units: none clearly active."
    listed = ", ".join(f"AU{int(a.code[2:])} ({a.name.lower()}) {a.intensity:.1f}/5" for a in present)
    return f"Measured action units (intensity 0-5): {listed}."


def build_prompt(face: Face, *, with_aus: bool = True) -> str:
    """The question for one face: :data:`INSTRUCTION`, then the measured AUs when asked for and available."""
    context = au_context(face) if with_aus else ""
    return f"{INSTRUCTION} {context}".strip()


def face_crop(rgb: np.ndarray, face: Face, crop_scale: float = FACE_CROP_SCALE) -> np.ndarray:
    """A square RGB crop around the face (padded with black past the image edges), 192-320 px a side."""
    from fea_agent.perception.mediapipe_tasks import square_crop

    b = face.bbox
    return square_crop(rgb, (b.x, b.y, b.width, b.height), crop_scale=crop_scale).image


def image_data_uri(rgb: np.ndarray, *, quality: int = 90) -> str:
    """A JPEG data URI of an RGB array, encoded in memory (face crops are never written to disk)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def abstention(face: Face, reasoner: str) -> Face | None:
    """The face with an abstention when it cannot be read (quality not usable, no AUs), else None.

    The facs reasoner's rule and wording, reused by calling it: a face that cannot be read gets no guess from any
    backend, and every backend says why in the same words.
    """
    from fea_agent.reasoning.facs import FACSReasoner

    judged = FACSReasoner().reason_face(face)
    if judged.reasoning is None or not judged.reasoning.abstained:
        return None
    return judged.model_copy(update={"reasoning": judged.reasoning.model_copy(update={"reasoner": reasoner})})


def _evidence(face: Face, parsed: ParsedAnswer) -> list[AUEvidence]:
    """The AUs the answer cites, with their measured intensity (0 when not measured) and what they mean."""
    cited = []
    for code in parsed.aus:
        if code not in AU_CATALOGUE:
            continue
        measured = face.au(code)
        cited.append(
            AUEvidence(
                au=code,
                intensity=measured.intensity if measured is not None else 0.0,
                supports=list(roles(code).supports),
                contradicts=list(roles(code).contradicts),
            )
        )
    return cited


def _agreement(face: Face) -> Agreement:
    from fea_agent.reasoning.facs import au_scores

    appearance = face.expression.probabilities if face.expression is not None else None
    appearance_label = max(appearance, key=appearance.__getitem__) if appearance else None
    scores = au_scores({a.code: a.probability for a in face.aus})
    au_label = max(scores, key=scores.__getitem__) if scores else None
    return Agreement(
        appearance_label=appearance_label,
        action_unit_label=au_label,
        agree=None if appearance_label is None or au_label is None else appearance_label == au_label,
    )


def apply_answer(face: Face, parsed: ParsedAnswer, *, confidence: float | None, reasoner: str) -> Face:
    """The face with ``reasoning`` from a generated answer and ``expression`` replaced by its label.

    ``confidence`` is the model's probability of its label (from token probabilities), or None when the
    backend gave none: then it is recorded as 0.5, "no calibrated confidence". An answer without a readable
    label keeps the measured expression and says so; so does "other", which has no place in our labels.
    """
    conf = 0.5 if confidence is None else float(min(1.0, max(0.0, confidence)))
    evidence = _evidence(face, parsed)
    agreement = _agreement(face)
    if parsed.label is None:
        snippet = parsed.text if len(parsed.text) <= 200 else parsed.text[:200] + "..."
        reasoning = Reasoning(
            label=UNKNOWN,
            text=f"Unknown. The {reasoner} reasoner's answer names no expression: {snippet!r}",
            confidence=0.0,
            evidence=evidence,
            agreement=agreement,
            reasoner=reasoner,
        )
        return face.model_copy(update={"reasoning": reasoning})
    description = parsed.description or "The model gave no description."
    text = f"{parsed.label.capitalize()}. {description}"
    reasoning = Reasoning(
        label=parsed.label,
        text=text,
        confidence=round(conf, 4),
        evidence=evidence,
        agreement=agreement,
        reasoner=reasoner,
    )
    if parsed.label not in EXPRESSION_LABELS:
        return face.model_copy(update={"reasoning": reasoning})
    rest = (1.0 - conf) / (len(EXPRESSION_LABELS) - 1)
    probabilities = {k: round(conf if k == parsed.label else rest, 4) for k in EXPRESSION_LABELS}
    expression = Expression(label=parsed.label, probabilities=probabilities, source="fused")  # type: ignore[arg-type]
    return face.model_copy(update={"reasoning": reasoning, "expression": expression})
