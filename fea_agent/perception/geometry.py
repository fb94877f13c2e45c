"""Head pose from 478 landmarks, as MediaPipe's face geometry pipeline computes its transformation matrix.

The Face Landmarker bundle carries ``geometry_pipeline_metadata_landmarks.binarypb``: the canonical face mesh
(centimetres) and the weighted landmark basis the Procrustes solve uses. :class:`FaceGeometry` reads it with a
minimal protobuf reader (mediapipe's Python wheel ships no classes for it) and reproduces MediaPipe's
screen-to-metric conversion (a perspective camera with a 63 degree vertical field of view, two scale passes,
then a weighted orthogonal Procrustes solve), so :func:`head_pose_from_matrix`
gives the same yaw, pitch and roll as the Tasks API's matrix.
"""

from __future__ import annotations

import math
import struct

import numpy as np

#: MediaPipe's default environment for the Face Landmarker: its virtual camera.
VERTICAL_FOV_DEGREES = 63.0
NEAR = 1.0


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) of one protobuf message: ints for varint, bytes otherwise."""
    out: list[tuple[int, int, bytes | int]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((number, wire, value))
        elif wire == 1:
            out.append((number, wire, data[i : i + 8]))
            i += 8
        elif wire == 2:
            size, i = _varint(data, i)
            out.append((number, wire, data[i : i + size]))
            i += size
        elif wire == 5:
            out.append((number, wire, data[i : i + 4]))
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _floats(fields: list[tuple[int, int, bytes | int]], number: int) -> list[float]:
    """A repeated float field, packed (wire type 2) or not (wire type 5)."""
    values: list[float] = []
    for n, wire, value in fields:
        if n == number and isinstance(value, bytes):
            values.extend(
                struct.unpack(f"<{len(value) // 4}f", value) if wire == 2 else struct.unpack("<f", value)
            )
    return values


def parse_geometry_metadata(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The canonical face (468, 3) in cm and the Procrustes weight of each vertex (468,) from the binarypb."""
    fields = _fields(data)
    mesh = next(v for n, _, v in fields if n == 1 and isinstance(v, bytes))
    vertices = np.asarray(_floats(_fields(mesh), 3), dtype=np.float64).reshape(-1, 5)  # x, y, z, u, v
    canonical = vertices[:, :3]
    weights = np.zeros(len(canonical))
    for n, _, value in fields:
        if n == 2 and isinstance(value, bytes):
            ref = _fields(value)
            landmark = next((v for k, _, v in ref if k == 1 and isinstance(v, int)), 0)
            weight = _floats(ref, 2)
            weights[landmark] = weight[0] if weight else 0.0
    return canonical, weights


class WeightedProcrustes:
    """The similarity (scale * rotation, translation) that best maps a fixed ``source`` (N, 3) onto targets.

    MediaPipe's solver: weighted centring of the source only, SVD of the weighted cross-covariance, no
    reflection, the optimal scale, then the weighted mean residual as the translation. Everything that
    depends on the source alone is computed once (the source is always the canonical face).
    """

    def __init__(self, source: np.ndarray, weights: np.ndarray) -> None:
        self._sw = np.sqrt(weights)[:, None]
        self._ws = source * self._sw
        self._total = float(weights.sum())
        centre = (self._ws * self._sw).sum(axis=0) / self._total
        self._centred = self._ws - centre * self._sw
        self._denominator = float((self._centred * self._ws).sum())

    def _rotation_scale(self, target: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        wt = target * self._sw
        u, _, vt = np.linalg.svd(wt.T @ self._centred)
        rotation = u @ vt
        if np.linalg.det(rotation) < 0:
            u[:, 2] *= -1
            rotation = u @ vt
        scale = float(((self._centred @ rotation.T) * wt).sum() / self._denominator)
        return rotation, scale, wt

    def scale(self, target: np.ndarray) -> float:
        """The scale alone (the norm of the matrix's first column)."""
        return abs(self._rotation_scale(target)[1])

    def solve(self, target: np.ndarray) -> np.ndarray:
        """The 4x4 matrix mapping the source onto ``target``."""
        rotation, scale, wt = self._rotation_scale(target)
        rs = scale * rotation
        translation = ((wt - self._ws @ rs.T) * self._sw).sum(axis=0) / self._total
        out = np.eye(4)
        out[:3, :3] = rs
        out[:3, 3] = translation
        return out


class FaceGeometry:
    """The facial transformation matrix of MediaPipe's geometry pipeline, for landmarks from the mesh model."""

    def __init__(self, metadata: bytes) -> None:
        canonical, weights = parse_geometry_metadata(metadata)
        self._mesh_size = len(canonical)
        used = weights > 0  # only the basis landmarks move the solve; the rest have zero weight
        self._index = np.flatnonzero(used)
        self._solver = WeightedProcrustes(canonical[used], weights[used])

    def transform(self, landmarks: np.ndarray, frame: tuple[float, float, float]) -> np.ndarray:
        """The 4x4 matrix for ``landmarks`` (478, 3) in pixels, seen in the square ``frame`` (x0, y0, side).

        MediaPipe works on landmarks normalised to the image it ran on; the frame plays that image (the
        Tasks backend runs on a square crop around the face, and this package's pose is measured that way).
        """
        x0, y0, side = frame
        near_side = 2.0 * NEAR * math.tan(0.5 * math.radians(VERTICAL_FOV_DEGREES))  # a square frame
        # The depth offset is the mean over the 468 mesh points (MediaPipe drops the irises first); the
        # rest needs the basis only.
        depth_offset = float(landmarks[: self._mesh_size, 2].mean()) / side * near_side
        screen = landmarks[self._index].astype(np.float64)
        # Project x, y onto the near plane, the origin at the frame's top-left corner (so y flips).
        screen = np.column_stack(
            [
                (screen[:, 0] - x0) / side * near_side - near_side / 2,
                (1.0 - (screen[:, 1] - y0) / side) * near_side - near_side / 2,
                screen[:, 2] / side * near_side,
            ]
        )

        def unproject(scale: float) -> np.ndarray:
            out = screen.copy()
            out[:, 2] = (out[:, 2] - depth_offset + NEAR) / scale
            out[:, 0] *= out[:, 2] / NEAR
            out[:, 1] *= out[:, 2] / NEAR
            out[:, 2] *= -1.0  # to the right-handed metric space
            return out

        first = screen.copy()
        first[:, 2] *= -1.0
        first_scale = self._solver.scale(first)
        second_scale = self._solver.scale(unproject(first_scale))
        return self._solver.solve(unproject(first_scale * second_scale))


def head_pose_from_matrix(matrix: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll in degrees from MediaPipe's facial transformation matrix.

    MediaPipe's canonical face looks down the camera's -z axis with y up. The rotation is decomposed as
    R = Ry(yaw) @ Rx(pitch) @ Rz(roll); the signs are then set to this package's convention: yaw > 0 when the
    face turns towards the image's right, pitch > 0 when it tilts up, roll > 0 clockwise in the image.
    """
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    r = r / np.linalg.norm(r[:, 0])  # the matrix carries the face's scale
    pitch = math.degrees(math.asin(float(np.clip(-r[1, 2], -1.0, 1.0))))
    yaw = math.degrees(math.atan2(float(r[0, 2]), float(r[2, 2])))
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[1, 1])))
    return yaw, -pitch, -roll
