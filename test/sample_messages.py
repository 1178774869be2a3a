"""Deterministic sample messages, built the same way in the publishing and the receiving process."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from tf2_msgs.msg import TFMessage

from facemesh_ros.msg import FaceMesh, FaceMeshArray


def sample_landmarks(seq: int, face: int, count: int = 478) -> np.ndarray:
    return np.random.default_rng(seq * 10 + face).random((count, 3), dtype=np.float32)


def sample_face_array(seq: int) -> FaceMeshArray:
    msg = FaceMeshArray()
    msg.header.stamp = Time(sec=1_700_000_000 + seq, nanosec=123_456_789)
    msg.header.frame_id = "camera_color_optical_frame"
    msg.image_width, msg.image_height = 1280, 720
    for face in range(2):
        landmarks = sample_landmarks(seq, face)
        item = FaceMesh(id=seq * 2 + face, score=0.75, has_pose=True)
        item.bbox.x_offset, item.bbox.y_offset, item.bbox.width, item.bbox.height = 10, 20, 300, 400
        item.landmarks = landmarks.ravel()
        item.metric_landmarks = (landmarks * 0.1).ravel()
        item.pose.position.z = 0.5 + face
        item.pose.orientation.w = 1.0
        item.scale = 0.9 + 0.125 * face
        msg.faces.append(item)
    return msg


def sample_tf(seq: int) -> TFMessage:
    transform = TransformStamped()
    transform.header.stamp = Time(sec=1_700_000_000 + seq)
    transform.header.frame_id = "camera_color_optical_frame"
    transform.child_frame_id = f"face_{seq}"
    transform.transform.translation.z = 0.5
    transform.transform.rotation.w = 1.0
    return TFMessage(transforms=[transform])
