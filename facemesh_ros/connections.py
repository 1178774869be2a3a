"""Face mesh connection sets: frozensets of (start, end) landmark index pairs, as MediaPipe's Python API.

LEFT/RIGHT are the subject's sides (FACEMESH_LEFT_EYE is around landmark 263, on the image's right for a
frontal face). Lines are given as polylines (facts from the MediaPipe spec) and expanded to edges.
FACEMESH_TESSELATION is built from the 898 triangles of MediaPipe's canonical face mesh (1365 undirected
edges): it draws the same surface as upstream's list, which came from a different triangulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from facemesh_ros.geometry.model import default_canonical_face_model
from facemesh_ros.types import NUM_LANDMARKS_WITH_IRISES, NUM_MESH_LANDMARKS

Connections = frozenset[tuple[int, int]]


def _edges(*polylines: Sequence[int]) -> Connections:
    return frozenset((int(a), int(b)) for line in polylines for a, b in pairwise(line))


FACEMESH_LIPS: Connections = _edges(
    (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
    (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),
    (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),
    (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),
)
FACEMESH_LEFT_EYE: Connections = _edges(
    (263, 466, 388, 387, 386, 385, 384, 398, 362),
    (263, 249, 390, 373, 374, 380, 381, 382, 362),
)
FACEMESH_LEFT_EYEBROW: Connections = _edges((276, 283, 282, 295, 285), (300, 293, 334, 296, 336))
FACEMESH_LEFT_IRIS: Connections = _edges((476, 477, 474, 475, 476))
FACEMESH_RIGHT_EYE: Connections = _edges(
    (33, 7, 163, 144, 145, 153, 154, 155, 133),
    (33, 246, 161, 160, 159, 158, 157, 173, 133),
)
FACEMESH_RIGHT_EYEBROW: Connections = _edges((46, 53, 52, 65, 55), (70, 63, 105, 66, 107))
FACEMESH_RIGHT_IRIS: Connections = _edges((469, 470, 471, 472, 469))
FACEMESH_FACE_OVAL: Connections = _edges(
    (
        176,
        149,
        150,
        136,
        172,
        58,
        132,
        93,
        234,
        127,
        162,
        21,
        54,
        103,
        67,
        109,
        10,
        338,
        297,
        332,
        284,
        251,
        389,
        356,
        454,
        323,
        361,
        288,
        397,
        365,
        379,
        378,
        400,
        377,
        152,
        148,
        176,
    ),
)
FACEMESH_NOSE: Connections = _edges(
    (168, 6, 197, 195, 5, 4, 45, 220, 115, 48, 64, 98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 1, 19, 94, 2),
)
FACEMESH_CONTOURS: Connections = frozenset().union(
    FACEMESH_LIPS,
    FACEMESH_LEFT_EYE,
    FACEMESH_LEFT_EYEBROW,
    FACEMESH_RIGHT_EYE,
    FACEMESH_RIGHT_EYEBROW,
    FACEMESH_FACE_OVAL,
)
FACEMESH_IRISES: Connections = FACEMESH_LEFT_IRIS | FACEMESH_RIGHT_IRIS


def _triangle_edges(triangles: np.ndarray) -> Connections:
    pairs = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    return frozenset((int(a), int(b)) for a, b in pairs)


def __getattr__(name: str) -> Connections:
    """FACEMESH_TESSELATION, built on first use: the 1365 edges of the canonical face mesh's 898 triangles
    (models/canonical_face_model.npz, the one copy of the mesh), the same surface MediaPipe's 2556-pair
    tesselation list draws. Lazy, so importing this module never reads the model file (a missing file is
    then reported where the program checks its startup, not as an import traceback)."""
    if name != "FACEMESH_TESSELATION":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _triangle_edges(default_canonical_face_model().triangles)
    globals()[name] = value
    return value


FACEMESH_NUM_LANDMARKS = NUM_MESH_LANDMARKS
FACEMESH_NUM_LANDMARKS_WITH_IRISES = NUM_LANDMARKS_WITH_IRISES
