"""Drawing face landmarks on images, compatible with MediaPipe's drawing_utils / drawing_styles.

Colors are (B, G, R) tuples as in MediaPipe (its examples draw on BGR images); they are written to the
image's channels as given. Points outside [0, 1] are skipped; pixel = min(floor(x * W), W - 1). Lines are
drawn first, then circles. Lines sharing a style go to OpenCV in one polylines call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from facemesh_ros.connections import (
    FACEMESH_FACE_OVAL,
    FACEMESH_LEFT_EYE,
    FACEMESH_LEFT_EYEBROW,
    FACEMESH_LEFT_IRIS,
    FACEMESH_LIPS,
    FACEMESH_RIGHT_EYE,
    FACEMESH_RIGHT_EYEBROW,
    FACEMESH_RIGHT_IRIS,
    Connections,
)

WHITE_COLOR = (224, 224, 224)
BLACK_COLOR = (0, 0, 0)
RED_COLOR = (0, 0, 255)
GREEN_COLOR = (0, 128, 0)
BLUE_COLOR = (255, 0, 0)
GRAY_COLOR = (128, 128, 128)
_RED = (48, 48, 255)
_GREEN = (48, 255, 48)


@dataclass(frozen=True)
class DrawingSpec:
    """Color (B, G, R), line thickness and landmark circle radius in pixels."""

    color: tuple[int, int, int] = WHITE_COLOR
    thickness: int = 2
    circle_radius: int = 2


# A spec for every landmark / connection, or one per landmark index / (start, end) pair (None: not drawn).
LandmarkSpec = DrawingSpec | Mapping[int, DrawingSpec] | None
ConnectionSpec = DrawingSpec | Mapping[tuple[int, int], DrawingSpec] | None


def landmarks_to_array(landmark_list: object) -> np.ndarray:
    """(N, 2+) float array from a numpy array, a MediaPipe-style object with .landmark, or a sequence."""
    if isinstance(landmark_list, np.ndarray):
        points = landmark_list
    elif hasattr(landmark_list, "landmark"):
        points = np.array([(p.x, p.y) for p in landmark_list.landmark], np.float64).reshape(-1, 2)
    else:
        raise ValueError("landmark_list must be an (N, 2|3) array or an object with .landmark")
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"landmarks must have shape (N, 2) or (N, 3), got {points.shape}")
    return points[:, :2]


def to_pixels(points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel positions (N, 2) and a mask of the points inside [0, 1] (others are not drawn)."""
    xy = np.asarray(points, np.float64)
    tolerance = 1e-9
    valid = np.all((xy >= -tolerance) & (xy <= 1 + tolerance), axis=1) & np.all(np.isfinite(xy), axis=1)
    pixels = np.floor(np.nan_to_num(xy) * (width, height)).astype(np.int64)
    pixels = np.clip(pixels, 0, (width - 1, height - 1))
    return pixels.astype(np.int32), valid


def _spec_for(spec: LandmarkSpec | ConnectionSpec, key: Any) -> DrawingSpec | None:
    if spec is None or isinstance(spec, DrawingSpec):
        return spec
    return spec.get(key)


def draw_landmarks(
    image: np.ndarray,
    landmark_list: object,
    connections: Iterable[tuple[int, int]] | None = None,
    landmark_drawing_spec: LandmarkSpec = DrawingSpec(color=RED_COLOR),
    connection_drawing_spec: ConnectionSpec = DrawingSpec(),
    is_drawing_landmarks: bool = True,
) -> None:
    """Draw one face's landmarks and connections on `image` (H x W x 3 uint8, modified in place).

    landmark_list: a face from result.multi_face_landmarks, or an (N, 2|3) normalized array such as
    result.landmarks[i]. Specs may be a DrawingSpec or a dict {connection or landmark index: DrawingSpec}
    (like MediaPipe's default styles).
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("image must be an H x W x 3 uint8 array")
    height, width = image.shape[:2]
    pixels, valid = to_pixels(landmarks_to_array(landmark_list), width, height)
    count = len(pixels)
    if connections:
        groups: dict[DrawingSpec, list[tuple[int, int]]] = {}
        for edge in connections:
            start, end = edge
            if not (0 <= start < count and 0 <= end < count):
                raise ValueError(f"connection {edge} refers to a landmark outside 0..{count - 1}")
            spec = _spec_for(connection_drawing_spec, edge)
            if spec is not None and valid[start] and valid[end]:
                groups.setdefault(spec, []).append(edge)
        for spec, edges in groups.items():
            segments = pixels[np.array(edges)]  # (E, 2 points, 2)
            cv2.polylines(image, list(segments), False, spec.color, spec.thickness)
    if is_drawing_landmarks and landmark_drawing_spec is not None:
        for index in np.nonzero(valid)[0]:
            spec = _spec_for(landmark_drawing_spec, int(index))
            if spec is None:
                continue
            center = (int(pixels[index, 0]), int(pixels[index, 1]))
            border = max(spec.circle_radius + 1, int(spec.circle_radius * 1.2))
            cv2.circle(image, center, border, WHITE_COLOR, spec.thickness)
            cv2.circle(image, center, spec.circle_radius, spec.color, spec.thickness)


def _style(groups: Iterable[tuple[Connections, DrawingSpec]]) -> dict[tuple[int, int], DrawingSpec]:
    return {edge: spec for connections, spec in groups for edge in connections}


def get_default_face_mesh_tesselation_style() -> DrawingSpec:
    """MediaPipe's tesselation style: thin gray lines."""
    return DrawingSpec(color=GRAY_COLOR, thickness=1)


def get_default_face_mesh_contours_style(i: int = 0) -> dict[tuple[int, int], DrawingSpec]:
    """Contours: lips and oval white, subject's left eye/brow green, right red (MediaPipe's style 0)."""
    if i != 0:
        raise ValueError(f"only contours style 0 is provided, got {i}")
    left = DrawingSpec(color=_GREEN, thickness=2)
    right = DrawingSpec(color=_RED, thickness=2)
    plain = DrawingSpec(color=WHITE_COLOR, thickness=2)
    return _style(
        [
            (FACEMESH_LIPS, plain),
            (FACEMESH_LEFT_EYE, left),
            (FACEMESH_LEFT_EYEBROW, left),
            (FACEMESH_RIGHT_EYE, right),
            (FACEMESH_RIGHT_EYEBROW, right),
            (FACEMESH_FACE_OVAL, plain),
        ]
    )


def get_default_face_mesh_iris_connections_style() -> dict[tuple[int, int], DrawingSpec]:
    """MediaPipe's iris style: each iris ring in its eye's colour."""
    return _style(
        [
            (FACEMESH_LEFT_IRIS, DrawingSpec(color=_GREEN, thickness=2)),
            (FACEMESH_RIGHT_IRIS, DrawingSpec(color=_RED, thickness=2)),
        ]
    )
