#!/usr/bin/env python3
"""Write MediaPipe Tasks FaceLandmarker references into test/fixtures/mediapipe_tasks.npz (reference venv).

    .venv-ref/bin/python scripts/make_tasks_references.py

Runs `mediapipe.tasks.python.vision.FaceLandmarker` of mediapipe==0.10.21 (never imported by the package)
on face_landmarker.task, as `make models` extracted (and checked) it into .cache/models/tflite/. Blendshapes
and transformation matrices enabled.
Arrays (float32, image-normalized landmarks like MediaPipe's):
- image mode, num_faces=MAX_FACES, on the legacy fixtures' stills: `static/<image>/landmarks` (F, 478, 3),
  `static/<image>/blendshapes` (F, 52), `static/<image>/matrices` (F, 4, 4); `images`, `md5/<image>`.
- video mode on the legacy tracking sequences (same VirtualCamera frames, num_faces = their max_num_faces,
  one frame every 33 ms): `<seq>/landmarks` (T, faces, 478, 3) and `<seq>/blendshapes` (T, faces, 52),
  NaN-padded, `<seq>/counts` (T,), `<seq>/frame_md5`, `<seq>/config` (JSON). With num_faces 1, Tasks
  smooths the landmarks in video mode (its LandmarksSmoothingCalculator); with more faces it does not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from facemesh_ros.simulation.virtual_camera import VirtualCamera  # noqa: E402
from scripts.make_mediapipe_references import (  # noqa: E402  (numpy + OpenCV only)
    DATA,
    MAX_FACES,
    SEQUENCES,
    STATIC_IMAGES,
    md5,
    read_rgb,
)

OUT = REPO / "test" / "fixtures" / "mediapipe_tasks.npz"
TASK = REPO / ".cache" / "models" / "tflite" / "face_landmarker.task"
FRAME_MS = 33


def task_bundle() -> bytes:
    if not TASK.exists():
        raise SystemExit(f"{TASK} missing: run `make models` first")
    return TASK.read_bytes()


def landmarker(task: bytes, video: bool, num_faces: int) -> object:
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=task),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_faces=num_faces,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    return vision.FaceLandmarker.create_from_options(options)


def result_arrays(result: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    landmarks = np.array([[(p.x, p.y, p.z) for p in face] for face in result.face_landmarks], np.float32).reshape(
        -1, 478, 3
    )
    blendshapes = np.array([[c.score for c in face] for face in result.face_blendshapes], np.float32).reshape(-1, 52)
    matrices = np.array(result.facial_transformation_matrixes, np.float32).reshape(-1, 4, 4)
    return landmarks, blendshapes, matrices


def mp_image(rgb: np.ndarray) -> object:
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


def make_static(task: bytes) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {"images": np.array(STATIC_IMAGES)}
    with landmarker(task, video=False, num_faces=MAX_FACES) as model:
        for name in STATIC_IMAGES:
            rgb = read_rgb(DATA / name)
            landmarks, blendshapes, matrices = result_arrays(model.detect(mp_image(rgb)))
            arrays[f"md5/{name}"] = np.array(md5(rgb))
            arrays[f"static/{name}/landmarks"] = landmarks
            arrays[f"static/{name}/blendshapes"] = blendshapes
            arrays[f"static/{name}/matrices"] = matrices
            print(f"static {name}: {len(landmarks)} faces")
    return arrays


def make_video(task: bytes, legacy_tracking: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for seq in SEQUENCES:
        config = json.loads(str(legacy_tracking[f"{seq}/config"]))  # the legacy fixture's frames
        frames = [frame.image for frame in VirtualCamera.from_config(read_rgb(DATA / config["photo"]), config)]
        if [md5(frame) for frame in frames] != legacy_tracking[f"{seq}/frame_md5"].tolist():
            raise SystemExit(f"{seq}: the frames differ from the legacy fixture's")
        limit = config["max_num_faces"]
        landmarks = np.full((len(frames), limit, 478, 3), np.nan, np.float32)
        blendshapes = np.full((len(frames), limit, 52), np.nan, np.float32)
        counts = np.zeros(len(frames), np.int32)
        with landmarker(task, video=True, num_faces=limit) as model:
            for index, frame in enumerate(frames):
                found, scores, _ = result_arrays(model.detect_for_video(mp_image(frame), index * FRAME_MS))
                counts[index] = len(found)
                landmarks[index, : len(found)] = found
                blendshapes[index, : len(found)] = scores
        arrays[f"{seq}/landmarks"] = landmarks
        arrays[f"{seq}/blendshapes"] = blendshapes
        arrays[f"{seq}/counts"] = counts
        arrays[f"{seq}/frame_md5"] = np.array([md5(frame) for frame in frames])
        arrays[f"{seq}/config"] = np.array(json.dumps(config))
        print(f"video {seq}: faces per frame {counts.tolist()}")
    return arrays


def main() -> None:
    task = task_bundle()
    with np.load(REPO / "test" / "fixtures" / "mediapipe_tracking.npz") as data:
        legacy_tracking = {key: data[key] for key in data.files}
    arrays = make_static(task)
    arrays.update(make_video(task, legacy_tracking))
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
