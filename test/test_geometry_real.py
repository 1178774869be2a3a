"""Face geometry on real photos through the real pipeline: plausible distances and a steady pose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.geometry import Camera, FaceGeometrySmoother, estimate_face_geometry
from facemesh_ros.simulation.virtual_camera import VirtualCamera

# Photos of people at ordinary distances; close-up crops (Tom_Hanks_54745.png is 112 px of face, tongue.jpg a
# face filling the frame) come out at 0.12-0.2 m with the assumed 63 deg camera, as a close-up should.
SCENES = ["lenna.png", "astronaut.png", "breakingbad.jpg", "takeo.ppm"]  # einstein.jpg: no face for MediaPipe either


def _rgb(test_data_dir, name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(test_data_dir / name)), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("name", SCENES)
def test_distance_on_real_photos_is_plausible(test_data_dir, name: str) -> None:
    rgb = _rgb(test_data_dir, name)
    with FaceMesh(static_image_mode=True, max_num_faces=4, refine_landmarks=True) as face_mesh:
        result = face_mesh.process(rgb)
    assert result.num_faces >= 1
    camera = Camera.from_fov(63.0, rgb.shape[1], rgb.shape[0])
    for landmarks in result.landmarks:
        geometry = estimate_face_geometry(landmarks, camera)
        assert geometry is not None
        assert 0.2 < geometry.distance < 5.0, (name, geometry.distance)
        # the face looks roughly at the camera: its x axis (out of the face) points back along optical -z
        assert geometry.face_to_optical[2, 0] < -0.5


def pose_jitter(
    frames: list[np.ndarray], camera: Camera, smoother: FaceGeometrySmoother | None = None, rate_hz: float = 30.0
) -> tuple[float, float]:
    """Frame-to-frame RMS change of the face position (mm) and orientation (deg) in tracking mode."""
    positions, rotations = [], []
    with FaceMesh() as face_mesh:
        for index, frame in enumerate(frames):
            result = face_mesh.process(frame)
            geometry = estimate_face_geometry(result.landmarks[0], camera)
            if smoother is not None:
                geometry = smoother(geometry, index / rate_hz)
            positions.append(geometry.position)
            rotations.append(geometry.face_to_optical[:3, :3])
    steps_mm = np.linalg.norm(np.diff(positions, axis=0), axis=1) * 1000
    rotations = np.array(rotations)
    cosines = (np.einsum("nij,nij->n", rotations[:-1], rotations[1:]) - 1) / 2  # trace(A^T B) = cos of the step
    steps_deg = np.degrees(np.arccos(np.clip(cosines, -1, 1)))
    return float(np.sqrt(np.mean(steps_mm**2))), float(np.sqrt(np.mean(steps_deg**2)))


def noisy_still_frames(test_data_dir, count: int, sigma: float) -> tuple[list[np.ndarray], Camera]:
    """One virtual-camera view of astronaut.png, repeated with fresh sensor-like noise on every frame."""
    photo = _rgb(test_data_dir, "astronaut.png")
    frame = VirtualCamera(
        photo, size=(640, 480), num_frames=1, target=(250, 200), zoom_range=(1.6, 1.6), roll_deg=0.0
    ).frame(0)
    rng = np.random.default_rng(0)
    frames = [
        np.clip(frame.image + rng.normal(0, sigma, frame.image.shape), 0, 255).astype(np.uint8) for _ in range(count)
    ]
    k = frame.intrinsics
    return frames, Camera.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], 640, 480)


def test_pose_is_steady_on_a_still_view_with_sensor_noise(test_data_dir) -> None:
    frames, camera = noisy_still_frames(test_data_dir, 30, sigma=2.0)
    position_mm, rotation_deg = pose_jitter(frames, camera)
    assert position_mm < 5.0 and rotation_deg < 1.0, (position_mm, rotation_deg)
    smoothed_mm, smoothed_deg = pose_jitter(frames, camera, FaceGeometrySmoother())
    assert smoothed_mm < position_mm and smoothed_deg < rotation_deg
