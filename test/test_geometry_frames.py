"""MediaPipe <-> ROS conversions, frame axes, quaternion order and the landmark input types."""

from __future__ import annotations

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
    quaternion_from_rotation,
)


def test_points_mediapipe_cm_to_optical_m_and_back():
    points = np.array([[1.0, 2.0, -50.0], [-3.0, -4.0, -120.0]])
    optical = mediapipe_to_optical_points(points)
    np.testing.assert_allclose(optical, [[0.01, -0.02, 0.5], [-0.03, 0.04, 1.2]])
    np.testing.assert_allclose(optical_to_mediapipe_points(optical), points)


def test_face_frame_axes_point_where_the_canonical_face_says():
    """REP-155 on the canonical face itself: seen from the sellion, the nose tip is forward (+x), the
    subject's left eye corner (263) to the left (+y), the forehead (10) up (+z), the chin (152) down."""
    model = default_canonical_face_model()
    assert np.linalg.det(FACE_AXES_IN_CANONICAL) == pytest.approx(1.0)
    assert np.linalg.det(GAZE_AXES_IN_CANONICAL) == pytest.approx(1.0)

    def in_face_frame(vertex: int) -> np.ndarray:  # canonical offsets from the sellion, in face-frame axes
        return FACE_AXES_IN_CANONICAL.T @ (model.vertices[vertex] - model.sellion)

    nose_tip, left_corner, right_corner = in_face_frame(4), in_face_frame(263), in_face_frame(33)
    assert nose_tip[0] > 1.0 and abs(nose_tip[1]) < 0.1  # forward, on the midline
    assert left_corner[1] > 3.0 and right_corner[1] < -3.0
    assert in_face_frame(10)[2] > 3.0 and in_face_frame(152)[2] < -8.0

    # gaze frame (optical convention): z forward, x to the subject's right, y down
    def in_gaze_frame(vertex: int) -> np.ndarray:
        return GAZE_AXES_IN_CANONICAL.T @ (model.vertices[vertex] - model.sellion)

    assert in_gaze_frame(4)[2] > 1.0 and in_gaze_frame(33)[0] > 3.0 and in_gaze_frame(152)[1] > 8.0


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


def test_quaternion_from_rotation_matches_transforms3d_on_every_branch():
    rotations = list(Rotation.random(500, random_state=4).as_matrix())
    # half turns and near half turns about each axis: the cases where w is ~0 and x, y or z is largest
    for axis in np.eye(3):
        for angle in (np.pi, np.pi - 1e-7, -np.pi + 1e-4, 0.0, 1e-9):
            rotations.append(Rotation.from_rotvec(angle * axis).as_matrix())
    for rotation in rotations:
        quaternion = quaternion_from_rotation(rotation)
        w, x, y, z = transforms3d.quaternions.mat2quat(rotation)
        assert quaternion[3] >= 0 and np.isclose(np.linalg.norm(quaternion), 1.0, atol=1e-15)
        expected = np.array([x, y, z, w]) * (1.0 if w > 0 else -1.0)
        if abs(w) < 1e-6:  # a half turn: q and -q both have w ~ 0, either sign is the same rotation
            expected *= np.sign(expected @ quaternion)
        np.testing.assert_allclose(quaternion, expected, atol=1e-12)
        np.testing.assert_allclose(Rotation.from_quat(quaternion).as_matrix(), rotation, atol=1e-12)


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


def test_frame_axes_are_the_origin_then_the_axis_ends() -> None:
    transform = np.eye(4)
    transform[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # 90 deg about z
    transform[:3, 3] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(frame_axes(transform, 0.5), [[1, 2, 3], [1, 2.5, 3], [0.5, 2, 3], [1, 2, 3.5]])
