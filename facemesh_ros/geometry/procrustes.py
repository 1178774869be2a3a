"""Weighted orthogonal Procrustes with scale: the similarity (s, R, t) that maps a fixed source point set
(the canonical face) onto target points, minimising sum_i w_i |s R a_i + t - b_i|^2.

Formulas (spec §5, source A, target B, q = sqrt(w), T = sum(w), c = sum(w_i a_i) / T):
    D = sum_i q_i b_i (q_i (a_i - c))^T = U S V^T;  R = U V^T, U's 3rd column negated if det(U) det(V^T) < 0
    s = sum_i q_i (R (a_i - c)) . (q_i b_i) / sum_i q_i (a_i - c) . (q_i a_i);  t = sum_i w_i b_i / T - s R c
The source never changes, so everything that depends on it alone is computed once here, and only the points
with non-zero weight (33 of 468 for the face) take part: zero weights contribute nothing to any sum.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import FailureReason, GeometryError

_TINY = 1e-9  # spec: fail on denominators <= 1e-9
_MIN_RANK_RATIO = 1e-6  # 2nd / 1st singular value below this: the target is (nearly) collinear


class Similarity(NamedTuple):
    """x -> scale * rotation @ x + translation."""

    scale: float
    rotation: np.ndarray  # (3, 3), det +1
    translation: np.ndarray  # (3,)

    @property
    def matrix(self) -> np.ndarray:
        """The 4x4 homogeneous matrix [[s R, t], [0, 0, 0, 1]]."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Points (..., 3) mapped by the similarity: s R x + t."""
        return self.scale * (points @ self.rotation.T) + self.translation

    def apply_inverse(self, points: np.ndarray) -> np.ndarray:
        """Points (..., 3) mapped back: R^T (x - t) / s."""
        return ((points - self.translation) @ self.rotation) / self.scale


class WeightedProcrustes:
    """Fits similarities from one weighted source point set (N, 3) to any target of the same layout."""

    def __init__(self, source: np.ndarray, weights: np.ndarray) -> None:
        source = np.asarray(source, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if source.ndim != 2 or source.shape[1] != 3 or weights.shape != (source.shape[0],):
            raise ValueError(f"need source (N, 3) and weights (N,), got {source.shape} and {weights.shape}")
        if not (np.all(np.isfinite(source)) and np.all(np.isfinite(weights)) and np.all(weights >= 0)):
            raise ValueError("source points and weights must be finite, weights >= 0")
        self.basis_index = np.flatnonzero(weights > 0)
        w = weights[self.basis_index]
        total = float(w.sum())
        if total <= _TINY:
            raise ValueError("Procrustes weights sum to zero")
        a = source[self.basis_index]
        self._q = np.sqrt(w)[:, None]  # (K, 1)
        self._w_over_total = w / total  # (K,)
        self._centroid = self._w_over_total @ a  # c
        self._centred_weighted = (a - self._centroid) * self._q  # rows q_i (a_i - c)
        denominator = float(np.sum(self._centred_weighted * (a * self._q)))
        if denominator <= _TINY:
            raise ValueError("Procrustes source points are all at their weighted centroid")
        self._inv_denominator = 1.0 / denominator

    def fit_basis(self, target_basis: np.ndarray) -> Similarity:
        """Similarity source -> target, given only the target rows at `basis_index` (K, 3).

        Raises GeometryError (DEGENERATE or SOLVER_FAILED) when no unique proper rotation exists.
        """
        scale, rotation = self._scale_rotation(target_basis)
        translation = self._w_over_total @ target_basis - scale * (rotation @ self._centroid)
        return Similarity(scale, rotation, translation)

    def scale_basis(self, target_basis: np.ndarray) -> float:
        """Only the scale of `fit_basis` (what MediaPipe's depth recovery iterates on)."""
        return self._scale_rotation(target_basis)[0]

    def _scale_rotation(self, target_basis: np.ndarray) -> tuple[float, np.ndarray]:
        cross = (target_basis * self._q).T @ self._centred_weighted  # D = Bw Ac^T, (3, 3)
        try:
            u, singular, vt = np.linalg.svd(cross)
        except np.linalg.LinAlgError as error:
            raise GeometryError(FailureReason.SOLVER_FAILED, f"SVD failed: {error}") from None
        if not singular[0] > _TINY or not singular[1] > _MIN_RANK_RATIO * singular[0]:
            raise GeometryError(
                FailureReason.DEGENERATE,
                f"Procrustes target is collinear or a single point (singular values {singular})",
            )
        rotation = u @ vt
        if np.linalg.det(rotation) < 0:  # det(U) det(V^T) < 0: take the best proper rotation instead
            u[:, 2] = -u[:, 2]
            rotation = u @ vt
        # sum_i q_i (R (a_i - c)) . (q_i b_i) = sum(R * D)
        scale = float(np.vdot(rotation, cross)) * self._inv_denominator
        if not (np.isfinite(scale) and scale > _TINY):
            raise GeometryError(FailureReason.SOLVER_FAILED, f"Procrustes scale {scale} is not positive")
        return scale, rotation

    def fit(self, target: np.ndarray) -> Similarity:
        """Similarity source -> target for a full target (N, 3) laid out like the source."""
        return self.fit_basis(np.asarray(target, dtype=np.float64)[self.basis_index])


def weighted_procrustes(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One-off 4x4 similarity source -> target (both (N, 3)); prefer WeightedProcrustes for repeated fits."""
    return WeightedProcrustes(source, weights).fit(target).matrix
