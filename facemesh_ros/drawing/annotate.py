"""The annotated frame: mesh, contours and irises of every face, its track id, distance and head axes.

Library code (no ROS): the node publishes it as ~/annotated, the demo writes it to video.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facemesh_ros.connections import FACEMESH_CONTOURS, FACEMESH_IRISES, FACEMESH_TESSELATION
from facemesh_ros.drawing.drawing_utils import (
    draw_landmarks,
    get_default_face_mesh_contours_style,
    get_default_face_mesh_iris_connections_style,
    get_default_face_mesh_tesselation_style,
)
from facemesh_ros.geometry import Camera, FaceGeometry
from facemesh_ros.geometry.frames import frame_axes
from facemesh_ros.types import NUM_LANDMARKS_WITH_IRISES, FaceMeshResult

AXIS_LENGTH_M = 0.08  # head axes drawn in the image and as RViz markers
AXIS_COLORS_BGR = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # face frame x red, y green, z blue
_TESSELATION = get_default_face_mesh_tesselation_style()
_CONTOURS = get_default_face_mesh_contours_style()
_IRISES = get_default_face_mesh_iris_connections_style()


def annotate(
    rgb: np.ndarray,
    result: FaceMeshResult,
    geometries: Sequence[FaceGeometry | None],
    camera: Camera,
    *,
    draw_tesselation: bool = True,
    draw_axes: bool = True,
) -> np.ndarray:
    """A BGR copy of `rgb` with every face drawn (MediaPipe's default styles; ids, distance, pose axes)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for landmarks, track_id, geometry in zip(result.landmarks, result.track_ids.tolist(), geometries, strict=True):
        if draw_tesselation:
            draw_landmarks(bgr, landmarks, FACEMESH_TESSELATION, None, _TESSELATION)
        draw_landmarks(bgr, landmarks, FACEMESH_CONTOURS, None, _CONTOURS)
        if len(landmarks) == NUM_LANDMARKS_WITH_IRISES:
            draw_landmarks(bgr, landmarks, FACEMESH_IRISES, None, _IRISES)
        label = f"id {track_id}"
        if geometry is not None:
            label += f"  {geometry.distance:.2f} m"
            if draw_axes:
                _draw_axes(bgr, geometry.face_to_optical, camera)
        _draw_label(bgr, landmarks, label)
    return bgr


def _draw_axes(bgr: np.ndarray, face_to_optical: np.ndarray, camera: Camera) -> None:
    points = frame_axes(face_to_optical, AXIS_LENGTH_M)
    if (points[:, 2] <= 0).any():
        return  # behind the camera: nothing sensible to draw
    pixels = camera.optical_to_pixels(points)
    pixels = np.round(pixels.reshape(-1, 2)).astype(np.int32)
    for axis, color in enumerate(AXIS_COLORS_BGR):
        cv2.line(bgr, tuple(pixels[0].tolist()), tuple(pixels[axis + 1].tolist()), color, 2, cv2.LINE_AA)


def _draw_label(bgr: np.ndarray, landmarks: np.ndarray, text: str) -> None:
    height, width = bgr.shape[:2]
    x = int(np.clip(landmarks[:, 0].min() * width, 0, width - 1))
    y = int(np.clip(landmarks[:, 1].min() * height - 8, 12, height - 1))
    cv2.putText(bgr, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(bgr, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
