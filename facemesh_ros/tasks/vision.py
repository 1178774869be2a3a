"""MediaPipe Tasks' `vision.FaceLandmarker` API (mediapipe.tasks.python.vision) on onnxruntime.

Same option names, defaults and result shapes as MediaPipe 0.10.x:
- FaceLandmarkerOptions: running_mode (IMAGE: detect on every image; VIDEO: track faces between frames
  and detect only while fewer than num_faces are tracked; LIVE_STREAM: as VIDEO, the result goes to
  result_callback), num_faces, min_face_detection_confidence (detector score threshold),
  min_face_presence_confidence (landmark model's face presence threshold), min_tracking_confidence (IoU
  above which a new detection replaces a tracked face's region), output_face_blendshapes (52 scores per
  face), output_facial_transformation_matrixes (4x4 canonical face -> camera, cm, default camera with a 63
  degree vertical field of view), result_callback (LIVE_STREAM only).
- FaceLandmarkerResult: face_landmarks[face][i] NormalizedLandmark(x, y, z, visibility, presence),
  face_blendshapes[face][k] Category(index, score, display_name, category_name), facial_transformation_
  matrixes[face] a (4, 4) numpy array; empty lists when the option is off or no face is found. The numpy
  arrays behind it are in `result.arrays` (a FaceMeshResult: landmarks (F, 478, 3), blendshapes (F, 52)...).
Images: an Image of this module, a mediapipe.Image (anything with numpy_view()), or a uint8 numpy array
(H x W x 3 RGB, H x W x 4 RGBA, gray). The pipeline is FaceMesh(model="v2") with Tasks' tracking rule.
With num_faces=1 in VIDEO / LIVE_STREAM mode the landmarks are smoothed over time as MediaPipe does
(facemesh_ros.tasks.smoothing; the blendshapes are computed from the smoothed landmarks, the next frame's
region from the raw ones). Not supported: image_processing_options (region of interest, rotation).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from facemesh_ros.blendshapes import BLENDSHAPE_NAMES, BlendshapeModel
from facemesh_ros.face_mesh import FaceMesh, FaceMeshResult
from facemesh_ros.tasks.smoothing import LandmarkSmoother
from facemesh_ros.track import FaceTracker

MATRIX_VERTICAL_FOV_DEG = 63.0  # MediaPipe Tasks' default environment for the transformation matrices


class RunningMode(enum.Enum):
    """How the landmarker is called: detect (IMAGE), detect_for_video (VIDEO), detect_async (LIVE_STREAM)."""

    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    LIVE_STREAM = "LIVE_STREAM"


class ImageFormat(enum.Enum):
    """Pixel layouts of an Image (MediaPipe's values)."""

    SRGB = 1
    SRGBA = 2
    GRAY8 = 3


class Image:
    """An image as MediaPipe's mp.Image: uint8 pixels in `image_format`, read with numpy_view()."""

    def __init__(self, image_format: ImageFormat, data: np.ndarray) -> None:
        channels = {ImageFormat.SRGB: 3, ImageFormat.SRGBA: 4, ImageFormat.GRAY8: 1}[image_format]
        pixels = np.asarray(data)
        shape_ok = (pixels.ndim == 3 and pixels.shape[2] == channels) or (pixels.ndim == 2 and channels == 1)
        if pixels.dtype != np.uint8 or not shape_ok:
            raise ValueError(
                f"{image_format.name} needs uint8 H x W x {channels} data, got {pixels.dtype} {pixels.shape}"
            )
        self.image_format = image_format
        self._pixels = pixels

    @classmethod
    def create_from_file(cls, path: str | Path) -> Image:
        import cv2

        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read an image from {path}")
        return cls(ImageFormat.SRGB, np.ascontiguousarray(bgr[:, :, ::-1]))

    @property
    def width(self) -> int:
        return int(self._pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self._pixels.shape[0])

    def numpy_view(self) -> np.ndarray:
        view = self._pixels.view()
        view.flags.writeable = False
        return view


@dataclass
class BaseOptions:
    """MediaPipe's BaseOptions. The model asset is not read (models/ holds the converted networks);
    delegate: None (CUDA when onnxruntime has it, else CPU), "CPU" or "GPU" (CUDA), or MediaPipe's enum."""

    model_asset_path: str | None = None
    model_asset_buffer: bytes | None = None
    delegate: object = None


@dataclass
class NormalizedLandmark:
    """One landmark: x, y in [0, 1] of the image width / height, z in image-width units (MediaPipe)."""

    x: float
    y: float
    z: float
    visibility: float = 0.0  # MediaPipe's face landmarks carry 0.0 in both
    presence: float = 0.0


@dataclass
class Category:
    """One blendshape score: index and category_name as in BLENDSHAPE_NAMES, display_name empty."""

    index: int
    score: float
    display_name: str = ""
    category_name: str = ""


@dataclass
class FaceLandmarkerResult:
    """Per face: landmarks, blendshapes and transformation matrix (lists empty when not asked for)."""

    face_landmarks: list[list[NormalizedLandmark]]
    face_blendshapes: list[list[Category]]
    facial_transformation_matrixes: list[np.ndarray]
    arrays: FaceMeshResult | None = field(default=None, repr=False, compare=False)


@dataclass
class FaceLandmarkerOptions:
    """MediaPipe's options (see the module docstring for each one's meaning)."""

    base_options: object = field(default_factory=BaseOptions)
    running_mode: object = RunningMode.IMAGE
    num_faces: int = 1
    min_face_detection_confidence: float = 0.5
    min_face_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    output_face_blendshapes: bool = False
    output_facial_transformation_matrixes: bool = False
    result_callback: Callable[[FaceLandmarkerResult, object, int], None] | None = None


def _running_mode(value: object) -> RunningMode:
    """Ours or MediaPipe's VisionTaskRunningMode (matched by name)."""
    name = getattr(value, "name", value)
    try:
        return RunningMode[str(name)]
    except KeyError:
        raise ValueError(f"running_mode must be IMAGE, VIDEO or LIVE_STREAM, got {value!r}") from None


def _device(base_options: object) -> str:
    delegate = getattr(base_options, "delegate", None)
    name = str(getattr(delegate, "name", delegate)).upper()
    devices = {"NONE": "auto", "CPU": "cpu", "GPU": "cuda"}
    if name not in devices:
        raise ValueError(f"base_options.delegate must be None, CPU or GPU, got {delegate!r}")
    return devices[name]


def _unit(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0.0, 1.0], got {value!r}")
    return float(value)


def _flag(value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"output options must be True or False, got {value!r}")
    return bool(value)


def _pixels(image: object) -> np.ndarray:
    """The image's uint8 pixels: Image / mediapipe.Image via numpy_view(), or a numpy array itself."""
    view = image.numpy_view() if hasattr(image, "numpy_view") else image
    if not isinstance(view, np.ndarray):
        raise ValueError(f"image must be an Image, a mediapipe.Image or a numpy array, got {type(image).__name__}")
    return view


class FaceLandmarker:
    """MediaPipe Tasks' FaceLandmarker: detect(), detect_for_video(), detect_async() by running mode."""

    def __init__(self, options: FaceLandmarkerOptions) -> None:
        self.mode = _running_mode(options.running_mode)
        num_faces = options.num_faces
        if isinstance(num_faces, bool) or not isinstance(num_faces, Integral) or num_faces < 1:
            raise ValueError(f"num_faces must be an integer >= 1, got {num_faces!r}")
        if (options.result_callback is None) == (self.mode is RunningMode.LIVE_STREAM):
            raise ValueError("result_callback is needed in LIVE_STREAM mode and only there")
        static = self.mode is RunningMode.IMAGE
        tracker = FaceTracker(
            int(num_faces),
            static,
            detections_win=True,
            association_iou=_unit("min_tracking_confidence", options.min_tracking_confidence),
        )
        device = _device(options.base_options)
        self._mesh: FaceMesh = FaceMesh(
            static_image_mode=static,
            max_num_faces=int(num_faces),
            min_detection_confidence=_unit("min_face_detection_confidence", options.min_face_detection_confidence),
            min_tracking_confidence=_unit("min_face_presence_confidence", options.min_face_presence_confidence),
            device=device,
            model="v2",
            tracker=tracker,
        )
        # after smoothing, so run here rather than in FaceMesh
        self._blendshapes: BlendshapeModel | None = (
            BlendshapeModel(device) if _flag(options.output_face_blendshapes) else None
        )
        self._smoother: LandmarkSmoother | None = LandmarkSmoother() if num_faces == 1 and not static else None
        self._matrices: bool = _flag(options.output_facial_transformation_matrixes)
        self._callback: Callable[[FaceLandmarkerResult, object, int], None] | None = options.result_callback
        self._last_timestamp: int | None = None

    @classmethod
    def create_from_options(cls, options: FaceLandmarkerOptions) -> FaceLandmarker:
        return cls(options)

    @classmethod
    def create_from_model_path(cls, model_path: str) -> FaceLandmarker:
        return cls(FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=model_path)))

    def detect(self, image: object, image_processing_options: object = None) -> FaceLandmarkerResult:
        """Faces in one image (IMAGE mode)."""
        self._check_mode(RunningMode.IMAGE, image_processing_options)
        return self._run(image, 0)

    def detect_for_video(
        self, image: object, timestamp_ms: int, image_processing_options: object = None
    ) -> FaceLandmarkerResult:
        """Faces in the next video frame (VIDEO mode); timestamps must increase from frame to frame."""
        self._check_mode(RunningMode.VIDEO, image_processing_options)
        self._check_timestamp(timestamp_ms)
        return self._run(image, timestamp_ms)

    def detect_async(self, image: object, timestamp_ms: int, image_processing_options: object = None) -> None:
        """LIVE_STREAM mode: runs now and hands (result, image, timestamp_ms) to result_callback."""
        self._check_mode(RunningMode.LIVE_STREAM, image_processing_options)
        self._check_timestamp(timestamp_ms)
        assert self._callback is not None  # checked in __init__: LIVE_STREAM has one
        self._callback(self._run(image, timestamp_ms), image, timestamp_ms)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_mode(self, wanted: RunningMode, image_processing_options: object) -> None:
        if self.mode is not wanted:
            raise ValueError(
                f"Task is not initialized with the {wanted.name.lower()} mode. Current running mode: {self.mode.name}"
            )
        if image_processing_options is not None:
            raise ValueError("image_processing_options (region of interest, rotation) are not supported")

    def _check_timestamp(self, timestamp_ms: int) -> None:
        if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, Integral):
            raise ValueError(f"timestamp_ms must be an integer, got {timestamp_ms!r}")
        if self._last_timestamp is not None and timestamp_ms <= self._last_timestamp:
            raise ValueError(
                f"Input timestamp must be monotonically increasing: {timestamp_ms} after {self._last_timestamp}"
            )
        self._last_timestamp = int(timestamp_ms)

    def _run(self, image: object, timestamp_ms: int) -> FaceLandmarkerResult:
        arrays = self._mesh.process(_pixels(image))
        if self._smoother is not None:
            if arrays.num_faces == 0:
                self._smoother.reset()
            else:
                smoothed = self._smoother.apply(arrays.landmarks[0], timestamp_ms, *arrays.image_size)
                arrays = dataclasses.replace(arrays, landmarks=smoothed[None])
        if self._blendshapes is not None:
            scores = self._blendshapes.run(arrays.landmarks, *arrays.image_size)
            arrays = dataclasses.replace(arrays, blendshapes=scores)
        landmarks = [[NormalizedLandmark(x, y, z) for x, y, z in face] for face in arrays.landmarks.tolist()]
        blendshapes = (
            []
            if arrays.blendshapes is None
            else [
                [
                    Category(index, score, "", name)
                    for index, (score, name) in enumerate(zip(face, BLENDSHAPE_NAMES, strict=True))
                ]
                for face in arrays.blendshapes.tolist()
            ]
        )
        matrices = _transformation_matrices(arrays) if self._matrices else []
        return FaceLandmarkerResult(landmarks, blendshapes, matrices, arrays)


def _transformation_matrices(arrays: FaceMeshResult) -> list[np.ndarray]:
    """Per face: canonical face -> camera (cm, scale included), NaN where the geometry is degenerate."""
    from facemesh_ros.geometry import Camera, estimate_face_geometry

    camera = Camera.from_fov(MATRIX_VERTICAL_FOV_DEG, *arrays.image_size)
    matrices = []
    for face in arrays.landmarks:
        geometry = estimate_face_geometry(face, camera)
        matrices.append(np.full((4, 4), np.nan) if geometry is None else geometry.pose_matrix)
    return matrices
