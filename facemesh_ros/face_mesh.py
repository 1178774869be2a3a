"""FaceMesh: MediaPipe's legacy Face Mesh solution API on onnxruntime, plus numpy access to the results.

Pipeline per frame: detect (only while fewer than max_num_faces are tracked) -> ROIs -> one batched landmark
run -> presence threshold -> ROIs for the next frame (-> blendshapes). See facemesh_ros.detect / roi /
landmarks / landmarks_v2 / track / blendshapes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from facemesh_ros.blendshapes import BlendshapeModel
from facemesh_ros.detect import FaceDetector
from facemesh_ros.far import FAR_EXTRA_CANDIDATES, FarDetector, RejectedPatches, accept_far_faces
from facemesh_ros.image import as_rgb_uint8
from facemesh_ros.landmarks import LandmarkModel
from facemesh_ros.landmarks_v2 import LandmarkModelV2
from facemesh_ros.roi import rois_from_detections
from facemesh_ros.track import FaceTracker
from facemesh_ros.types import (
    DETECTOR_NAMES,
    DEVICES,
    LANDMARK_MODELS,
    Detections,
    FaceMeshResult,
    NormalizedLandmark,
    NormalizedLandmarkList,
    num_landmarks,
)

# The result types live in facemesh_ros.types (consumers need no onnxruntime); this module is their public home.
__all__ = ["FaceMesh", "FaceMeshResult", "NormalizedLandmark", "NormalizedLandmarkList"]


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_unit(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0.0, 1.0], got {value!r}")
    return float(value)


def _check_count(name: str, value: object, what: str = "an integer >= 1") -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < 1:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return str(value)


class _LandmarkRun(NamedTuple):
    rois: np.ndarray
    landmarks: np.ndarray
    presence: np.ndarray


def _usable_rois(rois: np.ndarray, width: int, height: int) -> np.ndarray:
    """MediaPipe rejects empty or NaN ROIs too (ValidateRoi); below a pixel nothing can be a face."""
    return np.all(np.isfinite(rois), axis=1) & (rois[:, 2] * width >= 1) & (rois[:, 3] * height >= 1)


class FaceMesh:
    """Face landmarks (468, or 478 with irises) for every face in RGB images or video frames.

    Options (MediaPipe's, same defaults and meaning):
      static_image_mode: True = every image is unrelated, detect on each; False = video, track faces from
        the previous frame's landmarks and detect only while fewer than max_num_faces are tracked.
      max_num_faces: maximum number of faces returned, integer >= 1.
      refine_landmarks: True = attention model, refined eyes and lips plus 10 iris points (478 landmarks).
      min_detection_confidence: detector score threshold in [0.0, 1.0].
      min_tracking_confidence: face presence threshold in [0.0, 1.0]; a face is returned (and tracked) only
        if its presence score is above it.
    Additions:
      detector: "short" (MediaPipe's default, faces within ~2 m), "full" (full-range model, small and
        distant faces up to ~5 m) or "far" (robot range: the full-range model over the whole frame plus
        overlapping tiles, faces down to ~24 px wide; in video one pass every second frame, see facemesh_ros.far).
      model: "legacy" (MediaPipe's legacy Face Mesh models, the default) or "v2" (MediaPipe Tasks
        FaceLandmarker's 256x256 landmark model: always 478 landmarks, irises included, so refine_landmarks
        does not apply).
      output_blendshapes: True = also run the blendshape model (52 expression scores per face,
        result.blendshapes); needs model="v2", whose landmarks it was trained on.
      tracker: a FaceTracker with other association rules (FaceLandmarker passes MediaPipe Tasks'); None =
        the legacy solution's.
      device: "auto" (CUDA if onnxruntime has it, else CPU), "cuda" or "cpu".
      num_threads: onnxruntime intra-op threads of the landmark model (None = 1; the detector always has
        one). These models are too small for a thread pool to pay: its threads spin-wait between runs and
        burn a core. Instead, with two or more CPUs a second thread runs the detector while the tracked
        faces' landmarks are computed, and half of the faces when there are several.
      detection_interval: in video mode, while at least one face is tracked but fewer than max_num_faces,
        run the detector only every detection_interval-th frame (1 = every frame, MediaPipe's behaviour).
        Larger values save the detector's time on most frames; a face entering the view is found up to
        detection_interval - 1 frames later. Without a tracked face the detector runs on every frame.
    """

    def __init__(
        self,
        static_image_mode: bool = False,
        max_num_faces: int = 1,
        refine_landmarks: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        detector: str = "short",
        device: str = "auto",
        num_threads: int | None = None,
        model: str = "legacy",
        output_blendshapes: bool = False,
        tracker: FaceTracker | None = None,
        detection_interval: int = 1,
    ) -> None:
        self.static_image_mode = _check_bool("static_image_mode", static_image_mode)
        self.refine_landmarks = _check_bool("refine_landmarks", refine_landmarks)
        self.max_num_faces = _check_count("max_num_faces", max_num_faces)
        self.min_detection_confidence = _check_unit("min_detection_confidence", min_detection_confidence)
        self.min_tracking_confidence = _check_unit("min_tracking_confidence", min_tracking_confidence)
        self.detector_name = _check_choice("detector", detector, DETECTOR_NAMES)
        self.device = _check_choice("device", device, DEVICES)
        self.model = _check_choice("model", model, LANDMARK_MODELS)
        self.output_blendshapes = _check_bool("output_blendshapes", output_blendshapes)
        if self.output_blendshapes and self.model != "v2":
            raise ValueError(
                "output_blendshapes=True needs model='v2': the blendshape model reads the v2 "
                "landmark model's points (the legacy model's give wrong scores)"
            )
        threads = _check_count("num_threads", 1 if num_threads is None else num_threads, "None or an integer >= 1")
        self.detection_interval = _check_count("detection_interval", detection_interval)
        self._frames_since_detection = self.detection_interval  # the first frame runs the detector
        # a second CPU: the detector overlaps the tracked faces' landmark run, faces are shared out
        self._overlap = len(os.sched_getaffinity(0)) >= 2 if hasattr(os, "sched_getaffinity") else False
        self._worker_thread: ThreadPoolExecutor | None = None
        self._detector: FaceDetector | FarDetector | None
        self._candidates = self.max_num_faces  # detections passed on to the landmark model
        self._rejected = RejectedPatches()  # far mode in video: scenery the landmark check turned down
        if self.detector_name == "far":
            self._candidates += FAR_EXTRA_CANDIDATES
            self._detector = FarDetector(
                self.min_detection_confidence, self.device, threads=1, spread_over_frames=not self.static_image_mode
            )
        else:
            self._detector = FaceDetector(self.detector_name, self.min_detection_confidence, self.device, threads=1)
        self._landmarks: LandmarkModel | LandmarkModelV2 | None = (
            LandmarkModelV2(self.device, threads)
            if self.model == "v2"
            else LandmarkModel(self.refine_landmarks, self.device, threads)
        )
        self._blendshapes = BlendshapeModel(self.device) if self.output_blendshapes else None
        self._tracker = tracker or FaceTracker(self.max_num_faces, self.static_image_mode)

    @property
    def num_landmarks(self) -> int:
        return num_landmarks(self.refine_landmarks, self.model)

    def process(self, image: np.ndarray) -> FaceMeshResult:
        """Find faces in an H x W x 3 uint8 RGB image (see facemesh_ros.image for other accepted layouts)."""
        if self._detector is None or self._landmarks is None:
            raise ValueError("FaceMesh is closed; create a new instance")
        rgb = as_rgb_uint8(image)
        height, width = rgb.shape[:2]
        detections, tracked = Detections.empty(), None
        if self._detection_due():
            detections, tracked = self._detect(rgb)
        rois, ids = self._tracker.merge(rois_from_detections(detections, width, height))
        usable = _usable_rois(rois, width, height)
        if self.detector_name == "far" and not self.static_image_mode:
            usable[usable] = ~self._rejected.unchanged(rgb, rois[usable], ids[usable])
        rois, ids = rois[usable], ids[usable]
        landmarks, presence = self._run_landmarks(rgb, rois, tracked)
        accepted = presence > self.min_tracking_confidence
        if self.detector_name == "far":
            rois, landmarks, presence, accepted, failed = accept_far_faces(
                self._landmarks, rgb, rois, ids, landmarks, presence, self.min_tracking_confidence, self.max_num_faces
            )
            if not self.static_image_mode:
                self._rejected.remember(rgb, rois[failed])
        landmarks, presence, rois = landmarks[accepted], presence[accepted], rois[accepted]
        tracked_before = self._tracker.previous_ids
        track_ids = self._tracker.update(landmarks, ids[accepted], width, height)
        if isinstance(self._detector, FarDetector) and np.setdiff1d(tracked_before, track_ids).size:
            self._detector.look_again()  # a tracked face was lost: search the whole frame on the next one
        detections = detections.top(self.max_num_faces)
        blendshapes = None if self._blendshapes is None else self._blendshapes.run(landmarks, width, height)
        return FaceMeshResult(
            landmarks,
            presence,
            rois,
            track_ids,
            detections.boxes,
            detections.keypoints,
            detections.scores,
            (width, height),
            blendshapes,
        )

    def _detection_due(self) -> bool:
        """MediaPipe's rule (fewer faces tracked than max_num_faces), thinned out by detection_interval."""
        self._frames_since_detection += 1
        if not self._tracker.needs_detection():
            return False
        if len(self._tracker.previous_rois) and self._frames_since_detection < self.detection_interval:
            return False
        self._frames_since_detection = 0
        return True

    def _detect(self, rgb: np.ndarray) -> tuple[Detections, _LandmarkRun | None]:
        """This frame's detections, and the tracked faces' landmark run if it overlapped the detector.

        With a second CPU and faces tracked from the last frame, the detector runs on the worker thread
        while this one computes those faces' landmarks: their ROIs do not depend on the detections.
        """
        assert self._detector is not None and self._landmarks is not None
        if not self._overlap or len(self._tracker.previous_rois) == 0:
            return self._detector.detect(rgb).top(self._candidates), None
        pending = self._worker().submit(self._detector.detect, rgb)
        height, width = rgb.shape[:2]
        tracked_rois, _ = self._tracker.merge(np.zeros((0, 5), np.float32))
        tracked_rois = tracked_rois[_usable_rois(tracked_rois, width, height)]
        tracked = _LandmarkRun(tracked_rois, *self._landmarks.run(rgb, tracked_rois))
        return pending.result().top(self._candidates), tracked

    def _run_landmarks(
        self, rgb: np.ndarray, rois: np.ndarray, done: _LandmarkRun | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks and presence for rois; a ROI equal to one of `done`'s takes its result."""
        if done is None or len(done.rois) == 0:
            return self._landmarks_on_both_cores(rgb, rois)
        equal = np.all(rois[:, None, :] == done.rois[None, :, :], axis=2)
        reused, source = equal.any(axis=1), equal.argmax(axis=1)
        landmarks = np.empty((len(rois), *done.landmarks.shape[1:]), np.float32)
        presence = np.empty(len(rois), np.float32)
        landmarks[reused], presence[reused] = done.landmarks[source[reused]], done.presence[source[reused]]
        if not reused.all():
            landmarks[~reused], presence[~reused] = self._landmarks_on_both_cores(rgb, rois[~reused])
        return landmarks, presence

    def _landmarks_on_both_cores(self, rgb: np.ndarray, rois: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The landmark model on rois; with two or more faces and a second CPU, half of them on the worker."""
        assert self._landmarks is not None
        if not self._overlap or len(rois) < 2:
            return self._landmarks.run(rgb, rois)
        half = len(rois) // 2
        pending = self._worker().submit(self._landmarks.run, rgb, rois[half:])
        landmarks, presence = self._landmarks.run(rgb, rois[:half])
        other_landmarks, other_presence = pending.result()
        return np.concatenate([landmarks, other_landmarks]), np.concatenate([presence, other_presence])

    def _worker(self) -> ThreadPoolExecutor:
        """The second thread (detector or half of the faces); onnxruntime and OpenCV release the GIL."""
        if self._worker_thread is None:
            self._worker_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face_mesh_worker")
        return self._worker_thread

    @property
    def providers(self) -> list[str]:
        """onnxruntime execution providers of the landmark model, the one that runs on every frame."""
        if self._landmarks is None:
            return []
        return list(self._landmarks.model.providers)

    def set_thresholds(
        self, min_detection_confidence: float | None = None, min_tracking_confidence: float | None = None
    ) -> None:
        """Change the confidence thresholds without rebuilding the pipeline (tracking goes on)."""
        if min_detection_confidence is not None:
            self.min_detection_confidence = _check_unit("min_detection_confidence", min_detection_confidence)
            if self._detector is not None:
                self._detector.min_score = self.min_detection_confidence
        if min_tracking_confidence is not None:
            self.min_tracking_confidence = _check_unit("min_tracking_confidence", min_tracking_confidence)

    def reset(self) -> None:
        """Forget tracked faces (the next frame starts with detection)."""
        self._tracker.reset()
        self._rejected.clear()
        self._frames_since_detection = self.detection_interval

    def close(self) -> None:
        """Release the onnxruntime sessions; process() raises afterwards."""
        self._detector = None
        self._landmarks = None
        self._blendshapes = None
        if self._worker_thread is not None:
            self._worker_thread.shutdown()
            self._worker_thread = None

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
