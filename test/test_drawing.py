"""Connection sets (MediaPipe's, plus the canonical-mesh tesselation) and landmark drawing."""

from __future__ import annotations

import numpy as np
import pytest
from face_mesh_reference import read_rgb

from facemesh_ros import connections as conn
from facemesh_ros.drawing import (
    DrawingSpec,
    draw_landmarks,
    get_default_face_mesh_contours_style,
    get_default_face_mesh_iris_connections_style,
    get_default_face_mesh_tesselation_style,
)
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.geometry import default_canonical_face_model


def test_connection_sets_have_mediapipe_sizes() -> None:
    sizes = {
        "LIPS": 40,
        "LEFT_EYE": 16,
        "LEFT_EYEBROW": 8,
        "LEFT_IRIS": 4,
        "RIGHT_EYE": 16,
        "RIGHT_EYEBROW": 8,
        "RIGHT_IRIS": 4,
        "FACE_OVAL": 36,
        "NOSE": 25,
        "CONTOURS": 124,
        "IRISES": 8,
        "TESSELATION": 1365,
    }
    for name, size in sizes.items():
        edges = getattr(conn, f"FACEMESH_{name}")
        assert isinstance(edges, frozenset) and len(edges) == size, name
    assert (61, 146) in conn.FACEMESH_LIPS and (469, 470) in conn.FACEMESH_RIGHT_IRIS
    assert {i for edge in conn.FACEMESH_LEFT_EYE for i in edge} >= {263, 362}  # subject's left: 263 side
    assert conn.FACEMESH_NOSE.isdisjoint(conn.FACEMESH_CONTOURS)
    mesh_points = {i for edge in conn.FACEMESH_TESSELATION for i in edge}
    assert mesh_points == set(range(468))


def test_tesselation_is_the_face_surface_the_spec_contours_lie_on() -> None:
    """The tesselation (built from the canonical mesh) against facts it was not built from: MediaPipe's
    contour polylines, the face's size, and the mesh's topology."""
    model = default_canonical_face_model()
    tesselation = {tuple(sorted(edge)) for edge in conn.FACEMESH_TESSELATION}
    spec_lines = conn.FACEMESH_CONTOURS | conn.FACEMESH_NOSE
    assert {tuple(sorted(edge)) for edge in spec_lines} <= tesselation  # every drawn contour follows mesh edges
    lengths = [np.linalg.norm(model.vertices[a] - model.vertices[b]) for a, b in tesselation]
    assert max(lengths) < 3.0  # cm: neighbours only, no edge across the face
    # one disk: V - E + F = 1, and its outline (the edges of a single triangle) is MediaPipe's face oval
    assert 468 - len(tesselation) + len(model.triangles) == 1
    triangles = model.triangles
    pairs = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    edges, uses = np.unique(pairs, axis=0, return_counts=True)
    assert set(uses.tolist()) == {1, 2}
    outline = {tuple(int(i) for i in edge) for edge in edges[uses == 1]}
    assert outline == {tuple(sorted(edge)) for edge in conn.FACEMESH_FACE_OVAL}


def test_draw_landmarks_draws_lines_then_circles_in_place() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    points = np.array([[0.1, 0.5, 0.0], [0.9, 0.5, 0.0], [1.5, 0.5, 0.0]], np.float32)
    draw_landmarks(image, points, [(0, 1), (1, 2)], None, DrawingSpec((0, 255, 0), 1))
    assert tuple(image[50, 100]) == (0, 255, 0)  # middle of the 0-1 line
    assert image[:, 181:].sum() == 0  # the point outside [0, 1] and its edge are skipped
    draw_landmarks(image, points, None, DrawingSpec((0, 0, 255), 1, 2))
    assert tuple(image[50 + 2, 20]) == (0, 0, 255)  # ring of radius 2 around pixel floor(0.1 * 200)
    assert tuple(image[50 + 3, 20]) == (224, 224, 224)  # white border ring of radius 3


def test_draw_default_styles_on_a_real_face() -> None:
    rgb = read_rgb("lenna.png")
    with FaceMesh(static_image_mode=True, refine_landmarks=True, device="cpu") as mesh:
        face = mesh.process(rgb).multi_face_landmarks[0]
    canvas = np.zeros_like(rgb)
    draw_landmarks(canvas, face, conn.FACEMESH_TESSELATION, None, get_default_face_mesh_tesselation_style())
    draw_landmarks(canvas, face, conn.FACEMESH_CONTOURS, None, get_default_face_mesh_contours_style())
    draw_landmarks(canvas, face, conn.FACEMESH_IRISES, None, get_default_face_mesh_iris_connections_style())
    colors = {tuple(c) for c in canvas.reshape(-1, 3)}
    assert {(128, 128, 128), (224, 224, 224), (48, 255, 48), (48, 48, 255)} <= colors
    ys, xs = np.nonzero(canvas.any(axis=2))
    assert 150 < xs.mean() < 400 and 150 < ys.mean() < 450  # drawn over the face
    with pytest.raises(ValueError, match=r"outside 0\.\.467"):
        draw_landmarks(canvas, np.zeros((468, 3)), conn.FACEMESH_IRISES)
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        draw_landmarks(canvas.astype(np.float32), face, conn.FACEMESH_LIPS)
