"""Face Geometry: MediaPipe normalized landmarks + a real camera -> metric landmarks, head pose and the
runtime face mesh, in MediaPipe's convention (cm, camera looking down -z, y up) and in ROS's (metres,
optical frame, REP-155 face and gaze frames). No ROS imports: camera_info messages are duck-typed.

    from facemesh_ros.geometry import Camera, estimate_face_geometry
    cam = Camera.from_camera_info(msg, rectified=False)   # or from_intrinsics(...) / from_fov(63, W, H)
    g = estimate_face_geometry(landmarks, cam)            # None when degenerate (raise_on_failure=True: why)
"""

from .camera import MEDIAPIPE_VERTICAL_FOV_DEG, Camera
from .errors import FailureReason, GeometryError
from .frames import (
    matrix_from_pose,
    mediapipe_to_optical_points,
    optical_to_mediapipe_points,
    pose_from_matrix,
)
from .model import (
    SELLION_INDEX,
    CanonicalFaceModel,
    CanonicalModelError,
    default_canonical_face_model,
    load_canonical_face_model,
)
from .pipeline import FaceGeometry, estimate_face_geometry, face_geometry_from_message, face_geometry_from_pose
from .procrustes import Similarity, WeightedProcrustes, weighted_procrustes
from .smoothing import FaceGeometrySmoother, OneEuroFilter, TrackSmoothers

__all__ = [
    "MEDIAPIPE_VERTICAL_FOV_DEG",
    "SELLION_INDEX",
    "Camera",
    "CanonicalFaceModel",
    "CanonicalModelError",
    "FaceGeometry",
    "FaceGeometrySmoother",
    "FailureReason",
    "GeometryError",
    "OneEuroFilter",
    "Similarity",
    "TrackSmoothers",
    "WeightedProcrustes",
    "default_canonical_face_model",
    "estimate_face_geometry",
    "face_geometry_from_message",
    "face_geometry_from_pose",
    "load_canonical_face_model",
    "matrix_from_pose",
    "mediapipe_to_optical_points",
    "optical_to_mediapipe_points",
    "pose_from_matrix",
    "weighted_procrustes",
]
