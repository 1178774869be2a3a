"""Face landmark model: 192x192 rotated crops of every ROI in one batch, decode, refinement, projection."""

from __future__ import annotations

import cv2
import numpy as np

from facemesh_ros.image import rect_inverse, resample
from facemesh_ros.inference import OnnxModel, scores_from_logits
from facemesh_ros.types import (
    LEFT_IRIS_START,
    NUM_LANDMARKS_WITH_IRISES,
    NUM_MESH_LANDMARKS,
    RIGHT_IRIS_START,
    num_landmarks,
)

INPUT_SIZE = 192

# Mesh indices that the attention model's refinement heads overwrite (x, y only), in tensor order. The
# model names its heads from the viewer's side ("left_eye" is around landmark 33); these names are the
# subject's sides, as FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE in connections.py.
# fmt: off
LIPS_INDICES = np.array([
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78, 95, 88,
    178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415, 76, 77, 90, 180, 85, 16,
    315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408, 62, 96, 89, 179, 86, 15, 316, 403, 319,
    325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407,
])
RIGHT_EYE_INDICES = np.array([  # the subject's right eye (around landmark 33): the model's "left_eye" head
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24, 23, 22,
    26, 112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224,
    223, 222, 221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245, 156, 70, 63,
    105, 66, 107, 55, 193,
])
LEFT_EYE_INDICES = np.array([  # the subject's left eye (around landmark 263): the model's "right_eye" head
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339, 254, 253,
    252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451, 452, 453, 464, 342,
    445, 444, 443, 442, 441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
    383, 300, 293, 334, 296, 336, 285, 417,
])
# fmt: on
# Output head -> the mesh indices it overwrites.
EYE_AND_LIP_HEADS = (("lips", LIPS_INDICES), ("left_eye", RIGHT_EYE_INDICES), ("right_eye", LEFT_EYE_INDICES))
# Iris head -> its first landmark and the eye contour (first 16 of the eye list) whose mean depth it gets.
IRIS_HEADS = (
    ("left_iris", RIGHT_IRIS_START, RIGHT_EYE_INDICES[:16]),
    ("right_iris", LEFT_IRIS_START, LEFT_EYE_INDICES[:16]),
)

_UNIT_SCALE = np.float32(1.0 / 255.0)  # MediaPipe's convertTo scale: value = pixel * float(1/255)


def _pixel_rects(rois: np.ndarray, width: int, height: int) -> list[tuple[float, float, float, float, float]]:
    """Normalized ROIs -> pixel rectangles, in float32 as MediaPipe (normalized value * image size)."""
    f32 = np.float32
    return [
        (cx * f32(width), cy * f32(height), w * f32(width), h * f32(height), angle)
        for cx, cy, w, h, angle in rois.astype(np.float32)
    ]


def crop_rois(rgb: np.ndarray, rois: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """(F, size, size, 3) float32 batch in [0, 1]: bilinear rotated crops, border pixels replicated."""
    height, width = rgb.shape[:2]
    crops = np.empty((len(rois), size, size, 3), np.uint8)
    for index, rect in enumerate(_pixel_rects(rois, width, height)):
        resample(rgb, rect_inverse(*rect, size), size, cv2.BORDER_REPLICATE, out=crops[index])
    return np.multiply(crops, _UNIT_SCALE, dtype=np.float32)


def project_to_image(points: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """ROI-normalized landmarks (F, N, 3) -> image-normalized; z is scaled by the ROI width like x."""
    u = points[:, :, 0] - np.float32(0.5)
    v = points[:, :, 1] - np.float32(0.5)
    cos = np.cos(rois[:, 4:5]).astype(np.float32)
    sin = np.sin(rois[:, 4:5]).astype(np.float32)
    width, height = rois[:, 2:3], rois[:, 3:4]
    out = np.empty_like(points)
    out[:, :, 0] = (cos * u - sin * v) * width + rois[:, 0:1]
    out[:, :, 1] = (sin * u + cos * v) * height + rois[:, 1:2]
    out[:, :, 2] = points[:, :, 2] * width
    return out


def refine_with_attention(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """478 ROI-normalized landmarks from the attention model's heads (mesh, lips, eyes, irises)."""
    count = len(outputs["landmarks"])
    scale = np.float32(INPUT_SIZE)  # divided, not multiplied by 1/192: MediaPipe's rounding
    points = np.empty((count, NUM_LANDMARKS_WITH_IRISES, 3), np.float32)
    points[:, :NUM_MESH_LANDMARKS] = outputs["landmarks"].reshape(count, NUM_MESH_LANDMARKS, 3) / scale
    for name, indices in EYE_AND_LIP_HEADS:
        points[:, indices, :2] = outputs[name].reshape(count, -1, 2) / scale
    for name, start, depth_from in IRIS_HEADS:
        points[:, start : start + 5, :2] = outputs[name].reshape(count, 5, 2) / scale
        points[:, start : start + 5, 2] = points[:, depth_from, 2].mean(axis=1, keepdims=True)
    return points


class LandmarkModel:
    """468-point face mesh, or 478 points (refined lips, eyes, irises) with the attention model."""

    def __init__(self, refine: bool = False, device: str = "auto", threads: int | None = None) -> None:
        self.refine = refine
        name = "face_landmark_with_attention.onnx" if refine else "face_landmark.onnx"
        self.model = OnnxModel(name, device=device, threads=threads)
        self.num_landmarks = num_landmarks(refine)

    input_size = INPUT_SIZE

    def run(self, rgb: np.ndarray, rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks (F, N, 3) float32 image-normalized and face presence (F,) for ROIs (F, 5), one batch."""
        if len(rois) == 0:
            return np.zeros((0, self.num_landmarks, 3), np.float32), np.zeros(0, np.float32)
        outputs = self.model.run(crop_rois(rgb, rois))
        if self.refine:
            points = refine_with_attention(outputs)
        else:
            points = outputs["landmarks"].reshape(len(rois), NUM_MESH_LANDMARKS, 3) / np.float32(INPUT_SIZE)
        presence = scores_from_logits(outputs["face_flag"].reshape(-1))
        return project_to_image(points, rois.astype(np.float32)), presence.astype(np.float32)
