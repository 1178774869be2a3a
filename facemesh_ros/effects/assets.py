"""Effect assets: textured meshes (OBJ + PNG) and UV-space textures (PNG), and the built-in ones.

Conventions shared with the renderer:
- 3D object meshes are modelled around MediaPipe's canonical face: centimetres, canonical frame (x to the
  subject's left = image right when facing the camera, y up, +z out of the face). The renderer places them
  with each face's pose, so a mesh that fits the canonical face fits every tracked face.
- Texture coordinates use v = 0 at the TOP row of the image, like the canonical face UVs. OBJ files store
  v = 0 at the bottom (OpenGL's convention), so `load_obj` flips them.
- Textures are (H, W, 4) uint8 RGBA arrays, alpha = coverage (0 leaves the camera image untouched).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
GLASSES_OBJ = ASSETS_DIR / "glasses.obj"
GLASSES_PNG = ASSETS_DIR / "glasses.png"
FACE_PAINT_PNG = ASSETS_DIR / "face_paint.png"

# The glasses texture is an atlas of vertical stripes, one per part, each sampled at its centre, so a test
# (or a user) can recolour one part by painting its stripe. Order = stripe index from the left.
GLASSES_PARTS = ("rims", "lenses", "bridge", "temple_right", "temple_left")


class AssetError(ValueError):
    """An effect asset cannot be loaded or is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class ObjectMesh:
    """A triangle mesh in the canonical face frame (cm)."""

    positions: np.ndarray  # (V, 3) float32, cm
    uvs: np.ndarray  # (V, 2) float32, v = 0 at the top of the texture
    normals: np.ndarray  # (V, 3) float32, unit
    triangles: np.ndarray  # (T, 3) int32 indices into the vertex arrays

    def __post_init__(self) -> None:
        n = len(self.positions)
        if n == 0 or len(self.triangles) == 0:
            raise AssetError("mesh has no vertices or no triangles")
        shapes = {"positions": (self.positions, 3), "uvs": (self.uvs, 2), "normals": (self.normals, 3)}
        for name, (array, width) in shapes.items():
            if array.shape != (n, width):
                raise AssetError(f"mesh {name} shape {array.shape} != ({n}, {width})")
            if not np.isfinite(array).all():
                raise AssetError(f"mesh {name} contain NaN or inf")
        if self.triangles.ndim != 2 or self.triangles.shape[1] != 3:
            raise AssetError(f"mesh triangles shape {self.triangles.shape} != (T, 3)")
        if self.triangles.min() < 0 or self.triangles.max() >= n:
            raise AssetError(f"mesh triangle indices outside 0..{n - 1}")


@dataclass(frozen=True)
class ObjectEffect:
    """3D object mode: `mesh` (canonical frame, cm) drawn with `texture` at every face's pose."""

    mesh: ObjectMesh
    texture: np.ndarray  # (H, W, 4) uint8 RGBA
    name: str = "object"


@dataclass(frozen=True)
class FacePaintEffect:
    """Face-mesh mode: `texture`, laid out in the canonical face's UV space, stretched over each face."""

    texture: np.ndarray  # (H, W, 4) uint8 RGBA
    name: str = "face_paint"


Effect = ObjectEffect | FacePaintEffect


def load_texture(path: str | os.PathLike[str]) -> np.ndarray:
    """PNG/JPEG/... file -> (H, W, 4) uint8 RGBA (opaque when the file has no alpha; 16-bit scaled to 8)."""
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"texture file not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise AssetError(f"cannot decode texture {path} (not an image OpenCV reads)")
    if image.dtype == np.uint16:
        image = np.right_shift(image, 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise AssetError(f"texture {path}: unsupported pixel type {image.dtype} (use 8- or 16-bit)")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGBA)
    conversions = {3: cv2.COLOR_BGR2RGBA, 4: cv2.COLOR_BGRA2RGBA}
    return cv2.cvtColor(image, conversions[image.shape[2]])


def checked_texture(texture: np.ndarray, what: str = "texture") -> np.ndarray:
    """An RGBA uint8 array ready to upload, or AssetError saying what is wrong with it."""
    if not isinstance(texture, np.ndarray) or texture.dtype != np.uint8:
        raise AssetError(f"{what} must be a uint8 numpy array")
    if texture.ndim != 3 or texture.shape[2] != 4 or min(texture.shape[:2]) == 0:
        raise AssetError(f"{what} must be (H, W, 4) RGBA, got shape {texture.shape}")
    return np.ascontiguousarray(texture)


def load_obj(path: str | os.PathLike[str]) -> ObjectMesh:
    """Wavefront OBJ (v, vt, vn, f; polygons fan-triangulated; negative indices allowed) -> ObjectMesh.

    Missing texture coordinates become (0, 0); missing normals are computed (area-weighted vertex normals).
    Materials, groups and other statements are ignored: the texture comes from the PNG passed alongside.
    """
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"OBJ file not found: {path}")
    vectors: dict[str, list[list[float]]] = {"v": [], "vt": [], "vn": []}
    corners: list[tuple[int, int, int]] = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            _read_statement(fields, vectors, corners)
        except (ValueError, IndexError) as error:
            raise AssetError(f"{path}:{number}: cannot parse {line.strip()!r}: {error}") from None
    if not corners:
        raise AssetError(f"{path}: no faces ('f' lines)")
    return _mesh_from_corners(
        np.array(vectors["v"], np.float64).reshape(-1, 3),
        np.array(vectors["vt"]).reshape(-1, 2),
        np.array(vectors["vn"]).reshape(-1, 3),
        np.array(corners, np.int64),
    )


_VECTOR_SIZES = {"v": 3, "vt": 2, "vn": 3}  # OBJ statement -> values read (a vt's optional w is ignored)


def _read_statement(
    fields: list[str], vectors: dict[str, list[list[float]]], corners: list[tuple[int, int, int]]
) -> None:
    """Add one OBJ statement's vertex data or fan-triangulated face corners; other statements are ignored."""
    kind = fields[0]
    if kind in _VECTOR_SIZES:
        vectors[kind].append([float(x) for x in fields[1 : 1 + _VECTOR_SIZES[kind]]])
    elif kind == "f":
        counts = (len(vectors["v"]), len(vectors["vt"]), len(vectors["vn"]))
        polygon = [_corner(token, counts) for token in fields[1:]]
        if len(polygon) < 3:
            raise ValueError("a face needs at least 3 vertices")
        corners += [c for i in range(1, len(polygon) - 1) for c in (polygon[0], polygon[i], polygon[i + 1])]


def _corner(token: str, counts: tuple[int, int, int]) -> tuple[int, int, int]:
    """'v', 'v/vt', 'v//vn' or 'v/vt/vn' (1-based, negative = from the end) -> 0-based indices, -1 = absent."""
    parts = token.split("/")
    if len(parts) > 3:
        raise ValueError(f"bad vertex reference {token!r}")
    indices = []
    for kind, count in enumerate(counts):
        text = parts[kind] if kind < len(parts) else ""
        if not text:
            if kind == 0:
                raise ValueError(f"vertex reference {token!r} has no position index")
            indices.append(-1)
            continue
        index = int(text)
        index = index - 1 if index > 0 else count + index
        if not 0 <= index < count:
            raise ValueError(f"index {text} in {token!r} refers to an undefined element ({count} defined)")
        indices.append(index)
    return indices[0], indices[1], indices[2]


def _mesh_from_corners(positions: np.ndarray, uvs: np.ndarray, normals: np.ndarray, corners: np.ndarray) -> ObjectMesh:
    """Unique (v, vt, vn) corner triples become the render vertices (OBJ indexes each attribute separately)."""
    unique, inverse = np.unique(corners, axis=0, return_inverse=True)
    triangles = inverse.reshape(-1, 3).astype(np.int32)
    vertex_positions = positions[unique[:, 0]]
    vertex_uvs = np.zeros((len(unique), 2))
    has_uv = unique[:, 1] >= 0
    vertex_uvs[has_uv] = uvs[unique[has_uv, 1]]
    vertex_uvs[:, 1] = 1.0 - vertex_uvs[:, 1]  # OBJ: v = 0 at the bottom; ours: v = 0 at the top
    if (unique[:, 2] >= 0).all():
        vertex_normals = normals[unique[:, 2]]
    else:
        vertex_normals = _vertex_normals(vertex_positions, triangles, unique[:, 0])
    length = np.linalg.norm(vertex_normals, axis=1, keepdims=True)
    vertex_normals = np.divide(
        vertex_normals, length, out=np.tile([0.0, 0.0, 1.0], (len(unique), 1)), where=length > 1e-12
    )
    return ObjectMesh(
        vertex_positions.astype(np.float32), vertex_uvs.astype(np.float32), vertex_normals.astype(np.float32), triangles
    )


def _vertex_normals(positions: np.ndarray, triangles: np.ndarray, position_index: np.ndarray) -> np.ndarray:
    """Area-weighted normals, summed over render vertices that share an OBJ position (smooth shading)."""
    a, b, c = (positions[triangles[:, k]] for k in range(3))
    face_normals = np.cross(b - a, c - a)
    sums = np.zeros((position_index.max() + 1, 3))
    for k in range(3):
        np.add.at(sums, position_index[triangles[:, k]], face_normals)
    return sums[position_index]


def object_effect(
    obj_path: str | os.PathLike[str], texture_path: str | os.PathLike[str], name: str = "object"
) -> ObjectEffect:
    """A user's 3D object: OBJ in the canonical face frame (cm) + its texture image."""
    return ObjectEffect(load_obj(obj_path), checked_texture(load_texture(texture_path)), name)


def face_paint_effect(texture_path: str | os.PathLike[str] | None = None) -> FacePaintEffect:
    """Face paint from a texture drawn in the canonical UV space (default: the built-in face_paint.png)."""
    return FacePaintEffect(checked_texture(load_texture(texture_path or FACE_PAINT_PNG)))


def glasses_effect() -> ObjectEffect:
    """The built-in glasses (generated by scripts/make_effect_assets.py from the canonical face)."""
    return object_effect(GLASSES_OBJ, GLASSES_PNG, name="glasses")
