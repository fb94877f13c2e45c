"""ONNX graphs with EmotiEffLib's input and outputs, built by the tests (no model download)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_graph(path, side: int, outputs: int, *, batch: int | str = "N", seed: int = 0) -> tuple:
    """An ONNX model: input 'input' [batch, 3, side, side] -> Flatten -> Gemm -> [batch, outputs]."""
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((outputs, 3 * side * side)) / side).astype(np.float32)
    bias = rng.standard_normal(outputs).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "W", "b"], ["output"], transB=1),
        ],
        "emotiefflib_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, side, side])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, outputs])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return weight, bias
