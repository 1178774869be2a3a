"""head_tracker node: a pan/tilt head that keeps the primary face centred. A thin adapter over
facemesh_ros.interaction.head_tracking (kinematics, dead band, speed limits; see there for the frames and signs).

In:  target (geometry_msgs/PointStamped: face_mesh's ~/target, in the frame of the camera on the head),
     joint_states (sensor_msgs/JointState: the head's measured angles, matched to each target by its stamp).
Out: ~/command (sensor_msgs/JointState: position and velocity setpoints of the two joints, at `rate` Hz) and,
     with output 'trajectory' or 'both', ~/joint_trajectory (trajectory_msgs/JointTrajectory, one point
     reached 1/rate s later), for a position controller or a joint_trajectory_controller.

Without joint_states the head is taken to be where the node last commanded it. Parameters are read at start
(read-only); invalid ones end the node with the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from facemesh_ros.interaction.head_tracking import HeadTracker, JointHistory, PanTiltHead
from facemesh_ros.ros.messages import stamp_seconds
from facemesh_ros.ros.parameters import ParameterSpec
from facemesh_ros.ros.spin import run_node

OUTPUTS = ("joint_state", "trajectory", "both")
PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("joint_names", ["head_pan_joint", "head_tilt_joint"], "Pan and tilt joint names.", "startup"),
    ParameterSpec("pan_limits", [-2.5, 2.5], "Pan joint limits (rad); positive pan turns left.", "startup"),
    ParameterSpec("tilt_limits", [-0.8, 0.8], "Tilt joint limits (rad); positive tilt looks down.", "startup"),
    ParameterSpec("max_speed", [2.0, 2.0], "Speed limits of pan and tilt (rad/s).", "startup"),
    ParameterSpec(
        "dead_band_deg",
        1.0,
        "Targets closer than this to the current goal are ignored (deg).",
        "startup",
        low=0.0,
        high=45.0,
    ),
    ParameterSpec("tilt_xyz", [0.0, 0.0, 0.0], "Tilt axis position in the pan link (m).", "startup"),
    ParameterSpec("camera_xyz", [0.0, 0.0, 0.0], "Camera optical origin in the tilt link (m).", "startup"),
    ParameterSpec(
        "camera_rpy",
        [0.0, 0.0, 0.0],
        "Camera rotation on the tilt link beyond looking along its x axis (URDF roll, pitch, yaw; rad).",
        "startup",
    ),
    ParameterSpec("rate", 50.0, "Command rate (Hz).", "startup", low=1.0, high=1000.0),
    ParameterSpec(
        "target_timeout", 1.0, "Without a target for this long (s) the head holds still.", "startup", low=0.0, high=60.0
    ),
    ParameterSpec(
        "output",
        "joint_state",
        "'joint_state' (~/command), 'trajectory' (~/joint_trajectory) or 'both'.",
        "startup",
        OUTPUTS,
    ),
)


class HeadTrackerNode(Node):
    """The head_tracker node (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("head_tracker", **kwargs)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, spec.descriptor())
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        self.joint_names = [str(name) for name in value("joint_names")]
        if len(self.joint_names) != 2 or len(set(self.joint_names)) != 2:
            raise ValueError(f"joint_names must be two different names, got {self.joint_names}")
        if value("output") not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {value('output')!r}")
        head = PanTiltHead(
            pan_limits=tuple(value("pan_limits")),
            tilt_limits=tuple(value("tilt_limits")),
            max_speed=tuple(value("max_speed")),
            tilt_xyz=tuple(value("tilt_xyz")),
            camera_xyz=tuple(value("camera_xyz")),
            camera_rpy=tuple(value("camera_rpy")),
        )  # raises ValueError with the reason
        self.tracker = HeadTracker(head, dead_band=np.radians(value("dead_band_deg")))
        self.history = JointHistory()
        self.period = 1.0 / value("rate")
        self.target_timeout = value("target_timeout")
        self._last_target = -np.inf
        self._measured = False  # joint_states heard: the history holds the head's real angles
        output = value("output")
        self.command_pub = self.create_publisher(JointState, "~/command", 10) if output != "trajectory" else None
        self.trajectory_pub = (
            self.create_publisher(JointTrajectory, "~/joint_trajectory", 10) if output != "joint_state" else None
        )
        self.create_subscription(PointStamped, "target", self._on_target, 10)
        self.create_subscription(JointState, "joint_states", self._on_joint_state, 50)
        self.create_timer(self.period, self._on_timer)
        self.get_logger().info(f"head_tracker ready: target -> {', '.join(self.joint_names)} ({output})")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            angles = [msg.position[list(msg.name).index(name)] for name in self.joint_names]
        except (ValueError, IndexError):
            return  # another part of the robot
        self._measured = True
        self.history.add(stamp_seconds(msg.header.stamp), np.array(angles))

    def _on_target(self, msg: PointStamped) -> None:
        angles = self.history.at(stamp_seconds(msg.header.stamp))
        if angles is None:
            return  # the head's angles are not known yet
        point = np.array([msg.point.x, msg.point.y, msg.point.z])
        try:
            self.tracker.on_target(point, angles)
        except ValueError as error:
            self.get_logger().warning(f"target ignored: {error}", throttle_duration_sec=5.0)
            return
        self._last_target = self._now()

    def _on_timer(self) -> None:
        now = self._now()
        if now - self._last_target > self.target_timeout:
            self.tracker.goal = None  # no face for a while: hold where the head is
        latest = self.history.latest()
        measured = (
            latest
            if latest is not None
            else (self.tracker.setpoint if self.tracker.setpoint is not None else np.zeros(2))
        )
        setpoint, velocity = self.tracker.step(measured, self.period)
        if not self._measured:
            self.history.add(now, setpoint)  # open loop: the head is where it was told to be
        stamp = self.get_clock().now().to_msg()
        if self.command_pub is not None:
            command = JointState(name=self.joint_names, position=setpoint.tolist(), velocity=velocity.tolist())
            command.header.stamp = stamp
            self.command_pub.publish(command)
        if self.trajectory_pub is not None:
            nanoseconds = int(self.period * 1e9)
            point = JointTrajectoryPoint(
                positions=setpoint.tolist(),
                velocities=velocity.tolist(),
                time_from_start=Duration(sec=nanoseconds // 10**9, nanosec=nanoseconds % 10**9),
            )
            trajectory = JointTrajectory(joint_names=self.joint_names, points=[point])
            trajectory.header.stamp = stamp
            self.trajectory_pub.publish(trajectory)


def main(args: list[str] | None = None) -> None:
    """Entry point of head_tracker_node."""
    run_node(HeadTrackerNode, "head_tracker", args, fatal_errors=(ValueError,))


if __name__ == "__main__":
    main()
