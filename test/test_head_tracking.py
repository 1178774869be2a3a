"""Pan/tilt head tracking core (facemesh_ros.interaction.head_tracking): kinematics, aiming, dead band, speed
limits, and a closed loop with a camera that moves with the head and a delayed face detector."""

from __future__ import annotations

import numpy as np
import pytest

from facemesh_ros.interaction.head_tracking import HeadTracker, JointHistory, PanTiltHead, rotation_rpy

OFFSET_HEAD = PanTiltHead(tilt_xyz=(0.0, 0.0, 0.12), camera_xyz=(0.08, 0.03, 0.05), camera_rpy=(0.0, 0.1, -0.05))


def test_camera_looks_forward_at_zero():
    pose = PanTiltHead().camera_pose(0.0, 0.0)
    # optical z (forward) = base x, optical x (right) = -base y, optical y (down) = -base z
    np.testing.assert_allclose(pose[:3, :3], [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)


def test_positive_pan_looks_left_and_positive_tilt_looks_down():
    head = PanTiltHead()
    forward = lambda pan, tilt: head.camera_pose(pan, tilt)[:3, 2]  # noqa: E731
    assert forward(0.3, 0.0)[1] > 0  # left is +y
    assert forward(0.0, 0.3)[2] < 0  # down is -z


def test_to_base_and_to_optical_are_inverse():
    point = np.array([0.2, -0.1, 1.5])
    back = OFFSET_HEAD.to_optical(OFFSET_HEAD.to_base(point, 0.4, -0.2), 0.4, -0.2)
    np.testing.assert_allclose(back, point, atol=1e-12)


@pytest.mark.parametrize("head", [PanTiltHead(), OFFSET_HEAD], ids=["on-axis", "offset"])
def test_aim_centres_the_point(head):
    for point in ([2.0, 0.5, 0.3], [1.0, -0.6, -0.4], [0.6, 0.4, 0.5]):
        angles = head.aim(np.array(point), np.zeros(2))
        x, y, z = head.to_optical(point, *angles)
        assert z > 0 and abs(x) / z < 1e-6 and abs(y) / z < 1e-6


def test_rpy_is_urdf_order():
    np.testing.assert_allclose(rotation_rpy(0.0, 0.0, np.pi / 2) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(rotation_rpy(np.pi / 2, 0.0, 0.0) @ [0, 1, 0], [0, 0, 1], atol=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pan_limits": (1.0, -1.0)}, "lower limit must be below"),
        ({"tilt_limits": (0.0,)}, "two finite numbers"),
        ({"max_speed": (1.0, 0.0)}, "max_speed must be > 0"),
        ({"camera_xyz": (0.0, float("nan"), 0.0)}, "three finite numbers"),
    ],
)
def test_bad_head_options_are_errors(options, message):
    with pytest.raises(ValueError, match=message):
        PanTiltHead(**options)


def test_history_interpolates_and_forgets():
    history = JointHistory(horizon=1.0)
    assert history.at(0.0) is None
    history.add(10.0, [0.0, 0.0])
    history.add(10.5, [1.0, -1.0])
    np.testing.assert_allclose(history.at(10.25), [0.5, -0.5])
    np.testing.assert_allclose(history.at(9.0), [0.0, 0.0])
    np.testing.assert_allclose(history.at(11.0), [1.0, -1.0])
    history.add(12.0, [2.0, 2.0])
    assert len(history) == 1  # older than the horizon
    history.add(5.0, [3.0, 3.0])  # time went backwards: start over
    assert len(history) == 1 and history.latest().tolist() == [3.0, 3.0]


def test_bad_target_is_rejected_and_keeps_the_goal():
    tracker = HeadTracker(PanTiltHead())
    tracker.on_target([0.1, 0.0, 1.0], [0.0, 0.0])
    goal = tracker.goal.copy()
    for bad in ([0.0, 0.0, -1.0], [0.0, float("nan"), 1.0], [1.0, 2.0]):
        with pytest.raises(ValueError, match="in front of the camera"):
            tracker.on_target(bad, [0.0, 0.0])
    np.testing.assert_array_equal(tracker.goal, goal)
    with pytest.raises(ValueError, match="dead_band"):
        HeadTracker(PanTiltHead(), dead_band=-0.1)


def test_dead_band_ignores_small_moves_and_limits_clip_the_goal():
    head = PanTiltHead(pan_limits=(-0.5, 0.5))
    tracker = HeadTracker(head, dead_band=np.radians(2.0))
    assert tracker.on_target([0.0, 0.0, 1.0], [0.0, 0.0])
    assert not tracker.on_target([np.tan(np.radians(1.0)), 0.0, 1.0], [0.0, 0.0])
    assert tracker.on_target([np.tan(np.radians(3.0)), 0.0, 1.0], [0.0, 0.0])
    assert tracker.goal[0] == pytest.approx(-np.radians(3.0))  # target to the right: pan right (negative)
    tracker.on_target([-5.0, 0.0, 1.0], [0.0, 0.0])  # far to the left: beyond the limit
    assert tracker.goal[0] == pytest.approx(0.5)


def test_setpoints_respect_the_speed_limit():
    head = PanTiltHead(max_speed=(1.0, 0.5))
    tracker = HeadTracker(head)
    setpoint, velocity = tracker.step([0.1, 0.0], 0.02)
    assert setpoint.tolist() == [0.1, 0.0] and velocity.tolist() == [0.0, 0.0]  # no target yet: hold
    tracker.on_target([-1.0, 1.0, 1.0], [0.1, 0.0])  # 45 degrees left and down
    previous = setpoint
    for _ in range(200):
        setpoint, velocity = tracker.step(setpoint, 0.02)
        assert np.all(np.abs(setpoint - previous) <= np.array([1.0, 0.5]) * 0.02 + 1e-12)
        assert np.all(np.abs(velocity) <= [1.0 + 1e-9, 0.5 + 1e-9])
        previous = setpoint
    np.testing.assert_allclose(setpoint, tracker.goal)


def test_closed_loop_with_a_moving_camera_and_latency_settles_without_overshoot():
    """A servoed head, the camera on it, a detector 150 ms late: the tracker must use the joint angles of the
    image's time. Using the current angles instead overshoots (checked too, so the test can fail)."""
    head = OFFSET_HEAD
    face = np.array([1.5, 0.6, 0.35])  # base frame, metres
    dt, latency_steps = 0.01, 15

    def run(use_image_time: bool) -> tuple[float, float]:
        """(largest pointing error after first coming within 1 degree, final error), degrees."""
        tracker, history = HeadTracker(head, dead_band=np.radians(0.5)), JointHistory()
        angles = np.zeros(2)
        seen: list[tuple[float, np.ndarray]] = []
        errors = []
        for step in range(300):
            t = step * dt
            history.add(t, angles)
            if step % 3 == 0:  # a 33 Hz camera
                seen.append((t, head.to_optical(face, *angles)))
            if seen and t - seen[0][0] >= latency_steps * dt - 1e-9:
                stamp, point = seen.pop(0)
                tracker.on_target(point, history.at(stamp) if use_image_time else angles)
            setpoint, _ = tracker.step(angles, dt)
            angles = setpoint  # a stiff position servo
            x, y, z = head.to_optical(face, *angles)
            errors.append(np.degrees(np.arctan2(np.hypot(x, y), z)))
        settled_from = next((i for i, e in enumerate(errors) if e < 1.0), 0)
        return max(errors[settled_from:]), errors[-1]

    swing, final = run(use_image_time=True)
    assert final < 0.5 and swing <= 1.0
    naive_swing, _ = run(use_image_time=False)
    assert naive_swing > 5.0
