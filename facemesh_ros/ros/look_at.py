"""The look-at outputs: ~/target (geometry_msgs/PointStamped, the primary face's sellion in the image's frame),
the `face_target` TF frame (the primary face's frame under a fixed name) and ~/poses (PoseArray, every face).

A head-tracking node needs only ~/target: no iterating FaceMeshArray, no choosing a face. The primary face is
chosen by facemesh_ros.interaction.primary_face (a policy, with hysteresis).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, PointStamped, PoseArray
from rclpy.node import Node
from std_msgs.msg import Header

from facemesh_ros.geometry import FaceGeometry
from facemesh_ros.interaction.primary_face import PrimaryFaceSelector, policy_scores
from facemesh_ros.ros.cdr import CdrWriter
from facemesh_ros.ros.messages import Frame, pose_msg, stamp_seconds

TARGET_FRAME = "face_target"


def poses_msg(header: Header, geometries: Sequence[FaceGeometry | None]) -> PoseArray:
    """Every face's REP-155 frame (where its pose was recovered) in the image's frame."""
    return PoseArray(header=header, poses=[pose_msg(g.position, g.orientation) for g in geometries if g is not None])


def poses_cdr(header: Header, geometries: Sequence[FaceGeometry | None]) -> bytes:
    """poses_msg(header, geometries), serialized."""
    posed = [g for g in geometries if g is not None]
    writer = CdrWriter()
    writer.header(header)
    writer.count(len(posed))
    for geometry in posed:
        writer.pack("ddddddd", *geometry.position.tolist(), *geometry.orientation.tolist())
    return writer.value()


def target_msg(header: Header, geometry: FaceGeometry) -> PointStamped:
    """~/target: the face's sellion (its REP-155 frame's origin) in the image's frame."""
    x, y, z = map(float, geometry.position)
    return PointStamped(header=header, point=Point(x=x, y=y, z=z))


def target_cdr(header: Header, geometry: FaceGeometry) -> bytes:
    """target_msg(header, geometry), serialized."""
    writer = CdrWriter()
    writer.header(header)
    writer.pack("ddd", *geometry.position.tolist())
    return writer.value()


def target_frame(geometry: FaceGeometry, child_frame: str) -> Frame:
    """The primary face's REP-155 frame under the name `child_frame` (for messages.tf_message)."""
    return child_frame, geometry.position, geometry.orientation


class LookAt:
    """Chooses the primary face of each frame among the faces with a recovered pose."""

    def __init__(self, policy: str = "largest", switch_ratio: float = 1.5, switch_time: float = 1.0) -> None:
        policy_scores(policy, np.zeros((0, 468, 3)))  # rejects an unknown policy now
        self.policy = policy
        self.selector = PrimaryFaceSelector(switch_ratio, switch_time)

    def primary(
        self, header: Header, track_ids: np.ndarray, landmarks: np.ndarray, geometries: Sequence[FaceGeometry | None]
    ) -> int | None:
        """Index (into this frame's faces) of the primary face, or None when no face has a pose."""
        posed = [index for index, geometry in enumerate(geometries) if geometry is not None]
        positions = np.array([g.position for g in geometries if g is not None]).reshape(-1, 3)
        scores = policy_scores(self.policy, landmarks[posed], positions)
        primary_id = self.selector.update(track_ids[posed], scores, stamp_seconds(header.stamp))
        return None if primary_id is None else posed[[int(track_ids[i]) for i in posed].index(primary_id)]

    def reset(self) -> None:
        self.selector.reset()


class LookAtPublisher:
    """~/target, ~/poses and (through the caller's /tf publisher) the face_target frame of `node`."""

    def __init__(self, node: Node) -> None:
        self.target_pub = node.create_publisher(PointStamped, "~/target", 10)
        self.poses_pub = node.create_publisher(PoseArray, "~/poses", 10)

    def publish(self, header: Header, primary: FaceGeometry | None, geometries: Sequence[FaceGeometry | None]) -> None:
        """Publish to the topics somebody listens to (the face_target frame goes out on /tf regardless)."""
        if self.poses_pub.get_subscription_count() > 0:
            self.poses_pub.publish(poses_cdr(header, geometries))
        if primary is not None and self.target_pub.get_subscription_count() > 0:
            self.target_pub.publish(target_cdr(header, primary))
