"""One-Euro smoothing of face geometry (opt-in), driven by timestamps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facemesh_ros.geometry import (
    Camera,
    FaceGeometrySmoother,
    OneEuroFilter,
    TrackSmoothers,
    estimate_face_geometry,
)
from facemesh_ros.geometry.model import default_canonical_face_model

MODEL = default_canonical_face_model()
CAMERA = Camera.from_intrinsics(900, 920, 650, 350, 1280, 720)


def landmarks_at(yaw: float, distance_cm: float, rng: np.random.Generator | None = None) -> np.ndarray:
    rotation = Rotation.from_euler("y", yaw, degrees=True).as_matrix()
    optical = (MODEL.vertices @ rotation.T + [3.0, -2.0, -distance_cm]) * [1, -1, -1]
    u = CAMERA.fx * optical[:, 0] / optical[:, 2] + CAMERA.cx
    v = CAMERA.fy * optical[:, 1] / optical[:, 2] + CAMERA.cy
    mean_depth = optical[:, 2].mean()
    z = (optical[:, 2] - mean_depth) * CAMERA.fx / (mean_depth * CAMERA.width)
    landmarks = np.column_stack(((u + 0.5) / CAMERA.width, (v + 0.5) / CAMERA.height, z))
    if rng is not None:
        landmarks[:, :2] += rng.normal(0, 1.0, (468, 2)) / (CAMERA.width, CAMERA.height)  # 1 px noise
    return landmarks


def test_constant_input_stays_constant():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.1)
    for i in range(10):
        np.testing.assert_allclose(f(np.array([1.0, -2.0]), i / 30), [1.0, -2.0])


def test_reduces_noise_on_a_still_target():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=0.5, beta=0.0)
    noisy = 5.0 + rng.normal(0, 1.0, 300)
    filtered = np.array([f(np.array([x]), i / 30)[0] for i, x in enumerate(noisy)])
    assert np.std(filtered[60:]) < 0.3 * np.std(noisy[60:])


def test_follows_a_step():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.5)
    f(np.zeros(1), 0.0)
    values = [f(np.ones(1), i / 30)[0] for i in range(1, 61)]
    assert 0 < values[0] < 1
    assert values[-1] == pytest.approx(1.0, abs=1e-3)


def test_uses_timestamps_not_call_counts():
    fast, slow = OneEuroFilter(), OneEuroFilter()
    fast(np.zeros(1), 0.0)
    slow(np.zeros(1), 0.0)
    assert slow(np.ones(1), 0.5)[0] > fast(np.ones(1), 0.01)[0]


def test_repeated_stamp_returns_last_estimate_and_time_going_back_restarts():
    f = OneEuroFilter()
    f(np.zeros(2), 1.0)
    first = f(np.ones(2), 1.1)
    np.testing.assert_allclose(f(np.full(2, 9.0), 1.1), first)
    np.testing.assert_allclose(f(np.full(2, 7.0), 0.5), [7.0, 7.0])  # replayed bag: restart
    np.testing.assert_allclose(f(np.full(2, 3.0), 10.0), [3.0, 3.0])  # long gap: restart


def test_bad_parameters():
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)


def test_smoother_steadies_a_still_face():
    rng = np.random.default_rng(1)
    smoother = FaceGeometrySmoother(min_cutoff=0.5)
    raw, smooth = [], []
    for i in range(90):
        geometry = estimate_face_geometry(landmarks_at(10, 80, rng), CAMERA)
        raw.append(geometry.position)
        smoothed = smoother(geometry, i / 30)
        smooth.append(smoothed.position)
        assert np.linalg.norm(smoothed.orientation) == pytest.approx(1.0)
        assert np.all(np.isfinite(smoothed.pose_matrix))
    raw_jitter = np.linalg.norm(np.diff(raw[30:], axis=0), axis=1).mean()
    smooth_jitter = np.linalg.norm(np.diff(smooth[30:], axis=0), axis=1).mean()
    assert smooth_jitter < 0.3 * raw_jitter


def test_smoother_first_frame_is_unchanged_and_consistent():
    geometry = estimate_face_geometry(landmarks_at(-30, 120), CAMERA)
    smoothed = FaceGeometrySmoother()(geometry, 5.0)
    np.testing.assert_allclose(smoothed.pose_matrix, geometry.pose_matrix, atol=1e-9)
    np.testing.assert_allclose(smoothed.position, geometry.position, atol=1e-12)
    np.testing.assert_allclose(smoothed.mesh_vertices, geometry.mesh_vertices, atol=1e-9)


def test_smoother_tracks_a_turning_head():
    smoother = FaceGeometrySmoother(min_cutoff=1.0, rotation_beta=1.0, smooth_landmarks=False)
    for i, yaw in enumerate(np.linspace(-40, 40, 30)):
        smoothed = smoother(estimate_face_geometry(landmarks_at(yaw, 90), CAMERA), i / 30)
    for i in range(30, 60):  # then holds still at +40 deg
        smoothed = smoother(estimate_face_geometry(landmarks_at(40, 90), CAMERA), i / 30)
    yaw = Rotation.from_matrix(smoothed.pose.rotation).as_euler("yxz", degrees=True)[0]
    assert yaw == pytest.approx(40, abs=0.5)


def test_track_smoothers_smooth_each_track_on_its_own_and_forget_lost_ones():
    rng = np.random.default_rng(3)
    smoothers = TrackSmoothers(min_cutoff=0.5, beta=0.0)
    reference = {7: FaceGeometrySmoother(min_cutoff=0.5, beta=0.0), 9: FaceGeometrySmoother(min_cutoff=0.5, beta=0.0)}
    for frame in range(5):
        stamp = frame / 30
        faces = {7: estimate_face_geometry(landmarks_at(10, 50, rng), CAMERA)}
        faces[9] = estimate_face_geometry(landmarks_at(-20, 80, rng), CAMERA)
        out = smoothers([7, 9], [faces[7], faces[9]], stamp)
        for track_id, smoothed in zip((7, 9), out, strict=True):
            expected = reference[track_id](faces[track_id], stamp)
            np.testing.assert_allclose(smoothed.pose_matrix, expected.pose_matrix, rtol=0, atol=1e-12)
    assert len(smoothers) == 2
    # track 9 lost for a frame (a face without geometry passes through), then a new smoother for id 9
    noisy = estimate_face_geometry(landmarks_at(10, 50, rng), CAMERA)
    assert smoothers([7, 11], [noisy, None], 5 / 30)[1] is None
    assert len(smoothers) == 1
    fresh = estimate_face_geometry(landmarks_at(-20, 80, rng), CAMERA)
    (restarted,) = smoothers([9], [fresh], 6 / 30)
    np.testing.assert_allclose(restarted.pose_matrix, fresh.pose_matrix, atol=1e-9)  # a new filter returns its input
    smoothers.reset()
    assert len(smoothers) == 0


def test_track_smoothers_reject_bad_options_at_once():
    with pytest.raises(ValueError, match="min_cutoff > 0"):
        TrackSmoothers(min_cutoff=0.0)
    smoothers = TrackSmoothers()
    with pytest.raises(ValueError, match="2 track ids but 1 geometries"):
        smoothers([1, 2], [None], 0.0)
    assert smoothers([1], [None], 0.0) == [None]
