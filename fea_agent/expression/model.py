"""The learned expression model: per-face features -> a calibrated distribution over the eight labels.

A multinomial logistic regression, or a one-hidden-layer MLP, in plain numpy: standardisation, the layers, a
temperature and a prior correction, all stored in one JSON file (never pickle) whose header records what the
model needs to be valid: the feature version and columns, the perception model files the features came from
(registry names and sha256), the label set, the training command and its person-grouped validation numbers.
Inference is a few small matrix products: well under a millisecond a face.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fea_agent.errors import ModelFileError
from fea_agent.expression.features import FEATURE_VERSION, face_features, feature_names
from fea_agent.expression.fit import standardise
from fea_agent.results import EXPRESSION_LABELS, Expression, Face

FORMAT = "fea-agent-expression-model"
#: Largest magnitude a stored number may have, per field: far above any trained model (weights about 0.1-2,
#: feature means within ±10, log priors within ±1), far below what overflows (1e308 weights give inf logits
#: and NaN probabilities on every face).
LIMITS: dict[str, float] = {"mean": 1e6, "scale": 1e6, "w": 1e4, "b": 1e4, "log_prior": 50.0}
#: A feature's scale divides it: at 1e-12 or below, any difference from the mean is the clip.
MIN_SCALE = 1e-12
TEMPERATURE_RANGE = (0.01, 100.0)
#: Two implementations of the same MediaPipe networks: features from either fit a model trained on the other.
COMPATIBLE_LANDMARKS = {"mediapipe", "mediapipe-tasks"}


#: Share of the appearance view's probability a label the model could not learn (too few photos: fear) keeps.
#: The appearance CNNs learned fear from their own data; the model cannot weigh that against the other evidence,
#: so it counts half (person-grouped on ../shared/data: fear answered 9 times, 1 of 9 fear photos, against
#: never; mean recall of the six 0.607 -> 0.605).
UNLEARNED_WEIGHT = 0.5


class InputModel(BaseModel):
    """A perception model file the features came from."""

    model_config = ConfigDict(extra="forbid")

    stage: str = Field(description="Pipeline stage: detector, landmarks, action_units or appearance.")
    backend: str = Field(description="Backend name when trained (e.g. 'mediapipe', 'fer').")
    model: str | None = Field(
        None, description="Registry name of the model file (None: no file, e.g. a formula)."
    )
    sha256: str | None = None


class ModelHeader(BaseModel):
    """What a model file says about itself; checked on load."""

    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    name: str = Field(description="Short name shown in results (expression.model).")
    feature_version: str
    features: list[str] = Field(description="Input columns, in order.")
    embedding: bool = Field(
        description="Whether the appearance backend's embedding is an input (its width: the emb: columns)."
    )
    labels: list[str] = Field(description="Output labels, in order: the eight of EXPRESSION_LABELS.")
    trained_labels: list[str] = Field(
        description="Labels seen in training; the others get half the appearance view's probability, or 0."
    )
    inputs: list[InputModel] = Field(default_factory=list)
    hidden: int = Field(0, ge=0, description="Hidden units (0: logistic regression).")
    temperature: float = Field(1.0, gt=0)
    training: dict[str, Any] = Field(default_factory=dict, description="Command, data, seed, settings.")
    metrics: dict[str, Any] = Field(default_factory=dict, description="Person-grouped validation numbers.")


class ModelSummary(BaseModel):
    """What a client needs to know about the expression model a server runs (the ``fea://backends`` resource)."""

    name: str = Field(description="What results call it (expression.model): a registry name or a path.")
    trained_labels: list[str] = Field(
        description="Labels it learned; the others get half the appearance view's probability, or 0."
    )
    inputs: dict[str, str] = Field(description="Stage -> the backend its features were measured with.")
    validation: dict[str, dict[str, float]] = Field(
        description="Per training folder: person-grouped cross-validated accuracy and mean recall."
    )
    mismatches: list[str] = Field(
        description="How this pipeline's backends differ from the training inputs; empty when they fit."
    )


class ExpressionModel:
    """Load with :meth:`load`; :meth:`predict_faces` labels perceived faces."""

    def __init__(
        self,
        header: ModelHeader,
        *,
        mean: np.ndarray,
        scale: np.ndarray,
        layers: Sequence[tuple[np.ndarray, np.ndarray]],
        log_prior: np.ndarray,
        name: str | None = None,
    ) -> None:
        self.header = header
        #: What results call this model (``expression.model``): a registry name or the path it was loaded from.
        self.name = name or header.name
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.layers = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in layers]
        #: Added to the logits of the trained labels: shifts the balanced training prior to the deployed one.
        self.log_prior = np.asarray(log_prior, dtype=np.float64)
        #: The appearance embedding's width among the inputs (0: none), from the column names.
        self.embedding_size = sum(f.startswith("emb:") for f in header.features)
        self._check()
        self._trained = np.array([EXPRESSION_LABELS.index(k) for k in header.trained_labels])
        #: (label, its app: column) for the labels not learned that the appearance view gives.
        self._unlearned = [
            (k, header.features.index(f"app:{k}"))
            for k in EXPRESSION_LABELS
            if k not in header.trained_labels and f"app:{k}" in header.features
        ]
        #: Stage -> the backend the features were measured with when it was trained.
        self.input_backends = {i.stage: i.backend for i in header.inputs}
        #: A model trained without an appearance backend never saw appearance columns: it ignores them.
        self.uses_appearance = "appearance" in self.input_backends

    def _check(self) -> None:
        h = self.header
        n = len(h.features)
        expected_features = feature_names(embedding=self.embedding_size)
        if h.feature_version != FEATURE_VERSION or h.features != expected_features:
            raise ModelFileError(
                f"expression model {h.name!r} was trained on feature version {h.feature_version} "
                f"({n} columns); this fea-agent computes version {FEATURE_VERSION} "
                f"({len(expected_features)} columns): retrain it with `fea-agent train`"
            )
        if list(h.labels) != list(EXPRESSION_LABELS) or not set(h.trained_labels) <= set(EXPRESSION_LABELS):
            raise ModelFileError(f"expression model {h.name!r} has an unknown label set {h.labels}")
        shapes_ok = self.mean.shape == (n,) and self.scale.shape == (n,) and len(self.layers) in (1, 2)
        width = n
        for w, b in self.layers:
            shapes_ok = shapes_ok and w.ndim == 2 and w.shape[0] == width and b.shape == (w.shape[1],)
            width = w.shape[1]
        k = len(h.trained_labels)
        shapes_ok = shapes_ok and width == k and self.log_prior.shape == (k,)
        shapes_ok = shapes_ok and (len(self.layers) == 2) == (h.hidden > 0)
        if not shapes_ok:
            raise ModelFileError(f"expression model {h.name!r} has weights of the wrong shape")
        fields = {"mean": self.mean, "scale": self.scale, "log_prior": self.log_prior}
        for i, (w, b) in enumerate(self.layers):
            fields[f"layers[{i}].w"], fields[f"layers[{i}].b"] = w, b
        for field, values in fields.items():
            self._check_values(f"weights.{field}", values, LIMITS[field.rsplit(".", 1)[-1]])
        if self.scale.min(initial=np.inf) <= MIN_SCALE:
            raise ModelFileError(
                f"expression model {h.name!r}: weights.scale holds {self.scale.min():g}, at or below "
                f"{MIN_SCALE:g} (a feature divided by it); the file is corrupt or hand-edited: retrain it"
            )
        low, high = TEMPERATURE_RANGE
        if not (math.isfinite(h.temperature) and low <= h.temperature <= high):
            raise ModelFileError(
                f"expression model {h.name!r}: header.temperature is {h.temperature:g}, outside {low:g}-{high:g}; "
                "the file is corrupt or hand-edited: retrain it"
            )

    def _check_values(self, field: str, values: np.ndarray, limit: float) -> None:
        """Refuse NaN, infinity and magnitudes no trained model has, naming the field."""
        if not np.isfinite(values).all():
            raise ModelFileError(
                f"expression model {self.header.name!r}: {field} holds NaN or infinite values; the file is corrupt "
                "or hand-edited: retrain it with `fea-agent train`"
            )
        peak = float(np.abs(values).max(initial=0.0))
        if peak > limit:
            raise ModelFileError(
                f"expression model {self.header.name!r}: {field} holds {peak:g}, above the limit of {limit:g} for "
                "this field; the file is corrupt or hand-edited: retrain it with `fea-agent train`"
            )

    def mismatches(self, backends: dict[str, str | None]) -> list[str]:
        """What differs between the inputs this model was trained on and a pipeline's (stage -> backend name),
        in words; empty when they match. Model files are compared by sha256, the AU formula by its digest."""
        from fea_agent.expression.features import au_calibration_digest
        from fea_agent.models.registry import MODELS

        out = []
        for i in self.header.inputs:
            now = backends.get(i.stage)
            if now is None:
                continue
            if now != i.backend and {now, i.backend} != COMPATIBLE_LANDMARKS:
                out.append(f"{i.stage} backend {now!r}, trained on {i.backend!r}")
            elif i.model in MODELS and i.sha256 and MODELS[i.model].sha256 != i.sha256:
                out.append(f"{i.stage} model file {i.model} has changed since training")
            elif (
                i.stage == "action_units"
                and i.backend == "blendshapes"
                and i.sha256 != au_calibration_digest()
            ):
                out.append("the blendshape-to-AU calibration has changed since training")
        return out

    def summary(self, backends: dict[str, str | None]) -> ModelSummary:
        """The model in brief, checked against a pipeline's backends (stage -> name)."""
        folders = self.header.metrics.get("folders", {})
        return ModelSummary(
            name=self.name,
            trained_labels=list(self.header.trained_labels),
            inputs=self.input_backends,
            validation={
                folder: {k: m[k] for k in ("accuracy", "mean_recall_learned") if k in m}
                for folder, m in folders.items()
            },
            mismatches=self.mismatches(backends),
        )

    # -- inference -----------------------------------------------------------------------------------------

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Uncalibrated scores over the trained labels for rows of raw features (NaN: not measured)."""
        z = standardise(np.atleast_2d(features), self.mean, self.scale)  # missing values -> the mean
        for i, (w, b) in enumerate(self.layers):
            z = z @ w + b
            if i < len(self.layers) - 1:
                z = np.maximum(z, 0.0)
        return z

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Rows of probabilities over all eight labels, calibrated. A label too rare in training to learn
        (fear, contempt) takes :data:`UNLEARNED_WEIGHT` times the appearance classifier's probability for it,
        where the row has one (its ``app:`` column), and the learned labels share the rest; else 0."""
        z = (self.logits(features) + self.log_prior) / self.header.temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        z /= z.sum(axis=1, keepdims=True)
        out = np.zeros((z.shape[0], len(EXPRESSION_LABELS)))
        for label, column in self._unlearned:
            out[:, EXPRESSION_LABELS.index(label)] = UNLEARNED_WEIGHT * np.nan_to_num(
                np.exp(features[:, column])
            )
        out[:, self._trained] = z * (1.0 - out.sum(axis=1, keepdims=True))
        return out

    def features(
        self, face: Face, appearance: Any | None, rgb: np.ndarray | None = None
    ) -> np.ndarray | None:
        """The feature row for one face (see :func:`face_features`; ``rgb`` is the image its landmarks are in),
        None when the face has no mesh."""
        probabilities = embedding = None
        if self.uses_appearance:
            probabilities = getattr(appearance, "probabilities", None)
            if (
                probabilities is None
                and face.expression is not None
                and face.expression.source == "appearance"
            ):
                probabilities = face.expression.probabilities
            embedding = getattr(appearance, "features", None)
        row = face_features(face, probabilities, embedding, embedding_size=self.embedding_size, rgb=rgb)
        return None if row is None else row[0]

    def predict_faces(
        self, faces: list[Face], appearance: Sequence[Any | None], rgb: np.ndarray | None = None
    ) -> list[Expression | None]:
        """One fused expression per face (None for a face without a mesh), in the order given; ``rgb``: the
        image the faces were found in (without it the texture columns count as unmeasured)."""
        rows = [self.features(f, a, rgb) for f, a in zip(faces, appearance, strict=True)]
        present = [i for i, r in enumerate(rows) if r is not None]
        out: list[Expression | None] = [None] * len(faces)
        if not present:
            return out
        probabilities = self.predict_proba(np.stack([rows[i] for i in present]))
        for i, p in zip(present, probabilities, strict=True):
            dist = {k: float(v) for k, v in zip(EXPRESSION_LABELS, p, strict=True)}
            out[i] = Expression.from_probabilities(dist, source="fused", model=self.name)
        return out

    # -- files ---------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def r(a: np.ndarray) -> Any:
            return np.round(a, 6).tolist()

        return {
            "header": self.header.model_dump(),
            "weights": {
                "mean": r(self.mean),
                "scale": r(self.scale),
                "layers": [{"w": r(w), "b": r(b)} for w, b in self.layers],
                "log_prior": r(self.log_prior),
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON at exactly ``path`` (folders created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, *, name: str | None = None) -> ExpressionModel:
        """Read a model file; :class:`~fea_agent.errors.ModelFileError` says what is wrong with a bad one.

        ``name`` is what results call it (default: the path as given)."""
        name = name or str(path)
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(
                f"expression model {path} not found; train one with `fea-agent train LABELLED_DIR --out {path}`"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            header = ModelHeader.model_validate(data["header"])
            if header.format != FORMAT:
                raise ValueError(f"format is {header.format!r}, not {FORMAT!r}")
            weights = data["weights"]
            return cls(
                header,
                mean=np.array(weights["mean"], dtype=np.float64),
                scale=np.array(weights["scale"], dtype=np.float64),
                layers=[
                    (np.array(x["w"], dtype=np.float64), np.array(x["b"], dtype=np.float64))
                    for x in weights["layers"]
                ],
                log_prior=np.array(weights["log_prior"], dtype=np.float64),
                name=name,
            )
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        except ValidationError as exc:
            fields = ", ".join(
                f"header.{'.'.join(map(str, e['loc']))} ({e['msg'].lower()})" for e in exc.errors()[:3]
            )
            raise ModelFileError(
                f"expression model {path} has a bad header: {fields}; retrain it with `fea-agent train`"
            ) from None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ModelFileError(
                f"expression model {path} is corrupt or not a fea-agent expression model ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200]}); retrain it with `fea-agent train`"
            ) from None


def load_default() -> ExpressionModel:
    """The shipped model, verified against its registered sha256 (no download: it is inside the package)."""
    from fea_agent.models.registry import model_path

    return ExpressionModel.load(model_path("expression"), name="expression")


def load_expression_model(choice: str | Path | None) -> ExpressionModel | None:
    """``PipelineOptions.expression_model``: None or 'default' for the shipped model, 'none' for no model,
    a registry name, or a path to a file written by ``fea-agent train``."""
    from fea_agent.models.registry import MODELS, model_path

    if choice is None or str(choice) in ("default", "expression"):
        return load_default()
    if str(choice) == "none":
        return None
    if str(choice) in MODELS:
        return ExpressionModel.load(model_path(str(choice)), name=str(choice))
    return ExpressionModel.load(choice)
