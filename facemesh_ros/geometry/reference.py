"""Spec §5 of MediaPipe's Face Geometry written out literally (dense 3xN matrices, every point).

Not used by the pipeline: it is the yardstick the fast solver (procrustes.py, pipeline.py) is compared with
in the tests and timed against in bench/bench_geometry.py, kept here so both import it from the library.
"""

from __future__ import annotations

import math

import numpy as np

from .model import NUM_VERTICES, default_canonical_face_model

MODEL = default_canonical_face_model()


def dense_procrustes(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """4x4 weighted orthogonal Procrustes with scale, source (N, 3) -> target (N, 3), over all points."""
    a, b, q = source.T, target.T, np.sqrt(weights)
    a_w, b_w, total = a * q, b * q, weights.sum()
    c = (a * weights).sum(axis=1, keepdims=True) / total
    a_c = a_w - c * q
    u, _, vt = np.linalg.svd(b_w @ a_c.T)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        u[:, 2] *= -1
    r = u @ vt
    s = np.sum((r @ a_c) * b_w) / np.sum(a_c * a_w)
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = s * r, ((b - s * r @ a) * weights).sum(axis=1) / total
    return m


def mediapipe_reference(
    landmarks: np.ndarray, width: int, height: int, fov_deg: float = 63.0
) -> tuple[np.ndarray, np.ndarray]:
    """(pose 4x4, metric landmarks (468, 3) cm) with MediaPipe's symmetric-frustum camera."""
    near = 1.0
    h_n = 2 * near * math.tan(math.radians(fov_deg) / 2)
    w_n = width * h_n / height
    canonical, weights = MODEL.vertices, MODEL.procrustes_weights

    screen = landmarks[:NUM_VERTICES].T.copy()
    screen[1] = 1 - screen[1]
    screen[0] = screen[0] * w_n - w_n / 2
    screen[1] = screen[1] * h_n - h_n / 2
    screen[2] = screen[2] * w_n
    depth_offset = screen[2].mean()

    def unproject(scale: float) -> np.ndarray:
        p = screen.copy()
        p[2] = (p[2] - depth_offset + near) / scale
        p[0] = p[0] * p[2] / near
        p[1] = p[1] * p[2] / near
        p[2] = -p[2]
        return p.T

    def scale_of(target: np.ndarray) -> float:
        return float(np.linalg.norm(dense_procrustes(canonical, target, weights)[:3, 0]))

    s1 = scale_of((screen * np.array([[1], [1], [-1]])).T)
    s2 = scale_of(unproject(s1))
    metric = unproject(s1 * s2)
    return dense_procrustes(canonical, metric, weights), metric
