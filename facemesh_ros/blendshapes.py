"""MediaPipe's face blendshape model: 52 ARKit-style expression scores from 146 of the 478 landmarks.

The model (face_blendshapes.onnx, from MediaPipe Tasks' face_landmarker.task) takes [N, 146, 2] points in
image pixels (x * width, y * height of the image-normalized landmarks) and returns [N, 52] scores in [0, 1].
It was trained on the v2 landmark model's points: the legacy attention model's 478 points give wrong scores.
"""

from __future__ import annotations

import numpy as np

from facemesh_ros.types import BLENDSHAPE_NAMES, NUM_BLENDSHAPES, NUM_LANDMARKS_WITH_IRISES

__all__ = [
    "BLENDSHAPE_LANDMARKS",
    "BLENDSHAPE_NAMES",
    "NUM_BLENDSHAPES",
    "BlendshapeModel",
    "blendshape_input",
]

# The landmarks the model reads, in its input order (10 iris points 468..477 at the end).
# fmt: off
BLENDSHAPE_LANDMARKS = np.array([
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78,
    80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150,
    152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197,
    234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308,
    310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377,
    378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466,
    468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
])
# fmt: on


def blendshape_input(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """[F, 146, 2] float32 model input from image-normalized landmarks (F, 478, 3) of a width x height image."""
    if landmarks.ndim != 3 or landmarks.shape[1] != NUM_LANDMARKS_WITH_IRISES:
        raise ValueError(f"blendshapes need (F, {NUM_LANDMARKS_WITH_IRISES}, 3) landmarks, got {landmarks.shape}")
    scale = np.array([width, height], np.float32)
    return np.ascontiguousarray(landmarks[:, BLENDSHAPE_LANDMARKS, :2].astype(np.float32) * scale)


class BlendshapeModel:
    """The blendshape model on onnxruntime: all faces of a frame in one batch."""

    def __init__(self, device: str = "auto", threads: int | None = 1) -> None:
        from facemesh_ros.inference import OnnxModel  # here: the tables above stay importable without it

        self.model = OnnxModel("face_blendshapes.onnx", device=device, threads=threads)

    def run(self, landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
        """(F, 52) float32 scores for image-normalized v2 landmarks (F, 478, 3)."""
        points = blendshape_input(landmarks, width, height)
        if len(points) == 0:
            return np.zeros((0, NUM_BLENDSHAPES), np.float32)
        return self.model.run(points)["blendshapes"].astype(np.float32)
