"""Face geometry cost per face: estimate_face_geometry for several cameras and landmark counts, the optional
smoother, and (for scale) a literal dense transcription of the spec's formulas on the same input.

    cd /work/main && PYTHONPATH=/work/main .venv/bin/python bench/bench_geometry.py [--repeats 2000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from facemesh_ros.geometry import (
    Camera,
    FaceGeometrySmoother,
    default_canonical_face_model,
    estimate_face_geometry,
)
from facemesh_ros.geometry.reference import mediapipe_reference

MODEL = default_canonical_face_model()


def synthetic_landmarks(camera: Camera, count: int) -> np.ndarray:
    rotation = Rotation.from_euler("YXZ", [25, -10, 5], degrees=True).as_matrix()
    optical = (MODEL.vertices @ rotation.T + [4.0, 2.0, -80.0]) * [1, -1, -1]
    optical = np.concatenate([optical, optical[: count - 468]])
    u = camera.fx * optical[:, 0] / optical[:, 2] + camera.cx
    v = camera.fy * optical[:, 1] / optical[:, 2] + camera.cy
    depth = optical[:, 2]
    z = (depth - depth[:468].mean()) * camera.fx / (depth[:468].mean() * camera.width)
    return np.column_stack(((u + 0.5) / camera.width, (v + 0.5) / camera.height, z))


def dense_reference(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The spec's formulas literally (facemesh_ros/geometry/reference.py), through to the runtime mesh."""
    pose, metric = mediapipe_reference(landmarks, width, height)
    return np.linalg.inv(pose) @ np.vstack([metric.T, np.ones(468)])


def per_call_us(function: Callable[[], object], repeats: int) -> float:
    for _ in range(min(100, repeats)):
        function()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats // 5):
            function()
        samples.append((time.perf_counter() - start) / (repeats // 5))
    return 1e6 * min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    repeats = parser.parse_args().repeats
    distortion = [-0.28, 0.09, 0.0012, -0.0007, -0.012]
    cameras = {
        "from_fov(63) 640x480": Camera.from_fov(63, 640, 480),
        "camera_info rectified 1280x720": Camera.from_intrinsics(905.3, 948.7, 700.2, 331.9, 1280, 720),
        "camera_info raw + plumb_bob": Camera.from_intrinsics(
            905.3, 948.7, 700.2, 331.9, 1280, 720, distortion=distortion
        ),
    }
    print(f"estimate_face_geometry, per face (best of 5 x {repeats // 5} calls):")
    for name, camera in cameras.items():
        for count in (468, 478):
            landmarks = synthetic_landmarks(camera, count)
            assert estimate_face_geometry(landmarks, camera) is not None
            us = per_call_us(lambda lm=landmarks, cam=camera: estimate_face_geometry(lm, cam), repeats)
            print(f"  {name:34s} {count} landmarks: {us:7.1f} us")
    camera = cameras["from_fov(63) 640x480"]
    landmarks = synthetic_landmarks(camera, 468)
    ours = per_call_us(lambda: estimate_face_geometry(landmarks, camera), repeats)
    dense = per_call_us(lambda: dense_reference(landmarks, 640, 480), repeats)
    print(
        f"literal dense spec transcription (numpy, 468 points): {dense:7.1f} us -> ratio ours/dense {ours / dense:.2f}"
    )
    geometry = estimate_face_geometry(landmarks, camera)
    smoother = FaceGeometrySmoother()
    clock = iter(np.arange(0, 1e6, 1 / 30))
    smoothing = per_call_us(lambda: smoother(geometry, next(clock)), repeats)
    print(f"FaceGeometrySmoother (pose + 468 landmarks): {smoothing:7.1f} us")


if __name__ == "__main__":
    main()
