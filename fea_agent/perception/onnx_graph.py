"""Writing a small ONNX graph in memory, for OpenCV's DNN module to run (no ``onnx`` package needed).

Weights published in another framework's format (face-api.js's TF.js files) become an ONNX model here, in a few
hundred microseconds at load, so that OpenCV's optimised convolutions run them: the protobuf wire format of the
few messages a feed-forward graph needs (``ModelProto``, ``GraphProto``, ``NodeProto``, ``AttributeProto``,
``TensorProto``, ``ValueInfoProto``), field numbers as in ``onnx/onnx.proto``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

IR_VERSION = 7
OPSET = 13
_FLOAT = 1  # TensorProto.DataType.FLOAT
_ATTR_INT, _ATTR_INTS = 2, 7  # AttributeProto.AttributeType


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values are written as their two's complement
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode())


def _attribute(name: str, value: int | Sequence[int]) -> bytes:
    if isinstance(value, int):
        return _str(1, name) + _int(3, value) + _int(20, _ATTR_INT)
    return _str(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)


def _value_info(name: str, shape: Sequence[int]) -> bytes:
    dims = b"".join(_bytes(1, _int(1, d)) for d in shape)
    return _str(1, name) + _bytes(2, _bytes(1, _int(1, _FLOAT) + _bytes(2, dims)))


class Graph:
    """A float32 feed-forward graph built node by node; :meth:`serialize` gives the ONNX model's bytes."""

    def __init__(self) -> None:
        self._nodes: list[bytes] = []
        self._initializers: list[bytes] = []
        self._count = 0

    def constant(self, name: str, array: np.ndarray) -> str:
        """A weight tensor, stored as raw little-endian float32."""
        a = np.ascontiguousarray(array, dtype="<f4")
        self._initializers.append(
            b"".join(_int(1, d) for d in a.shape) + _int(2, _FLOAT) + _str(8, name) + _bytes(9, a.tobytes())
        )
        return name

    def node(
        self, op: str, inputs: Sequence[str], output: str | None = None, **attributes: int | Sequence[int]
    ) -> str:
        """Append one node; returns its output's name (``output``, or a fresh one)."""
        if output is None:
            self._count += 1
            output = f"{op.lower()}_{self._count}"
        self._nodes.append(
            b"".join(_str(1, i) for i in inputs)
            + _str(2, output)
            + _str(3, output)
            + _str(4, op)
            + b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
        )
        return output

    def serialize(self, inputs: dict[str, Sequence[int]], outputs: dict[str, Sequence[int]]) -> bytes:
        graph = (
            b"".join(_bytes(1, n) for n in self._nodes)
            + _str(2, "graph")
            + b"".join(_bytes(5, t) for t in self._initializers)
            + b"".join(_bytes(11, _value_info(k, v)) for k, v in inputs.items())
            + b"".join(_bytes(12, _value_info(k, v)) for k, v in outputs.items())
        )
        opset = _str(1, "") + _int(2, OPSET)
        return _int(1, IR_VERSION) + _bytes(8, opset) + _bytes(7, graph)
