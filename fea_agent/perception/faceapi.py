"""Appearance expression: face-api.js's ``FaceExpressionNet`` (MIT), run by OpenCV's DNN module.

The network is four dense blocks of depthwise-separable 3x3 convolutions on a 112x112 RGB face (32, 64, 128 and
256 channels, each block halving the side), a 7x7 average pool and one fully connected layer to seven
expressions. The weights are face-api.js's TF.js files as published (a JSON manifest of names, shapes and uint8
quantisation, and one binary shard); they are laid out here as an ONNX graph in memory that follows
``src/faceFeatureExtractor/`` and ``src/faceProcessor/`` of ``justadudewhohacks/face-api.js`` op for op: TF's
"same" padding (at stride 2 the extra row and column go at the end), the face padded to a square with zeros
centred and resized bilinearly as TF.js's ``resizeBilinear`` does (no half-pixel offset), mean RGB (122.782,
117.001, 104.298) subtracted, then divided by 255. Its answers match face-api.js's own to 1e-5 (tested against
probabilities face-api.js computed in Node). No TensorFlow needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from fea_agent.backends.base import AppearanceOutput, Detection
from fea_agent.backends.context import BuildContext
from fea_agent.errors import ModelFileError
from fea_agent.perception.crop import crop_box
from fea_agent.perception.onnx_graph import Graph

#: The network's output order (``FACE_EXPRESSION_LABELS``), mapped to this package's label words.
FACEAPI_LABELS: tuple[str, ...] = ("neutral", "happiness", "sadness", "anger", "fear", "disgust", "surprise")
INPUT_SIDE = 112
EMBEDDING_SIZE = 256
MEAN_RGB = np.array([122.782, 117.001, 104.298], dtype=np.float32)
BLOCKS = ("dense0", "dense1", "dense2", "dense3")


def load_faceapi(ctx: BuildContext) -> FaceApiExpression:
    from fea_agent.models.registry import model_path

    return FaceApiExpression(
        model_path("faceapi_expression_manifest", folder=ctx.model_dir),
        model_path("faceapi_expression", folder=ctx.model_dir),
    )


def read_weights(manifest: Path, shard: Path) -> dict[str, np.ndarray]:
    """The named float32 tensors of a TF.js weights manifest and its single shard, dequantised
    (``q * scale + min``). Raises ModelFileError naming the file when either is not what the other says."""
    try:
        groups = json.loads(manifest.read_text(encoding="utf-8"))
        entries = [w for g in groups for w in g["weights"]]
        shards = [p for g in groups for p in g["paths"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{manifest} is not a TF.js weights manifest: {exc}") from exc
    if len(shards) != 1:
        raise ModelFileError(f"{manifest} lists {len(shards)} shards; face-api.js's expression model has one")
    data = shard.read_bytes()
    weights: dict[str, np.ndarray] = {}
    offset = 0
    try:
        for entry in entries:
            shape = tuple(int(n) for n in entry["shape"])
            count = int(np.prod(shape))
            quant = entry.get("quantization")
            dtype = np.dtype(quant["dtype"] if quant else entry.get("dtype", "float32")).newbyteorder("<")
            if offset + count * dtype.itemsize > len(data):
                break
            values = np.frombuffer(data, dtype=dtype, count=count, offset=offset).astype(np.float32)
            if quant:
                values = values * np.float32(quant["scale"]) + np.float32(quant["min"])
            weights[entry["name"]] = values.reshape(shape)
            offset += count * dtype.itemsize
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{manifest} has an entry that is not a TF.js weight: {exc}") from exc
    if len(weights) != len(entries) or offset != len(data):
        raise ModelFileError(
            f"{shard} is {len(data)} bytes, which is not what its manifest {manifest.name} describes: fetch both "
            "files again from face-api.js's weights/ folder"
        )
    return weights


def build_graph(weights: dict[str, np.ndarray], batch: int = 2) -> bytes:
    """The network as ONNX bytes: input ``face`` (batch, 3, 112, 112), outputs ``embedding`` (the pooled 256
    numbers the classifier reads) and ``logits``."""
    g = Graph()

    def conv(x: str, name: str, kernel: np.ndarray, bias: np.ndarray, stride: int, group: int = 1) -> str:
        side = kernel.shape[-1]
        # TF "same": at stride 2 (every input side here is even) no padding before, one row/column after.
        pads = [0, 0, 1, 1] if stride == 2 else [side // 2] * 4
        return g.node(
            "Conv",
            [x, g.constant(f"{name}/w", kernel), g.constant(f"{name}/b", bias)],
            kernel_shape=[side, side],
            strides=[stride, stride],
            pads=pads,
            group=group,
        )

    def separable(x: str, name: str, stride: int) -> str:
        depthwise = weights[f"{name}/depthwise_filter"]  # (3, 3, C, 1) -> (C, 1, 3, 3)
        channels = depthwise.shape[2]
        x = conv(
            x, f"{name}/dw", depthwise.transpose(2, 3, 0, 1), np.zeros(channels, np.float32), stride, channels
        )
        pointwise = weights[f"{name}/pointwise_filter"]  # (1, 1, C, O) -> (O, C, 1, 1)
        return conv(x, f"{name}/pw", pointwise.transpose(3, 2, 0, 1), weights[f"{name}/bias"], 1)

    x = "face"
    for block in BLOCKS:
        if block == "dense0":
            stem = conv(
                x,
                "dense0/conv0",
                weights["dense0/conv0/filters"].transpose(3, 2, 0, 1),
                weights["dense0/conv0/bias"],
                2,
            )
        else:
            stem = separable(x, f"{block}/conv0", 2)
        # denseBlock4: each layer reads the relu of the running sum of the block's outputs so far.
        total = g.node("Relu", [stem])
        for i in (1, 2, 3):
            read = total if i == 1 else g.node("Relu", [total])
            total = g.node("Add", [total, separable(read, f"{block}/conv{i}", 1)])
        x = g.node("Relu", [total])
    # The 7x7 "valid" average pool with stride 2 on a 7x7 map is the mean over it.
    pooled = g.node("GlobalAveragePool", [x])
    embedding = g.node("Flatten", [pooled], "embedding", axis=1)
    g.node(
        "Gemm",
        [embedding, g.constant("fc/w", weights["fc/weights"]), g.constant("fc/b", weights["fc/bias"])],
        "logits",
    )
    return g.serialize(
        {"face": [batch, 3, INPUT_SIDE, INPUT_SIDE]},
        {"embedding": [batch, EMBEDDING_SIZE], "logits": [batch, len(FACEAPI_LABELS)]},
    )


class FaceApiExpression:
    """7-class appearance classifier on the detector's box; returns label -> probability and the pooled
    256-number embedding, each the mean over the face and its mirror image (one batch of two)."""

    name = "faceapi"
    device = "cpu"

    def __init__(self, manifest: Path, shard: Path) -> None:
        weights = read_weights(manifest, shard)
        try:
            model = build_graph(weights)
        except KeyError as exc:
            raise ModelFileError(
                f"{manifest} has no tensor {exc}: not face-api.js's expression model"
            ) from exc
        self._net = cv2.dnn.readNetFromONNX(np.frombuffer(model, dtype=np.uint8))

    @staticmethod
    def preprocess(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The box's pixels padded to a centred square with zeros, resized to 112x112 as TF.js's
        ``resizeBilinear`` does (source = destination x scale, edges clamped), normalised: (112, 112, 3)."""
        patch = crop_box(rgb, box)
        height, width = patch.shape[:2]
        side = max(height, width)
        square = np.zeros((side, side, 3), dtype=np.float32)
        top, left = (side - height) // 2, (side - width) // 2
        square[top : top + height, left : left + width] = patch
        scale = side / INPUT_SIDE
        resized = cv2.warpAffine(
            square,
            np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]]),
            (INPUT_SIDE, INPUT_SIDE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return (resized - MEAN_RGB) / np.float32(255.0)

    def run(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities over FACEAPI_LABELS and embeddings of two preprocessed faces (2, 112, 112, 3)."""
        self._net.setInput(np.ascontiguousarray(faces.transpose(0, 3, 1, 2)))
        embedding, logits = self._net.forward(["embedding", "logits"])
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), embedding

    def predict(self, rgb: np.ndarray, detections: list[Detection]) -> list[AppearanceOutput]:
        """The expression and embedding of every detected face: the mean over the crop and its mirror image."""
        out = []
        for d in detections:
            face = self.preprocess(rgb, d.box)
            probabilities, embedding = self.run(np.stack([face, face[:, ::-1]]))
            named = {
                label: float(p) for label, p in zip(FACEAPI_LABELS, probabilities.mean(axis=0), strict=True)
            }
            out.append(AppearanceOutput(named, features=embedding.mean(axis=0)))
        return out
