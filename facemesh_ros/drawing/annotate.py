"""The annotated frame: mesh, contours and irises of every face, its track id, distance and head axes, and
its strongest blendshapes as bars when the result has them.

Library code (no ROS): the node publishes it as ~/annotated, the demo writes it to video.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facemesh_ros import connections
from facemesh_ros.connections import FACEMESH_CONTOURS, FACEMESH_IRISES
from facemesh_ros.drawing.drawing_utils import (
    draw_landmarks,
    get_default_face_mesh_contours_style,
    get_default_face_mesh_iris_connections_style,
    get_default_face_mesh_tesselation_style,
)
from facemesh_ros.geometry import Camera, FaceGeometry
from facemesh_ros.geometry.frames import frame_axes
from facemesh_ros.types import BLENDSHAPE_NAMES, NUM_LANDMARKS_WITH_IRISES, FaceMeshResult

AXIS_LENGTH_M = 0.08  # head axes drawn in the image and as RViz markers
AXIS_COLORS_BGR = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # face frame x red, y green, z blue
BAR_LENGTH_PX = 80  # a blendshape bar at score 1.0
BAR_HEIGHT_PX = 10
BAR_PITCH_PX = 16
BAR_TEXT_PX = 150  # room for "mouthSmileRight 0.97" right of a bar
BAR_COLOR_BGR = (0, 200, 255)
BAR_BACKGROUND_BGR = (60, 60, 60)
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
    blendshape_bars: int = 5,
) -> np.ndarray:
    """A BGR copy of `rgb` with every face drawn (MediaPipe's default styles; ids, distance, pose axes) and,
    when `result` has blendshapes, the `blendshape_bars` strongest of each face ("_neutral" left out)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for index, (landmarks, track_id, geometry) in enumerate(
        zip(result.landmarks, result.track_ids.tolist(), geometries, strict=True)
    ):
        if draw_tesselation:
            draw_landmarks(bgr, landmarks, connections.FACEMESH_TESSELATION, None, _TESSELATION)
        draw_landmarks(bgr, landmarks, FACEMESH_CONTOURS, None, _CONTOURS)
        if len(landmarks) == NUM_LANDMARKS_WITH_IRISES:
            draw_landmarks(bgr, landmarks, FACEMESH_IRISES, None, _IRISES)
        label = f"id {track_id}"
        if geometry is not None:
            label += f"  {geometry.distance:.2f} m"
            if draw_axes:
                _draw_axes(bgr, geometry.face_to_optical, camera)
        _draw_label(bgr, landmarks, label)
        if result.blendshapes is not None and blendshape_bars > 0:
            _draw_blendshapes(bgr, landmarks, result.blendshapes[index], BLENDSHAPE_NAMES, blendshape_bars)
    return bgr


def strongest_blendshapes(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest scores, highest first, leaving out index 0 ("_neutral")."""
    return np.argsort(-scores[1:], kind="stable")[:count] + 1


def _draw_blendshapes(
    bgr: np.ndarray, landmarks: np.ndarray, scores: np.ndarray, names: Sequence[str], count: int
) -> None:
    """Bars (length = score), name and score beside the face: right of it, or left where the image ends."""
    height, width = bgr.shape[:2]
    panel = BAR_LENGTH_PX + BAR_TEXT_PX
    right = int(landmarks[:, 0].max() * width) + 8
    x = right if right + panel <= width else max(int(landmarks[:, 0].min() * width) - 8 - panel, 0)
    top = int(np.clip(landmarks[:, 1].min() * height, 0, max(height - count * BAR_PITCH_PX, 0)))
    for row, k in enumerate(strongest_blendshapes(scores, count).tolist()):
        y = top + row * BAR_PITCH_PX
        filled = round(float(np.clip(scores[k], 0.0, 1.0)) * BAR_LENGTH_PX)
        cv2.rectangle(bgr, (x, y), (x + BAR_LENGTH_PX, y + BAR_HEIGHT_PX), BAR_BACKGROUND_BGR, cv2.FILLED)
        if filled:
            cv2.rectangle(bgr, (x, y), (x + filled, y + BAR_HEIGHT_PX), BAR_COLOR_BGR, cv2.FILLED)
        _draw_text(bgr, f"{names[k]} {scores[k]:.2f}", (x + BAR_LENGTH_PX + 4, y + BAR_HEIGHT_PX), 0.4)


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
    _draw_text(bgr, text, (x, y), 0.5)


def _draw_text(bgr: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    """White text with a black outline, readable on any background."""
    cv2.putText(bgr, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(bgr, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
