"""Drawing on images (OpenCV, no ROS): MediaPipe's drawing_utils / drawing_styles API, and the annotated frame.

drawing_utils  draw_landmarks, DrawingSpec and MediaPipe's default face mesh styles
annotate       the node's ~/annotated image: mesh, contours, irises, track ids, distance and head axes
"""

from .drawing_utils import (
    BLACK_COLOR,
    BLUE_COLOR,
    GRAY_COLOR,
    GREEN_COLOR,
    RED_COLOR,
    WHITE_COLOR,
    DrawingSpec,
    draw_landmarks,
    get_default_face_mesh_contours_style,
    get_default_face_mesh_iris_connections_style,
    get_default_face_mesh_tesselation_style,
    landmarks_to_array,
    to_pixels,
)

__all__ = [
    "BLACK_COLOR",
    "BLUE_COLOR",
    "GRAY_COLOR",
    "GREEN_COLOR",
    "RED_COLOR",
    "WHITE_COLOR",
    "DrawingSpec",
    "draw_landmarks",
    "get_default_face_mesh_contours_style",
    "get_default_face_mesh_iris_connections_style",
    "get_default_face_mesh_tesselation_style",
    "landmarks_to_array",
    "to_pixels",
]
