#!/usr/bin/env python3
"""Write MediaPipe reference landmarks for the tests into test/fixtures/ (run in the reference venv).

    cd /work/main && .venv-ref/bin/python scripts/make_mediapipe_references.py

Uses the legacy solution API `mediapipe.solutions.face_mesh.FaceMesh` of mediapipe==0.10.21 (never imported
by the package itself). Files (compressed npz, float32 landmarks, image-normalized like MediaPipe):
- mediapipe_static.npz: per test image and mode ("468" / "478"): `<mode>/<image>` -> (F, N, 3), static mode,
  max_num_faces=MAX_FACES; `images` lists the image names; `md5/<image>` the decoded pixels' md5.
- mediapipe_tracking.npz: per sequence and mode, video mode over VirtualCamera frames:
  `<seq>/<mode>/landmarks` (T, max_faces, N, 3) NaN-padded, `<seq>/<mode>/counts` (T,),
  `<seq>/<mode>/next_rois` (T, max_faces, 5) the ROIs MediaPipe derives from frame t's landmarks for frame
  t+1 (x, y, w, h, rotation; its `face_rects_from_landmarks` stream), `<seq>/<mode>/detected` (T,) whether
  the detector ran, `<seq>/<mode>/detection_rois` (T, max_faces, 5) its ROIs from detections,
  `<seq>/frame_md5` (T,) so the tests can check they render identical frames, `<seq>/config` (JSON),
  `<seq>/<mode>/self_error` (trials, 2): MediaPipe against itself when frame 0 has one pixel per face changed
  by one level (mean and worst face error in % IOD over the sequence) -- the spread tracking's feedback gives
  to any tiny difference, MediaPipe's own included.
The tracking run is the same graph and options as FaceMesh, with three more of its streams read out.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from facemesh_ros.simulation.virtual_camera import VirtualCamera  # noqa: E402  (numpy + OpenCV only)

DATA = REPO / "test" / "data"
OUT = REPO / "test" / "fixtures"
MAX_FACES = 10
STATIC_IMAGES = (
    "breakingbad.jpg",
    "einstein.jpg",
    "lenna.png",
    "takeo.ppm",
    "tongue.jpg",
    "t1.jpg",
    "Tom_Hanks_54745.png",
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
)
# Tracking sequences: VirtualCamera options (target = centre of MediaPipe's static faces) and max_num_faces.
SEQUENCES = {
    "lenna": {
        "photo": "lenna.png",
        "size": [640, 480],
        "num_frames": 40,
        "pan": 0.08,
        "zoom_range": [1.0, 1.8],
        "roll_deg": 25.0,
        "max_num_faces": 1,
    },
    # max_num_faces 2 with one face: the detector runs every frame and its ROI must yield to the tracked one
    "lenna_detect_each_frame": {
        "photo": "lenna.png",
        "size": [640, 480],
        "num_frames": 16,
        "pan": 0.08,
        "zoom_range": [1.0, 1.8],
        "roll_deg": 25.0,
        "max_num_faces": 2,
    },
    "breakingbad": {
        "photo": "breakingbad.jpg",
        "size": [1280, 720],
        "num_frames": 24,
        "pan": 0.05,
        "zoom_range": [1.0, 1.3],
        "roll_deg": 12.0,
        "max_num_faces": 2,
    },
}


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}; run .venv/bin/python scripts/fetch_test_data.py")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def md5(image: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(image).tobytes()).hexdigest()


def to_array(result: object, num_landmarks: int) -> np.ndarray:
    faces = result.multi_face_landmarks or []
    out = np.zeros((len(faces), num_landmarks, 3), np.float32)
    for index, face in enumerate(faces):
        out[index] = [(p.x, p.y, p.z) for p in face.landmark]
    return out


def make_static(face_mesh_cls: type) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {"images": np.array(STATIC_IMAGES)}
    for refine, mode in ((False, "468"), (True, "478")):
        with face_mesh_cls(static_image_mode=True, max_num_faces=MAX_FACES, refine_landmarks=refine) as mesh:
            for name in STATIC_IMAGES:
                rgb = read_rgb(DATA / name)
                arrays[f"md5/{name}"] = np.array(md5(rgb))
                arrays[f"{mode}/{name}"] = to_array(mesh.process(rgb), int(mode))
                print(f"static {mode} {name}: {len(arrays[f'{mode}/{name}'])} faces")
    return arrays


def tracking_face_mesh(max_num_faces: int, refine: bool) -> object:
    """mediapipe.solutions.face_mesh.FaceMesh(static_image_mode=False, ...) that also returns its ROIs."""
    from mediapipe.python.solution_base import SolutionBase
    from mediapipe.python.solutions import face_mesh

    class TrackingFaceMesh(SolutionBase):
        def __init__(self) -> None:
            super().__init__(
                binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
                side_inputs={"num_faces": max_num_faces, "with_attention": refine, "use_prev_landmarks": True},
                calculator_params={
                    "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
                    "TensorsToDetectionsCalculator.min_score_thresh": 0.5,
                    "facelandmarkcpu__ThresholdingCalculator.threshold": 0.5,
                },
                outputs=["multi_face_landmarks", "face_rects_from_landmarks", "face_rects_from_detections"],
            )

        def process(self, image: np.ndarray) -> object:
            return super().process(input_data={"image": image})

    return TrackingFaceMesh()


def rect_array(rects: list | None, limit: int) -> np.ndarray:
    out = np.full((limit, 5), np.nan, np.float32)
    for index, rect in enumerate(rects or []):
        out[index] = (rect.x_center, rect.y_center, rect.width, rect.height, rect.rotation)
    return out


def make_tracking(static: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for seq, config in SEQUENCES.items():
        photo = read_rgb(DATA / config["photo"])
        faces = static[f"468/{config['photo']}"]
        height, width = photo.shape[:2]
        # aim at the centre of the first max_num_faces faces
        center = faces[: config["max_num_faces"], :, :2].reshape(-1, 2).mean(axis=0) * (width, height)
        config = dict(config, target=[float(center[0]), float(center[1])])
        camera = VirtualCamera.from_config(photo, config)
        frames = [frame.image for frame in camera]
        arrays[f"{seq}/config"] = np.array(json.dumps(config))
        arrays[f"{seq}/frame_md5"] = np.array([md5(frame) for frame in frames])
        for refine, mode in ((False, "468"), (True, "478")):
            limit = config["max_num_faces"]
            landmarks = np.full((len(frames), limit, int(mode), 3), np.nan, np.float32)
            counts = np.zeros(len(frames), np.int32)
            next_rois = np.full((len(frames), limit, 5), np.nan, np.float32)
            detected = np.zeros(len(frames), bool)
            detection_rois = np.full((len(frames), limit, 5), np.nan, np.float32)
            with tracking_face_mesh(limit, refine) as mesh:
                for index, frame in enumerate(frames):
                    result = mesh.process(frame)
                    faces = to_array(result, int(mode))
                    counts[index] = len(faces)
                    landmarks[index, : len(faces)] = faces
                    next_rois[index] = rect_array(result.face_rects_from_landmarks, limit)
                    detected[index] = result.face_rects_from_detections is not None
                    detection_rois[index] = rect_array(result.face_rects_from_detections, limit)
            arrays[f"{seq}/{mode}/landmarks"] = landmarks
            arrays[f"{seq}/{mode}/counts"] = counts
            arrays[f"{seq}/{mode}/next_rois"] = next_rois
            arrays[f"{seq}/{mode}/detected"] = detected
            arrays[f"{seq}/{mode}/detection_rois"] = detection_rois
            arrays[f"{seq}/{mode}/self_error"] = self_divergence(
                frames, landmarks, counts, limit, refine, tuple(config["size"])
            )
            spread = arrays[f"{seq}/{mode}/self_error"].round(3).tolist()
            print(
                f"tracking {seq} {mode}: faces per frame {counts.tolist()}; MediaPipe vs itself with one "
                f"pixel changed (mean, worst % IOD): {spread}"
            )
    return arrays


def iod_error(ours: np.ndarray, reference: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per face: mean landmark distance in % of the reference inter-ocular distance (33-263), pixels."""
    centers = ours[:, :, :2].mean(axis=1)
    distance = np.linalg.norm(centers[None] - reference[:, :, :2].mean(axis=1)[:, None], axis=2)
    order = np.argmin(distance, axis=1)
    scale = np.array(size, np.float64)
    ours_px, ref_px = ours[order, :, :2] * scale, reference[:, :, :2] * scale
    iod = np.linalg.norm(ref_px[:, 33] - ref_px[:, 263], axis=1)
    return np.linalg.norm(ours_px - ref_px, axis=2).mean(axis=1) / iod * 100.0


def self_divergence(
    frames: list[np.ndarray],
    landmarks: np.ndarray,
    counts: np.ndarray,
    limit: int,
    refine: bool,
    size: tuple[int, int],
    trials: int = 3,
) -> np.ndarray:
    """(trials, 2) mean / worst error of MediaPipe runs whose frame 0 has one pixel per face raised by 1."""
    from mediapipe.python.solutions.face_mesh import FaceMesh

    out = np.zeros((trials, 2))
    for trial in range(trials):
        errors = []
        with FaceMesh(static_image_mode=False, max_num_faces=limit, refine_landmarks=refine) as mesh:
            for index, frame in enumerate(frames):
                if index == 0:
                    frame = frame.copy()
                    for face in landmarks[0, : counts[0]]:
                        x, y = (face[:, :2].mean(axis=0) * size).astype(int) + trial
                        frame[y, x, 0] = min(255, int(frame[y, x, 0]) + 1)
                faces = to_array(mesh.process(frame), landmarks.shape[2])
                if len(faces) != counts[index]:
                    errors.append(np.inf)
                    continue
                errors.extend(iod_error(faces, landmarks[index, : counts[index]], size))
        out[trial] = np.mean(errors), np.max(errors)
    return out


def main() -> None:
    from mediapipe.python.solutions.face_mesh import FaceMesh  # reference venv only

    OUT.mkdir(parents=True, exist_ok=True)
    static = make_static(FaceMesh)
    np.savez_compressed(OUT / "mediapipe_static.npz", **static)
    tracking = make_tracking(static)
    np.savez_compressed(OUT / "mediapipe_tracking.npz", **tracking)
    total = sum(path.stat().st_size for path in OUT.glob("mediapipe_*.npz"))
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
