"""head_tracker_node over DDS: the built executable in its own process; this test plays the robot (a position
servo publishing joint_states and a camera on the head seeing a fixed face) and checks that the head turns to
centre the face within its speed limit, on both outputs; bad parameters end the node with the reason."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PointStamped
from node_harness import FRAME_ID, NodeProcess
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from facemesh_ros.interaction.head_tracking import PanTiltHead

JOINTS = ["neck_pan", "neck_tilt"]
MAX_SPEED = (1.0, 0.6)
HEAD = PanTiltHead(max_speed=MAX_SPEED, tilt_xyz=(0.0, 0.0, 0.1), camera_xyz=(0.05, 0.0, 0.04))
FACE = np.array([1.2, 0.5, 0.2])  # base frame: ahead, to the left, a little up


@pytest.fixture(scope="module")
def tracker(ros, tmp_path_factory):
    folder = tmp_path_factory.mktemp("head_tracker")
    args = ["-p", f"joint_names:={JOINTS}".replace("'", '"'), "-p", f"max_speed:={list(MAX_SPEED)}",
            "-p", "tilt_xyz:=[0.0, 0.0, 0.1]", "-p", "camera_xyz:=[0.05, 0.0, 0.04]", "-p", "output:=both",
            "-p", "dead_band_deg:=0.5"]  # fmt: skip
    process = NodeProcess(folder / "head_tracker.log", *args, executable="head_tracker_node")
    yield process
    process.stop()


def test_head_turns_to_the_face_within_its_speed_limits(tracker):
    node = rclpy.create_node("head_tracker_test_robot")
    commands: list[JointState] = []
    trajectories: list[JointTrajectory] = []
    node.create_subscription(JointState, "/head_tracker/command", commands.append, 10)
    node.create_subscription(JointTrajectory, "/head_tracker/joint_trajectory", trajectories.append, 10)
    joints_pub = node.create_publisher(JointState, "joint_states", 10)
    target_pub = node.create_publisher(PointStamped, "target", 10)
    angles = np.zeros(2)
    errors, speeds = [], []
    last_image = 0.0
    deadline = time.monotonic() + 30.0
    try:
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.01)
            while commands:  # a stiff position servo
                command = commands.pop(0)
                assert command.name == JOINTS
                speeds.append(np.abs(command.velocity))
                angles = np.array(command.position)
            now = node.get_clock().now()
            state = JointState(name=["wheel", *JOINTS], position=[7.0, *angles.tolist()])
            state.header.stamp = now.to_msg()
            joints_pub.publish(state)
            if time.monotonic() - last_image > 1 / 15:  # a 15 Hz camera on the head
                last_image = time.monotonic()
                x, y, z = HEAD.to_optical(FACE, *angles)
                target = PointStamped()
                target.header.stamp, target.header.frame_id = now.to_msg(), FRAME_ID
                target.point.x, target.point.y, target.point.z = x, y, z
                target_pub.publish(target)
                errors.append(np.degrees(np.arctan2(np.hypot(x, y), z)))
            if len(errors) > 30 and max(errors[-10:]) < 0.5:
                break
    finally:
        node.destroy_node()
    assert errors and errors[0] > 20.0, "the face must start well off-centre"
    assert max(errors[-10:]) < 0.5, (errors[-10:], tracker.log()[-2000:])
    assert np.all(np.max(speeds, axis=0) <= np.array(MAX_SPEED) + 1e-6)
    assert np.max(speeds, axis=0)[0] > 0.9 * MAX_SPEED[0]  # it did move at the limit
    assert trajectories and trajectories[-1].joint_names == JOINTS and len(trajectories[-1].points) == 1


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ("pan_limits:=[1.0, -1.0]", "lower limit must be below"),
        ("max_speed:=[1.0]", "two finite numbers"),
        ("joint_names:=[pan, pan]", "two different names"),
        ("output:=servo", "output must be one of"),
        ("rate:=0.0", "rate"),
    ],
)
def test_bad_parameters_end_the_node_with_the_reason(tmp_path, argument, reason):
    process = NodeProcess(tmp_path / "bad.log", "-p", argument, executable="head_tracker_node")
    assert process.process.wait(timeout=30) == 1
    log = process.log()
    process.stop()
    assert reason in log and "Traceback" not in log, log
