"""The canonical face model (MediaPipe's geometry_pipeline_metadata_landmarks, converted to
models/canonical_face_model.npz): 468 vertices in cm, UVs, 898 triangles and the Procrustes weights.

Canonical frame: x to the subject's left (image right when facing the camera), y up, +z out of the face.
"""

from __future__ import annotations

import functools
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facemesh_ros.model_paths import models_dir
from facemesh_ros.types import NUM_MESH_LANDMARKS

from .procrustes import WeightedProcrustes

MODEL_FILENAME = "canonical_face_model.npz"
NUM_VERTICES = NUM_MESH_LANDMARKS
NUM_TRIANGLES = 898
# The sellion (deepest point of the nasal root, between the eyes): the most recessed midline vertex between
# the forehead and the nose tip in the canonical mesh (z: 9 -> 5.39, 8 -> 5.28, 168 -> 5.24, 6 -> 5.79 cm),
# and the top of MediaPipe's nose-bridge line 168-6-197-195-5-4. Origin of the REP-155 face frame.
SELLION_INDEX = 168


class CanonicalModelError(ValueError):
    """The canonical face model file is missing, unreadable or not a canonical face model."""


@dataclass(frozen=True)
class CanonicalFaceModel:
    """Canonical face mesh plus the Procrustes solver precomputed on its weighted landmark basis."""

    vertices: np.ndarray  # (468, 3) float64, cm
    uvs: np.ndarray  # (468, 2) float32, v = 0 at the top
    triangles: np.ndarray  # (898, 3) int32 vertex indices
    procrustes_weights: np.ndarray  # (468,) float64
    procrustes: WeightedProcrustes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks = (
            (self.vertices.shape == (NUM_VERTICES, 3), f"vertices {self.vertices.shape} != (468, 3)"),
            (self.uvs.shape == (NUM_VERTICES, 2), f"uvs {self.uvs.shape} != (468, 2)"),
            (self.triangles.ndim == 2 and self.triangles.shape[1] == 3, f"triangles {self.triangles.shape}"),
            (self.procrustes_weights.shape == (NUM_VERTICES,), f"weights {self.procrustes_weights.shape}"),
            (bool(np.all(np.isfinite(self.vertices))), "non-finite vertices"),
            (
                self.triangles.size > 0 and 0 <= self.triangles.min() and self.triangles.max() < NUM_VERTICES,
                "triangle indices out of range",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise CanonicalModelError(f"invalid canonical face model: {message}")
        object.__setattr__(self, "procrustes", WeightedProcrustes(self.vertices, self.procrustes_weights))

    @property
    def sellion(self) -> np.ndarray:
        """Canonical position (cm) of the REP-155 face frame origin."""
        return self.vertices[SELLION_INDEX]


def load_canonical_face_model(path: str | os.PathLike[str] | None = None) -> CanonicalFaceModel:
    """Load the canonical face model from an .npz (default: the packaged models directory).

    Raises CanonicalModelError, naming the file, when it is missing, unreadable or has the wrong content."""
    path = Path(path) if path is not None else models_dir() / MODEL_FILENAME
    try:
        with np.load(path) as data:
            missing = {"vertices", "uvs", "triangles", "procrustes_weights"} - set(data.files)
            if missing:
                raise CanonicalModelError(f"missing arrays {sorted(missing)}")
            return CanonicalFaceModel(
                vertices=data["vertices"].astype(np.float64),
                uvs=data["uvs"].astype(np.float32),
                triangles=data["triangles"].astype(np.int32),
                procrustes_weights=data["procrustes_weights"].astype(np.float64),
            )
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # what np.load raises for a bad file
        raise CanonicalModelError(
            f"cannot load the canonical face model {path} ({_why(path, error)}); regenerate "
            "the models with `make models`"
        ) from error


def _why(path: Path, error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        folder = path.parent
        if not folder.is_dir():
            return f"the models folder {folder} does not exist"
        return f"the models folder {folder} is empty" if not any(folder.iterdir()) else "no such file"
    text = " ".join(str(error).split())
    return text if isinstance(error, CanonicalModelError) else f"{type(error).__name__}: {text}"


@functools.cache
def default_canonical_face_model() -> CanonicalFaceModel:
    """The packaged canonical face model, loaded once per process."""
    return load_canonical_face_model()
