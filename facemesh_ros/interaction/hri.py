"""ROS4HRI (REP-155) views of a face, without ROS: string ids, the 70 facial landmarks, ROI, face crops.

Face ids. REP-155 ids are strings, and they become topic names (/humans/faces/<id>/roi) and TF frames
(face_<id>, gaze_<id>). rclpy rejects a topic token that starts with a digit, so the numeric track id N of
FaceMesh.msg maps to the string "f<N>" (track 7 -> "f7", frames face_f7 / gaze_f7); hri_face_id() and
track_id_from_hri() are the two directions of that mapping.

Facial landmarks. hri_msgs/FacialLandmarks has dlib's 68 points (the OpenPose face order) plus the two
pupils. FACIAL_LANDMARK_MESH_INDICES picks, for each of the 68, the mesh vertex at the same anatomical place
(jaw line, eyebrows, nose bridge and nostrils, eye and lip contours). "Right" and "left" are the
subject's, as in dlib: the subject's right eye is on the image's left in a frontal view. The pupils are the
iris centres (468, 473) when the landmarks are refined, else the centres of the eye contours.
"""

from __future__ import annotations

import cv2
import numpy as np

HRI_ID_PREFIX = "f"
FACE_CROP_SIZE = 128  # hri_face_detect's cropped and aligned faces are 128 x 128
CROP_MARGIN = 0.2  # the crop's square grows the landmarks' box by this fraction on every side

# dlib / OpenPose order, 0..67 (hri_msgs/FacialLandmarks's constants)
FACIAL_LANDMARK_MESH_INDICES = np.array(
    [
        # 0-16 jaw line, subject's right ear -> menton (8) -> left ear
        127, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 356,
        # 17-21 right eyebrow outside -> inside, 22-26 left eyebrow inside -> outside (the brows' lower edge)
        46, 53, 52, 65, 55, 285, 295, 282, 283, 276,
        # 27-30 sellion down to the nose tip, 31-35 nostrils right -> left
        168, 197, 5, 1, 98, 97, 2, 326, 327,
        # 36-41 right eye: outside, top 1, top 2, inside, bottom 2, bottom 1
        33, 160, 158, 133, 153, 144,
        # 42-47 left eye: inside, top 2, top 1, outside, bottom 1, bottom 2
        362, 385, 387, 263, 373, 380,
        # 48-59 outer lips: right corner, top right -> left, left corner, bottom left -> right
        61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
        # 60-67 inner lips: right corner, top right -> left, left corner, bottom left -> right
        78, 81, 13, 311, 308, 402, 14, 178,
    ],
    dtype=np.int64,
)  # fmt: skip
RIGHT_PUPIL, LEFT_PUPIL = 68, 69
NUM_FACIAL_LANDMARKS = 70
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
RIGHT_EYE_CONTOUR = np.array([33, 160, 158, 133, 153, 144])
LEFT_EYE_CONTOUR = np.array([362, 385, 387, 263, 373, 380])
RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS = np.array([33, 133]), np.array([263, 362])
# the aligned face: eye centres on a horizontal line, at these fractions of the crop's size
ALIGNED_EYE_Y = 0.40
ALIGNED_EYE_X = (0.33, 0.67)  # subject's right eye (image left), left eye


def hri_face_id(track_id: int) -> str:
    """The REP-155 face id of a numeric track id: a valid topic token (starts with a letter)."""
    if track_id < 0:
        raise ValueError(f"track ids are >= 0, got {track_id}")
    return f"{HRI_ID_PREFIX}{int(track_id)}"


def track_id_from_hri(face_id: str) -> int:
    """The numeric track id (FaceMesh.msg's id) of a face id made by hri_face_id()."""
    digits = face_id[len(HRI_ID_PREFIX) :]
    if not face_id.startswith(HRI_ID_PREFIX) or not digits.isdigit():
        raise ValueError(f"not a facemesh_ros face id: {face_id!r} (expected '{HRI_ID_PREFIX}<track id>')")
    return int(digits)


def facial_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """(70, 2) normalized x, y of hri_msgs/FacialLandmarks from one face's (N, 2+) normalized mesh points."""
    points = np.asarray(landmarks, np.float32)[:, :2]
    if len(points) < 468:
        raise ValueError(f"a face mesh has 468 or 478 landmarks, got {len(points)}")
    result = np.empty((NUM_FACIAL_LANDMARKS, 2), np.float32)
    result[: len(FACIAL_LANDMARK_MESH_INDICES)] = points[FACIAL_LANDMARK_MESH_INDICES]
    if len(points) >= 478:
        result[RIGHT_PUPIL], result[LEFT_PUPIL] = points[RIGHT_IRIS_CENTER], points[LEFT_IRIS_CENTER]
    else:
        result[RIGHT_PUPIL] = points[RIGHT_EYE_CONTOUR].mean(axis=0)
        result[LEFT_PUPIL] = points[LEFT_EYE_CONTOUR].mean(axis=0)
    return result


def normalized_roi(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of one face's landmarks, normalized and clipped to [0, 1]."""
    points = np.clip(np.asarray(landmarks, np.float64)[:, :2], 0.0, 1.0)
    (xmin, ymin), (xmax, ymax) = points.min(axis=0), points.max(axis=0)
    return float(xmin), float(ymin), float(xmax), float(ymax)


def cropped_face(image: np.ndarray, landmarks: np.ndarray, size: int = FACE_CROP_SIZE) -> np.ndarray:
    """The face as a size x size image: the square around its landmarks' box, grown by CROP_MARGIN, axis
    aligned (as in the image); parts outside the image are black."""
    pixels = _pixels(image, landmarks)
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    side = float((high - low).max()) * (1.0 + 2.0 * CROP_MARGIN)
    center = (low + high) / 2.0
    scale = size / max(side, 1.0)
    transform = np.array([[scale, 0.0, size / 2.0 - scale * center[0]], [0.0, scale, size / 2.0 - scale * center[1]]])
    return cv2.warpAffine(image, transform, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)


def aligned_face(image: np.ndarray, landmarks: np.ndarray, size: int = FACE_CROP_SIZE) -> np.ndarray:
    """The face as a size x size image rotated and scaled so that the eyes are horizontal, at
    ALIGNED_EYE_X / ALIGNED_EYE_Y of the crop (a similarity transform; outside the image is black)."""
    pixels = _pixels(image, landmarks)
    right_eye = pixels[RIGHT_EYE_CORNERS].mean(axis=0)  # image left in a frontal view
    left_eye = pixels[LEFT_EYE_CORNERS].mean(axis=0)
    source = np.array([right_eye, left_eye])
    target = np.array([[x * size, ALIGNED_EYE_Y * size] for x in ALIGNED_EYE_X])
    transform = _similarity(source, target)
    return cv2.warpAffine(image, transform, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)


def _pixels(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    return np.asarray(landmarks, np.float64)[:, :2] * (width, height)


def _similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2x3 similarity (rotation, uniform scale, shift) taking the two source points onto the two targets."""
    source_vector, target_vector = source[1] - source[0], target[1] - target[0]
    # as complex numbers: target - t0 = k (source - s0), k = rotation and scale
    k = complex(*target_vector) / complex(*source_vector) if np.any(source_vector) else 1.0
    rotation = np.array([[k.real, -k.imag], [k.imag, k.real]])
    shift = target[0] - rotation @ source[0]
    return np.hstack([rotation, shift[:, None]])
