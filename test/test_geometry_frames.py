"""MediaPipe <-> ROS conversions, quaternion order, landmark input types, no ROS imports in the library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import transforms3d
from scipy.spatial.transform import Rotation

from facemesh_ros.geometry import (
    Camera,
    default_canonical_face_model,
    estimate_face_geometry,
    matrix_from_pose,
    mediapipe_to_optical_points,
    optical_to_mediapipe_points,
    pose_from_matrix,
)
from facemesh_ros.geometry.frames import (
    FACE_AXES_IN_CANONICAL,
    GAZE_AXES_IN_CANONICAL,
    compose_quaternions,
    frame_axes,
)

REPO = Path(__file__).resolve().parents[1]


def test_points_mediapipe_cm_to_optical_m_and_back():
    points = np.array([[1.0, 2.0, -50.0], [-3.0, -4.0, -120.0]])
    optical = mediapipe_to_optical_points(points)
    np.testing.assert_allclose(optical, [[0.01, -0.02, 0.5], [-0.03, 0.04, 1.2]])
    np.testing.assert_allclose(optical_to_mediapipe_points(optical), points)


def test_frame_axes_are_right_handed_and_as_documented():
    assert np.linalg.det(FACE_AXES_IN_CANONICAL) == pytest.approx(1.0)
    assert np.linalg.det(GAZE_AXES_IN_CANONICAL) == pytest.approx(1.0)
    # face: x = canonical +z (out of the face), y = +x (subject's left), z = +y (up)
    np.testing.assert_array_equal(FACE_AXES_IN_CANONICAL.T, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_pose_round_trip_and_xyzw_order():
    rotation = Rotation.from_euler("zyx", [30, -20, 75], degrees=True).as_matrix()
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rotation, [0.1, -0.2, 1.5]
    position, quaternion = pose_from_matrix(transform)
    assert quaternion[3] >= 0
    w, x, y, z = transforms3d.quaternions.mat2quat(rotation)
    np.testing.assert_allclose(quaternion, np.sign(w) * np.array([x, y, z, w]), atol=1e-12)
    np.testing.assert_allclose(Rotation.from_quat(quaternion).as_matrix(), rotation, atol=1e-12)  # xyzw
    np.testing.assert_allclose(matrix_from_pose(position, quaternion), transform, atol=1e-12)


def test_compose_quaternions_matches_matrix_product():
    a, b = Rotation.random(2, random_state=1)
    expected = (a * b).as_matrix()
    quaternion = compose_quaternions(a.as_quat(), b.as_quat())
    np.testing.assert_allclose(Rotation.from_quat(quaternion).as_matrix(), expected, atol=1e-12)


def test_accepts_float32_arrays_and_landmark_lists():
    camera = Camera.from_fov(63, 640, 480)
    model = default_canonical_face_model()
    optical = (model.vertices + np.array([0.0, 0.0, -70.0])) * [1, -1, -1]
    u = camera.fx * optical[:, 0] / optical[:, 2] + camera.cx
    v = camera.fy * optical[:, 1] / optical[:, 2] + camera.cy
    z = (optical[:, 2] - optical[:, 2].mean()) * camera.fx / (optical[:, 2].mean() * 640)
    landmarks = np.column_stack(((u + 0.5) / 640, (v + 0.5) / 480, z))
    expected = estimate_face_geometry(landmarks, camera).pose_matrix
    as_float32 = estimate_face_geometry(landmarks.astype(np.float32), camera).pose_matrix
    np.testing.assert_allclose(as_float32, expected, atol=1e-3)
    landmark_list = SimpleNamespace(landmark=[SimpleNamespace(x=x, y=y, z=z) for x, y, z in landmarks])
    np.testing.assert_allclose(estimate_face_geometry(landmark_list, camera).pose_matrix, expected)


def test_library_has_no_ros_imports():
    sources = "\n".join(p.read_text() for p in (REPO / "facemesh_ros" / "geometry").glob("*.py"))
    for forbidden in ("rclpy", "_msgs", "ament_index"):
        assert f"import {forbidden}" not in sources and f"from {forbidden}" not in sources
    code = (
        "import sys, facemesh_ros.geometry as g; "
        "bad = [m for m in sys.modules if m.startswith('rclpy') or m.split('.')[0].endswith('_msgs')]; "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert out.stdout.strip() == "[]"


def test_frame_axes_are_the_origin_then_the_axis_ends() -> None:
    transform = np.eye(4)
    transform[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # 90 deg about z
    transform[:3, 3] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(frame_axes(transform, 0.5), [[1, 2, 3], [1, 2.5, 3], [0.5, 2, 3], [1, 2, 3.5]])
