"""The package's messages cross a real DDS link between two processes unchanged."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sample_messages import sample_face_array, sample_landmarks
from tf2_msgs.msg import TFMessage

from facemesh_ros.msg import FaceMeshArray

PUBLISHER = Path(__file__).resolve().parent / "processes" / "sample_faces_publisher.py"


@pytest.fixture
def node() -> Iterator[Node]:
    rclpy.init()
    node = rclpy.create_node("message_test_listener")
    yield node
    node.destroy_node()
    rclpy.shutdown()


def start_publisher(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PUBLISHER), *args])


def spin_until(node: Node, done: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(subprocess.signal.SIGINT)
    return process.wait(timeout=10)


def test_face_mesh_array_round_trips_between_processes(node: Node) -> None:
    received: list[FaceMeshArray] = []
    node.create_subscription(FaceMeshArray, "faces", received.append, 10)
    publisher = start_publisher()
    try:
        spin_until(node, lambda: len(received) >= 2)
    finally:
        assert stop(publisher) == 0
    assert len(received) >= 2
    for msg in received:
        seq = msg.header.stamp.sec - 1_700_000_000
        expected = sample_face_array(seq)
        assert msg.header == expected.header
        assert (msg.image_width, msg.image_height) == (1280, 720)
        assert [f.id for f in msg.faces] == [seq * 2, seq * 2 + 1]
        for index, face in enumerate(msg.faces):
            landmarks = np.asarray(face.landmarks, dtype=np.float32).reshape(-1, 3)
            np.testing.assert_array_equal(landmarks, sample_landmarks(seq, index))
            np.testing.assert_allclose(np.asarray(face.metric_landmarks).reshape(-1, 3), landmarks * 0.1, rtol=1e-6)
            assert face.bbox == expected.faces[index].bbox
            assert face.pose == expected.faces[index].pose and face.has_pose
            assert face.scale == expected.faces[index].scale != 0.0


def test_tf_message_arrives_on_tf(node: Node) -> None:
    received: list[TFMessage] = []
    node.create_subscription(TFMessage, "/tf", received.append, 100)
    publisher = start_publisher()
    try:
        spin_until(node, lambda: len(received) >= 1)
    finally:
        stop(publisher)
    transform = received[0].transforms[0]
    assert transform.header.frame_id == "camera_color_optical_frame"
    assert transform.child_frame_id.startswith("face_")
    assert transform.transform.rotation.w == 1.0


def test_best_effort_publisher_is_heard_by_a_best_effort_subscriber(node: Node) -> None:
    received: list[FaceMeshArray] = []
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    node.create_subscription(FaceMeshArray, "faces", received.append, qos)
    publisher = start_publisher("--best-effort")
    try:
        spin_until(node, lambda: len(received) >= 1)
    finally:
        stop(publisher)
    assert received and len(received[0].faces) == 2
