"""Screen landmarks -> metric face geometry (spec §5), for any pinhole camera.

1. Landmarks -> near-plane coordinates (camera.py); depth_offset = mean z of the 468 mesh points.
2. s1 = Procrustes scale of canonical -> near-plane points with z negated.
3. Unproject with scale s: depth = (z - depth_offset + near) / s, x *= depth / near, y *= depth / near,
   z = -depth; s2 = Procrustes scale of canonical -> unprojected(s1).
4. Metric landmarks = unprojected(s1 s2); pose = Procrustes canonical -> metric landmarks;
   runtime mesh = pose^-1 applied to the 468 metric mesh points (derived by FaceGeometry on use).
face_geometry_from_pose() is the way back from a published FaceMesh message (pose, scale, metric landmarks).
Steps 2-3 only need the 33 weighted basis points; every step is a few small numpy operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from facemesh_ros.types import LANDMARK_COUNTS

from .camera import Camera
from .errors import FailureReason, GeometryError
from .frames import (
    CM_PER_M,
    FACE_AXES_IN_CANONICAL,
    GAZE_AXES_IN_CANONICAL,
    MEDIAPIPE_TO_OPTICAL,
    compose_quaternions,
    frame_in_optical,
    matrix_from_pose,
    mediapipe_to_optical_points,
    optical_to_mediapipe_points,
    pose_from_matrix,
    quaternion_from_rotation,
)
from .model import NUM_VERTICES, CanonicalFaceModel, default_canonical_face_model
from .procrustes import Similarity

_FACE_TO_GAZE = FACE_AXES_IN_CANONICAL.T @ GAZE_AXES_IN_CANONICAL  # gaze axes in face-frame coordinates
_FACE_TO_GAZE_QUATERNION = quaternion_from_rotation(_FACE_TO_GAZE)

NEAR = 1.0  # MediaPipe's near plane, the one Camera.to_near_plane projects onto
MIN_SPREAD = 1e-3  # MediaPipe skips faces whose normalized xy points lie within this radius of their mean
SUPPORTED_COUNTS = LANDMARK_COUNTS
_FLIP_Z = np.array([1.0, 1.0, -1.0])
_MEAN_OF_MESH = np.full(NUM_VERTICES, 1.0 / NUM_VERTICES)  # a dot product is the fastest mean here


@dataclass(frozen=True)
class FaceGeometry:
    """One face's metric geometry, in MediaPipe's convention and in ROS's (see frames.py).

    Holds what cannot be derived (the Procrustes pose, the metric landmarks, the canonical model); the runtime
    mesh and the REP-155 face and gaze frames follow from them and are computed on first use.
    """

    pose: Similarity  # canonical face (cm) -> MediaPipe metric space (cm)
    metric_landmarks: np.ndarray  # (N, 3) cm, MediaPipe metric space (camera looks down -z, y up)
    model: CanonicalFaceModel

    @property
    def pose_matrix(self) -> np.ndarray:
        """4x4 canonical face (cm) -> MediaPipe metric space (cm), scale included (MediaPipe's pose)."""
        return self.pose.matrix

    @cached_property
    def mesh_vertices(self) -> np.ndarray:
        """(468, 3) cm: the runtime face in canonical space (pose^-1 of the metric mesh points)."""
        return self.pose.apply_inverse(self.metric_landmarks[:NUM_VERTICES])

    @property
    def mesh_uvs(self) -> np.ndarray:
        return self.model.uvs

    @property
    def mesh_triangles(self) -> np.ndarray:
        return self.model.triangles

    @cached_property
    def face_to_optical(self) -> np.ndarray:
        """4x4, metres: the REP-155 face frame (origin at the sellion) -> the camera optical frame."""
        return frame_in_optical(self.pose.rotation, self.pose.apply(self.model.sellion), FACE_AXES_IN_CANONICAL)

    @cached_property
    def gaze_to_optical(self) -> np.ndarray:
        """4x4, metres: the REP-155 gaze frame (same origin, optical axes convention) -> the optical frame."""
        gaze = self.face_to_optical.copy()
        gaze[:3, :3] = gaze[:3, :3] @ _FACE_TO_GAZE
        return gaze

    @cached_property
    def position(self) -> np.ndarray:
        """(3,) m: the face frame origin (sellion) in the optical frame."""
        return self.face_to_optical[:3, 3].copy()

    @cached_property
    def orientation(self) -> np.ndarray:
        """(4,) quaternion (x, y, z, w) of the face frame in the optical frame."""
        return pose_from_matrix(self.face_to_optical)[1]

    @cached_property
    def gaze_orientation(self) -> np.ndarray:
        """(4,) quaternion (x, y, z, w) of the gaze frame in the optical frame."""
        return compose_quaternions(self.orientation, _FACE_TO_GAZE_QUATERNION)

    @cached_property
    def metric_landmarks_optical(self) -> np.ndarray:
        """(N, 3) landmarks in metres in the camera optical frame (read-only: computed once, shared)."""
        points = mediapipe_to_optical_points(self.metric_landmarks)
        points.flags.writeable = False
        return points

    @property
    def gaze_position(self) -> np.ndarray:
        return self.gaze_to_optical[:3, 3].copy()

    @property
    def distance(self) -> float:
        """Camera -> sellion distance in metres."""
        return float(np.linalg.norm(self.position))


def checked_face_geometry(pose: Similarity, metric_landmarks: np.ndarray, model: CanonicalFaceModel) -> FaceGeometry:
    """A FaceGeometry, or GeometryError(SOLVER_FAILED) when the pose or the landmarks are not finite."""
    finite_pose = np.isfinite(pose.scale) and np.isfinite(pose.rotation).all() and np.isfinite(pose.translation).all()
    if not (finite_pose and pose.scale > 0 and np.isfinite(metric_landmarks).all()):
        raise GeometryError(FailureReason.SOLVER_FAILED, "non-finite pose")
    return FaceGeometry(pose, metric_landmarks, model)


def face_geometry_from_pose(
    position: Any,
    orientation: Any,
    scale: float,
    metric_landmarks_optical: Any,
    *,
    model: CanonicalFaceModel | None = None,
) -> FaceGeometry:
    """The FaceGeometry a FaceMesh message describes: the REP-155 face frame in the optical frame (position in
    metres, quaternion x, y, z, w), the Procrustes scale and the metric landmarks (N, 3) in metres, optical.

    The inverse of what the node publishes, so whatever consumes the message (effects, markers) shows the
    same, possibly smoothed, pose as /tf. Raises GeometryError (BAD_SHAPE, SOLVER_FAILED) for unusable input.
    """
    model = model or default_canonical_face_model()
    flat = np.asarray(metric_landmarks_optical, dtype=np.float64).ravel()
    if flat.size not in [3 * count for count in SUPPORTED_COUNTS]:
        raise GeometryError(
            FailureReason.BAD_SHAPE, f"metric landmarks must be 468 or 478 points, got {flat.size} values"
        )
    if not np.isfinite(flat).all():
        raise GeometryError(FailureReason.NON_FINITE, "metric landmarks contain NaN or inf")
    metric = optical_to_mediapipe_points(flat.reshape(-1, 3))
    pose_values = np.array([*np.ravel(position), *np.ravel(orientation), scale], dtype=np.float64)
    if pose_values.size != 8 or not np.isfinite(pose_values).all():
        raise GeometryError(FailureReason.SOLVER_FAILED, f"non-finite pose: {pose_values}")
    face_to_optical = matrix_from_pose(np.asarray(position, np.float64), np.asarray(orientation, np.float64))
    # face_to_optical = [M R F, M origin / 100] (frames.frame_in_optical): undo the axis changes
    rotation = MEDIAPIPE_TO_OPTICAL.T @ face_to_optical[:3, :3] @ FACE_AXES_IN_CANONICAL.T
    origin_cm = MEDIAPIPE_TO_OPTICAL.T @ face_to_optical[:3, 3] * CM_PER_M
    scale = float(scale)
    pose = Similarity(scale, rotation, origin_cm - scale * (rotation @ model.sellion))
    return checked_face_geometry(pose, metric, model)


def face_geometry_from_message(face: Any, *, model: CanonicalFaceModel | None = None) -> FaceGeometry:
    """The FaceGeometry of a facemesh_ros/FaceMesh message (duck-typed: has_pose, pose, scale, metric_landmarks).

    GeometryError with reason NO_POSE when the message carries no geometry (has_pose false)."""
    if not face.has_pose:
        raise GeometryError(FailureReason.NO_POSE, "the face has no geometry (has_pose false)")
    position, orientation = face.pose.position, face.pose.orientation
    return face_geometry_from_pose(
        (position.x, position.y, position.z),
        (orientation.x, orientation.y, orientation.z, orientation.w),
        face.scale,
        face.metric_landmarks,
        model=model,
    )


def estimate_face_geometry(
    landmarks: Any, camera: Camera, *, model: CanonicalFaceModel | None = None, raise_on_failure: bool = False
) -> FaceGeometry | None:
    """(N, 3) MediaPipe normalized landmarks (N = 468 or 478; x, y / image size, z in image-width units) seen
    by `camera` -> FaceGeometry, or None when the input is degenerate. With raise_on_failure=True a
    GeometryError whose `reason` (FailureReason) says why is raised instead of returning None.

    `landmarks`: an array-like (float32 or float64) or a NormalizedLandmarkList (`.landmark[i].x/.y/.z`).
    The camera's width/height only set the pixel scale of the normalized coordinates, so landmarks from a
    resized copy of the camera's image need no other camera (up to the half-pixel convention).
    Thread-safe: no state is kept between calls."""
    try:
        return _estimate(landmarks, camera, model or default_canonical_face_model())
    except GeometryError:
        if raise_on_failure:
            raise
        return None


def _estimate(landmarks: np.ndarray, camera: Camera, model: CanonicalFaceModel) -> FaceGeometry:
    points = _checked_landmarks(landmarks)
    if not isinstance(camera, Camera):
        raise GeometryError(FailureReason.INVALID_CAMERA, f"expected a Camera, got {type(camera).__name__}")
    screen = camera.to_near_plane(points)
    depth_offset = float(_MEAN_OF_MESH @ screen[:NUM_VERTICES, 2])
    solver = model.procrustes
    basis = screen[solver.basis_index]
    first_scale = solver.scale_basis(basis * _FLIP_Z)
    second_scale = solver.scale_basis(_unproject(basis, depth_offset, first_scale))
    metric = _unproject(screen, depth_offset, first_scale * second_scale)
    if not metric[:, 2].max() < 0:
        raise GeometryError(FailureReason.BEHIND_CAMERA, "recovered depths not all in front of the camera")
    pose = solver.fit_basis(metric[solver.basis_index])
    return checked_face_geometry(pose, metric, model)


def _checked_landmarks(landmarks: Any) -> np.ndarray:
    if hasattr(landmarks, "landmark"):  # a MediaPipe-style NormalizedLandmarkList
        landmarks = [(p.x, p.y, p.z) for p in landmarks.landmark]
    try:
        points = np.asarray(landmarks, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise GeometryError(FailureReason.BAD_SHAPE, f"landmarks are not numeric: {error}") from None
    if points.ndim != 2 or points.shape[0] not in SUPPORTED_COUNTS or points.shape[1] != 3:
        raise GeometryError(FailureReason.BAD_SHAPE, f"landmarks must be (468, 3) or (478, 3), got {points.shape}")
    if not np.isfinite(points).all():
        raise GeometryError(FailureReason.NON_FINITE, "landmarks contain NaN or inf")
    xy = points[:NUM_VERTICES, :2]
    centred = xy - _MEAN_OF_MESH @ xy
    spread = float(np.sqrt(np.einsum("ij,ij->i", centred, centred).max()))
    if spread <= MIN_SPREAD:
        raise GeometryError(FailureReason.TOO_COMPACT, f"landmark xy spread {spread:.2e} <= {MIN_SPREAD}")
    return points


def _unproject(screen: np.ndarray, depth_offset: float, scale: float) -> np.ndarray:
    """Near-plane points -> MediaPipe metric points (face at negative z) for a given total scale."""
    depth = (screen[:, 2:] - (depth_offset - NEAR)) * (1.0 / scale)  # (N, 1)
    metric = screen * (depth * (1.0 / NEAR))
    metric[:, 2:] = -depth
    return metric
