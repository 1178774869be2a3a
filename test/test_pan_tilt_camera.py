"""The simulated pan/tilt camera of the closed-loop demo: its truth agrees with what the face mesh sees in its
frames, the head's signs are the tracker's, and settle times / overshoot are measured as documented."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.interaction.head_tracking import HeadTracker, PanTiltHead
from facemesh_ros.simulation.pan_tilt_camera import ASTRONAUT_SELLION, PanTiltCamera, Servo, settling


@pytest.fixture(scope="module")
def camera(test_data_dir):
    photo = np.ascontiguousarray(cv2.imread(str(test_data_dir / "astronaut.png"))[:, :, ::-1])
    return PanTiltCamera(photo, ASTRONAUT_SELLION)


@pytest.mark.parametrize(("angles", "scene"), [((0.1, -0.05), (0.0, 0.0)), ((0.25, 0.05), (0.2, 0.1))])
def test_truth_is_where_the_face_mesh_finds_the_sellion(camera, angles, scene):
    image = camera.render(np.array(angles), np.array(scene))
    with FaceMesh(static_image_mode=True) as face_mesh:
        result = face_mesh.process(image)
    assert result.num_faces == 1
    found = result.landmarks[0][168, :2] * camera.size
    assert np.linalg.norm(found - camera.face_pixel(np.array(angles), np.array(scene))) < 0.01 * camera.size[0]


def test_turning_the_head_moves_the_face_the_opposite_way(camera):
    start = camera.face_offset(np.zeros(2))
    assert camera.face_offset(np.array([0.1, 0.0]))[0] > start[0]  # pan left: the face moves right
    assert camera.face_offset(np.array([0.0, 0.1]))[1] < start[1]  # tilt down: the face moves up


def test_the_tracker_centres_the_simulated_face(camera):
    """The tracker aimed from what the camera sees (the true ray at a nominal 1.5 m) centres the face."""
    tracker = HeadTracker(camera.head, dead_band=0.0)
    angles = np.zeros(2)
    for _ in range(3):
        u, v = camera.face_pixel(angles, np.array([0.1, -0.05]))
        ray = np.linalg.solve(camera.k, [u, v, 1.0])
        tracker.on_target(ray / np.linalg.norm(ray) * 1.5, angles)
        angles = tracker.goal
    assert np.abs(camera.face_offset(angles, np.array([0.1, -0.05]))).max() < 1e-6


def test_camera_offsets_and_bad_photos_are_rejected(camera):
    with pytest.raises(ValueError, match="camera_xyz and tilt_xyz must be 0"):
        PanTiltCamera(camera.photo, ASTRONAUT_SELLION, PanTiltHead(camera_xyz=(0.1, 0.0, 0.0)))
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        PanTiltCamera(camera.photo[:, :, 0], ASTRONAUT_SELLION)


def test_servo_follows_at_its_speed():
    servo = Servo((1.0, 0.5))
    servo.command = np.array([1.0, -1.0])
    np.testing.assert_allclose(servo.step(0.1), [0.1, -0.05])
    for _ in range(30):
        servo.step(0.1)
    np.testing.assert_allclose(servo.angles, [1.0, -1.0])


def test_settling_measures_settle_time_and_overshoot():
    times = np.arange(0.0, 4.0, 0.01)
    offsets = np.zeros((len(times), 2))
    # jump at 0: 0.2 -> decays, crosses the centre by 0.04 at ~0.5 s, inside 0.03 from 0.6 s on
    first = times < 2.0
    t = times[first]
    offsets[first, 0] = np.where(t < 0.4, 0.2 - 0.5 * t, np.where(t < 0.6, -0.04 + 0.0 * t, 0.01))
    # jump at 2: never settles
    offsets[~first, 1] = 0.1
    results = settling(times, offsets, [0.0, 2.0], 4.0, tolerance=0.03)
    assert results[0].initial_offset == pytest.approx(0.2)
    assert results[0].settle_time == pytest.approx(0.6, abs=0.011)
    assert results[0].overshoot == pytest.approx(0.04)
    assert results[1].settle_time is None and results[1].overshoot == 0.0
