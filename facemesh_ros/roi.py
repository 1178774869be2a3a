"""Face regions of interest: rotated squares in image-normalized coordinates, as MediaPipe builds them.

A ROI array has shape (R, 5): x_center, y_center, width, height (normalized by image width / height, so a
square in pixels has width * W == height * H) and rotation in radians (clockwise in image space, y down).
"""

from __future__ import annotations

import numpy as np

from facemesh_ros.types import Detections

ROI_SCALE = 1.5
ASSOCIATION_IOU = 0.5
RIGHT_EYE_OUTER = 33  # landmark indices that set the in-plane rotation while tracking
LEFT_EYE_OUTER = 263


def normalize_radians(angle: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return angle - 2.0 * np.pi * np.floor((angle + np.pi) / (2.0 * np.pi))


# MediaPipe computes ROIs in float32; the same rounding keeps tracking on MediaPipe's trajectory (every
# difference is fed back into the next frame's crop), so these helpers work in float32 on purpose.
_F32 = np.float32


def _rotation(start: np.ndarray, end: np.ndarray, width: int, height: int) -> np.ndarray:
    """Rotation that makes the start -> end vector horizontal (pixels), per face; start/end are (R, 2)."""
    x0, y0 = start[:, 0] * _F32(width), start[:, 1] * _F32(height)
    x1, y1 = end[:, 0] * _F32(width), end[:, 1] * _F32(height)
    angle = -np.arctan2(-(y1 - y0), x1 - x0)
    return normalize_radians(angle.astype(np.float64)).astype(np.float32)


def _square_rois(
    xmin: np.ndarray,
    ymin: np.ndarray,
    box_w: np.ndarray,
    box_h: np.ndarray,
    rotation: np.ndarray,
    width: int,
    height: int,
) -> np.ndarray:
    """Boxes -> ROIs: same centre, square on the long side in pixels, scaled by 1.5 (float32 throughout)."""
    center_x = xmin + box_w / _F32(2.0)
    center_y = ymin + box_h / _F32(2.0)
    long_side = np.maximum(box_w * _F32(width), box_h * _F32(height))
    roi_w = long_side / _F32(width) * _F32(ROI_SCALE)
    roi_h = long_side / _F32(height) * _F32(ROI_SCALE)
    rotation = normalize_radians(rotation.astype(np.float64)).astype(np.float32)
    return np.stack([center_x, center_y, roi_w, roi_h, rotation], axis=1).astype(np.float32)


def landmark_bounds(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Low and high corners (..., k) of each set of points (..., N, k): the min and max over the N points.
    The values of points.min(axis=-2), but numpy reduces over a long last axis several times faster than
    over one whose elements are k apart."""
    coordinates = np.ascontiguousarray(np.swapaxes(points, -1, -2))
    return coordinates.min(axis=-1), coordinates.max(axis=-1)


def rois_from_detections(detections: Detections, width: int, height: int) -> np.ndarray:
    """Landmark ROIs from detector boxes, rotated by the right-eye -> left-eye keypoint direction."""
    if len(detections) == 0:
        return np.zeros((0, 5), np.float32)
    boxes = detections.boxes.astype(np.float32)
    keypoints = detections.keypoints.astype(np.float32)
    rotation = _rotation(keypoints[:, 0], keypoints[:, 1], width, height)
    return _square_rois(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], rotation, width, height)


def rois_from_landmarks(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Next-frame ROIs from image-normalized landmarks (F, N, 3): their bounding box, rotated by 33 -> 263."""
    if len(landmarks) == 0:
        return np.zeros((0, 5), np.float32)
    xy = landmarks[:, :, :2].astype(np.float32)
    low, high = landmark_bounds(xy)
    size = high - low
    rotation = _rotation(xy[:, RIGHT_EYE_OUTER], xy[:, LEFT_EYE_OUTER], width, height)
    return _square_rois(low[:, 0], low[:, 1], size[:, 0], size[:, 1], rotation, width, height)


def roi_intersection(roi: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Axis-aligned intersection area (rotation ignored) of one ROI with each of (M, 5) ROIs."""
    half, halves = roi[2:4] * 0.5, rois[:, 2:4] * 0.5
    low = np.maximum(roi[:2] - half, rois[:, :2] - halves)
    high = np.minimum(roi[:2] + half, rois[:, :2] + halves)
    return np.prod(np.clip(high - low, 0.0, None), axis=1)


def roi_iou(roi: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Axis-aligned IoU (rotation ignored, as MediaPipe's association) of one ROI against (M, 5) ROIs."""
    inter = roi_intersection(roi, rois)
    union = roi[2] * roi[3] + rois[:, 2] * rois[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def associate_rois(
    detection_rois: np.ndarray,
    previous_rois: np.ndarray,
    threshold: float = ASSOCIATION_IOU,
    detections_win: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge detection ROIs with last frame's ROIs; a later ROI replaces every earlier one it overlaps.

    ROIs are added in order (detections, then previous), each first removing the kept ROIs with IoU >
    threshold, so a tracked face wins over the detection of the same face. detections_win=True adds them
    the other way round (MediaPipe Tasks' FaceLandmarker: a detection replaces the tracked ROI).
    Returns the merged ROIs (R, 5) and, per ROI, the index into previous_rois (-1 if from a detection).
    """
    parts = [(detection_rois, np.full(len(detection_rois), -1)), (previous_rois, np.arange(len(previous_rois)))]
    if detections_win:
        parts.reverse()
    candidates = np.concatenate([rois for rois, _ in parts]).astype(np.float32)
    origin = np.concatenate([index for _, index in parts])
    kept: list[int] = []
    for index in range(len(candidates)):
        if kept:
            iou = roi_iou(candidates[index], candidates[kept])
            kept = [k for k, overlap in zip(kept, iou, strict=True) if overlap <= threshold]
        kept.append(index)
    kept_array = np.array(kept, dtype=np.int64)
    return candidates[kept_array].reshape(-1, 5), origin[kept_array].astype(np.int64)
