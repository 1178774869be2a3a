"""Tracking state between frames: last frame's face ROIs and stable track ids.

MediaPipe's rule: run the detector only while fewer than max_num_faces faces are tracked; merge detection
ROIs with the previous ROIs (a previous ROI replaces any detection ROI it overlaps with IoU > 0.5). A face
keeps its track id while its ROI is carried from frame to frame; a face found by the detector gets a new id.
MediaPipe Tasks' FaceLandmarker merges the other way round, a detection replacing the tracked ROI it
overlaps, with its min_tracking_confidence as the IoU threshold (detections_win, association_iou).
"""

from __future__ import annotations

import numpy as np

from facemesh_ros.roi import ASSOCIATION_IOU, associate_rois, rois_from_landmarks


class FaceTracker:
    """Holds the previous frame's ROIs and ids; in static mode nothing is carried over."""

    def __init__(
        self,
        max_num_faces: int,
        static_image_mode: bool,
        *,
        detections_win: bool = False,
        association_iou: float = ASSOCIATION_IOU,
    ) -> None:
        self.max_num_faces = max_num_faces
        self.static_image_mode = static_image_mode
        self.detections_win = detections_win  # MediaPipe Tasks: a detection replaces the tracked ROI
        self.association_iou = association_iou
        self.previous_rois = np.zeros((0, 5), np.float32)
        self.previous_ids = np.zeros(0, np.int64)
        self._next_id = 0

    def needs_detection(self) -> bool:
        return len(self.previous_rois) < self.max_num_faces

    def merge(self, detection_rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ROIs to run the landmark model on and their track ids (-1 = new face, id given on acceptance)."""
        rois, origin = associate_rois(detection_rois, self.previous_rois, self.association_iou, self.detections_win)
        ids = np.full(len(origin), -1, np.int64)
        carried = origin >= 0
        ids[carried] = self.previous_ids[origin[carried]]
        return rois, ids

    def update(self, landmarks: np.ndarray, ids: np.ndarray, width: int, height: int) -> np.ndarray:
        """Store the accepted faces' landmarks (F, N, 3) for the next frame; returns their final track ids."""
        new = ids < 0
        ids = ids.copy()
        ids[new] = self._next_id + np.arange(int(new.sum()))
        self._next_id += int(new.sum())
        if not self.static_image_mode:
            self.previous_rois = rois_from_landmarks(landmarks, width, height)
            self.previous_ids = ids
        return ids

    def reset(self) -> None:
        self.previous_rois = np.zeros((0, 5), np.float32)
        self.previous_ids = np.zeros(0, np.int64)
