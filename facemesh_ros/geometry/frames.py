"""MediaPipe <-> ROS coordinate conventions.

- MediaPipe metric space: camera at the origin, x right, y up, looking down -z; centimetres.
- ROS camera optical frame (REP-103): x right, y down, z forward (into the scene); metres.
  The two differ by a half turn about x: p_optical = diag(1, -1, -1) p_mediapipe / 100.
- Canonical face frame (model.py): x to the subject's left, y up, +z out of the face; centimetres.
- REP-155 face frame: origin at the sellion, x out of the face (forward), y to the subject's left, z up
  (towards the scalp): x_face = +z_canonical, y_face = +x_canonical, z_face = +y_canonical.
- REP-155 gaze frame: same origin, optical convention: z forward (out of the face), x to the subject's
  right, y down: x_gaze = -x_canonical, y_gaze = -y_canonical, z_gaze = +z_canonical.
Quaternions are (x, y, z, w), as geometry_msgs/Quaternion, and kept with w >= 0; products and matrices come
from transforms3d (its own order is (w, x, y, z)).
"""

from __future__ import annotations

import math

import numpy as np
from transforms3d.quaternions import qmult, quat2mat

CM_PER_M = 100.0
MEDIAPIPE_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])  # rotation: MediaPipe camera axes -> optical axes
# Columns: the frame's axes expressed in canonical-face coordinates.
FACE_AXES_IN_CANONICAL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
GAZE_AXES_IN_CANONICAL = np.diag([-1.0, -1.0, 1.0])


def mediapipe_to_optical_points(points_cm: np.ndarray) -> np.ndarray:
    """(N, 3) MediaPipe metric points (cm) -> camera optical frame (m)."""
    return points_cm * (np.diag(MEDIAPIPE_TO_OPTICAL) / CM_PER_M)


def optical_to_mediapipe_points(points_m: np.ndarray) -> np.ndarray:
    """(N, 3) camera optical frame points (m) -> MediaPipe metric space (cm)."""
    return points_m * (np.diag(MEDIAPIPE_TO_OPTICAL) * CM_PER_M)


def frame_in_optical(rotation: np.ndarray, origin_cm: np.ndarray, axes_in_canonical: np.ndarray) -> np.ndarray:
    """4x4 rigid transform frame -> optical (metres) of a frame attached to the face.

    rotation: canonical -> MediaPipe camera rotation of the face pose (no scale); origin_cm: the frame origin
    in MediaPipe metric space; axes_in_canonical: the frame's axes (columns) in canonical coordinates.
    """
    transform = np.eye(4)
    transform[:3, :3] = MEDIAPIPE_TO_OPTICAL @ rotation @ axes_in_canonical
    transform[:3, 3] = MEDIAPIPE_TO_OPTICAL @ origin_cm / CM_PER_M
    return transform


def _xyzw_with_positive_w(wxyz: np.ndarray) -> np.ndarray:
    """transforms3d's (w, x, y, z) -> (x, y, z, w), sign chosen so w >= 0 (q and -q are the same rotation;
    one sign keeps the output steady)."""
    w, x, y, z = wxyz
    sign = 1.0 if w >= 0 else -1.0
    return np.array([sign * x, sign * y, sign * z, sign * w])


def quaternion_from_rotation(rotation: np.ndarray) -> np.ndarray:
    """3x3 rotation -> unit quaternion (x, y, z, w) with w >= 0.

    Closed form (Shepperd's: from the largest of 4|w|^2, 4|x|^2, 4|y|^2, 4|z|^2, so nothing is divided by a
    small number) in Python floats, since this runs for every face of every frame: transforms3d's mat2quat
    solves an eigenproblem, made for matrices that are not quite rotations, and costs several times more."""
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = np.asarray(rotation, dtype=np.float64).tolist()
    squares = (m00 + m11 + m22, m00 - m11 - m22, m11 - m00 - m22, m22 - m00 - m11)  # 4 q_i^2 - 1
    largest = max(range(4), key=squares.__getitem__)
    s = 2.0 * math.sqrt(1.0 + squares[largest])  # 4 |q_largest|
    if largest == 0:
        wxyz = (0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s)
    elif largest == 1:
        wxyz = ((m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s)
    elif largest == 2:
        wxyz = ((m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s)
    else:
        wxyz = ((m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s)
    norm = math.sqrt(sum(c * c for c in wxyz))
    return _xyzw_with_positive_w(np.array(wxyz) / norm)


def rotation_from_quaternion(quaternion_xyzw: np.ndarray) -> np.ndarray:
    """Quaternion (x, y, z, w), normalised first -> 3x3 rotation."""
    x, y, z, w = quaternion_xyzw
    return quat2mat([w, x, y, z])


def compose_quaternions(first_xyzw: np.ndarray, second_xyzw: np.ndarray) -> np.ndarray:
    """Quaternion of R(first) @ R(second), (x, y, z, w), w >= 0."""
    return _xyzw_with_positive_w(qmult(first_xyzw[[3, 0, 1, 2]], second_xyzw[[3, 0, 1, 2]]))


def frame_axes(transform: np.ndarray, length: float) -> np.ndarray:
    """(4, 3) points of a frame drawn as axes: its origin, then the ends of its x, y and z axes of `length`,
    in the parent frame of the 4x4 `transform`."""
    origin = transform[:3, 3]
    return np.vstack([origin, origin + length * transform[:3, :3].T])


def pose_from_matrix(transform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4x4 rigid transform -> (position (3,), quaternion (x, y, z, w))."""
    return transform[:3, 3].copy(), quaternion_from_rotation(transform[:3, :3])


def matrix_from_pose(position: np.ndarray, quaternion_xyzw: np.ndarray) -> np.ndarray:
    """(position, quaternion (x, y, z, w)) -> 4x4 rigid transform."""
    transform = np.eye(4)
    transform[:3, :3] = rotation_from_quaternion(quaternion_xyzw)
    transform[:3, 3] = position
    return transform
