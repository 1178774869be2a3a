"""MediaPipe Tasks FaceLandmarker's landmark model ("v2"): 478 points, irises included, from 256x256 crops.

Same ROIs, crop (bilinear, border replicated, RGB in [0, 1]) and projection as the legacy model; the model
itself regresses the 10 iris points, so there is no refinement step.
"""

from __future__ import annotations

import numpy as np

from facemesh_ros.inference import OnnxModel, scores_from_logits
from facemesh_ros.landmarks import crop_rois, project_to_image
from facemesh_ros.types import NUM_LANDMARKS_WITH_IRISES

INPUT_SIZE = 256


class LandmarkModelV2:
    """The v2 landmark model on onnxruntime, all ROIs of a frame in one batch (LandmarkModel's interface)."""

    num_landmarks = NUM_LANDMARKS_WITH_IRISES

    def __init__(self, device: str = "auto", threads: int | None = None) -> None:
        self.model = OnnxModel("face_landmark_v2.onnx", device=device, threads=threads)

    input_size = INPUT_SIZE

    def run(self, rgb: np.ndarray, rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks (F, 478, 3) float32 image-normalized and face presence (F,) for ROIs (F, 5)."""
        if len(rois) == 0:
            return np.zeros((0, NUM_LANDMARKS_WITH_IRISES, 3), np.float32), np.zeros(0, np.float32)
        outputs = self.model.run(crop_rois(rgb, rois, INPUT_SIZE))
        points = outputs["landmarks"].reshape(len(rois), NUM_LANDMARKS_WITH_IRISES, 3) / np.float32(INPUT_SIZE)
        presence = scores_from_logits(outputs["face_flag"].reshape(-1))
        return project_to_image(points, rois.astype(np.float32)), presence.astype(np.float32)
