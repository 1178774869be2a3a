"""Shared data types and counts of the pipeline: weightless (numpy only), so every module can import them.

The landmark counts, detector and device names, the detector's output (Detections) and the solution's result
(FaceMeshResult with MediaPipe's NormalizedLandmark objects) are defined here once; the modules that produce
them (detect, landmarks, face_mesh) and the ones that consume them (roi, track, drawing, ros) import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_MESH_LANDMARKS = 468  # the face mesh (and the canonical face model's vertices)
NUM_LANDMARKS_WITH_IRISES = 478  # refine_landmarks: the mesh + 5 points per iris
LANDMARK_COUNTS = (NUM_MESH_LANDMARKS, NUM_LANDMARKS_WITH_IRISES)
RIGHT_IRIS_START = NUM_MESH_LANDMARKS  # 468-472: the subject's right iris, centre first
LEFT_IRIS_START = NUM_MESH_LANDMARKS + 5  # 473-477: the subject's left iris
NUM_KEYPOINTS = 6  # detector keypoints per face (eyes, nose tip, mouth centre, ear tragions)

# BlazeFace short-range (MediaPipe's default) and full-range, then far: full-range on tiles (facemesh_ros.far)
DETECTOR_NAMES = ("short", "full", "far")
DEVICES = ("auto", "cuda", "cpu")  # inference devices (facemesh_ros.inference.select_providers)
# landmark models: MediaPipe's legacy Face Mesh ones, or Tasks FaceLandmarker's (478 points, irises included)
LANDMARK_MODELS = ("legacy", "v2")
# Output order of the 52 scores (MediaPipe's category names; "_neutral" first, the rest alphabetical).
# Left / Right are the subject's own sides.
# fmt: off
BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
# fmt: on
NUM_BLENDSHAPES = len(BLENDSHAPE_NAMES)


def num_landmarks(refine_landmarks: bool, model: str = "legacy") -> int:
    """Landmarks per face: the plain (468) or the attention (478) legacy model, or the v2 model (478)."""
    return NUM_LANDMARKS_WITH_IRISES if refine_landmarks or model == "v2" else NUM_MESH_LANDMARKS


@dataclass
class Detections:
    """Detected faces, best score first, coordinates normalized to the image (or tensor before projection).

    boxes (D, 4): xmin, ymin, width, height (MediaPipe's relative bounding box); keypoints (D, 6, 2) x, y;
    scores (D,).
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    @staticmethod
    def empty() -> Detections:
        return Detections(
            np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32), np.zeros(0, np.float32)
        )

    def __len__(self) -> int:
        return len(self.scores)

    def top(self, count: int) -> Detections:
        return Detections(self.boxes[:count], self.keypoints[:count], self.scores[:count])


class NormalizedLandmark:
    """One landmark: x, y in [0, 1] of the image width / height, z in image-width units (MediaPipe).

    Like MediaPipe's protobuf message, visibility and presence exist but are unset (0.0; HasField False),
    so MediaPipe's own drawing_utils accept these objects too.
    """

    __slots__ = ("x", "y", "z")
    visibility = 0.0
    presence = 0.0

    def __init__(self, x: float, y: float, z: float) -> None:
        self.x, self.y, self.z = x, y, z

    def HasField(self, name: str) -> bool:  # protobuf's method name
        return name in ("x", "y", "z")

    def __repr__(self) -> str:
        return f"NormalizedLandmark(x={self.x:.6f}, y={self.y:.6f}, z={self.z:.6f})"


class NormalizedLandmarkList:
    """One face: `.landmark` is a list of NormalizedLandmark, as MediaPipe's NormalizedLandmarkList."""

    __slots__ = ("landmark",)

    def __init__(self, points: np.ndarray) -> None:
        self.landmark = list(map(NormalizedLandmark, *points.T.tolist()))  # map: fewer bytecodes per point

    def __len__(self) -> int:
        return len(self.landmark)


@dataclass
class FaceMeshResult:
    """Faces found in one frame. Arrays are numpy, F faces of N (468 or 478) landmarks.

    landmarks: (F, N, 3) float32, x/y image-normalized, z scaled like x (MediaPipe semantics).
    presence: (F,) float32 face presence score of each returned face (all > min_tracking_confidence).
    rois: (F, 5) float32 ROI the landmarks came from: x_center, y_center, width, height, rotation (rad).
    track_ids: (F,) int64, constant while a face is tracked from frame to frame (video mode); a face found
    by the detector gets a new id (in static mode: every face of every image).
    detection_boxes / detection_keypoints / detection_scores: this frame's detector output, best first (at
    most max_num_faces): (D, 4) xmin, ymin, width, height normalized (MediaPipe's relative bounding box),
    (D, 6, 2) keypoints (eyes, nose tip, mouth, ear tragions), (D,); empty when every face was tracked and
    the detector did not run. Detections are not paired with faces (a tracked face may win over one).
    image_size: (width, height) of the processed image.
    blendshapes: (F, 52) float32 scores in [0, 1] in the order of `blendshape_names` (FaceMesh with
    output_blendshapes=True), else None.
    """

    landmarks: np.ndarray
    presence: np.ndarray
    rois: np.ndarray
    track_ids: np.ndarray
    detection_boxes: np.ndarray
    detection_keypoints: np.ndarray
    detection_scores: np.ndarray
    image_size: tuple[int, int]
    blendshapes: np.ndarray | None = None
    _objects: list[NormalizedLandmarkList] | None = field(default=None, repr=False)

    @property
    def multi_face_landmarks(self) -> list[NormalizedLandmarkList] | None:
        """None when no face was found, else one NormalizedLandmarkList per face (built on first access)."""
        if len(self.landmarks) == 0:
            return None
        if self._objects is None:
            self._objects = [NormalizedLandmarkList(face) for face in self.landmarks]
        return self._objects

    @property
    def num_faces(self) -> int:
        return len(self.landmarks)

    @property
    def blendshape_names(self) -> tuple[str, ...] | None:
        """Names of the blendshapes columns (MediaPipe's category names), None without blendshapes."""
        return None if self.blendshapes is None else BLENDSHAPE_NAMES
