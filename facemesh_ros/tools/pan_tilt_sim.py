"""pan_tilt_sim node: a simulated pan/tilt head with a camera, for closing the head-tracking loop in the demo.

It renders a real photo as the head's camera sees it (facemesh_ros.simulation.pan_tilt_camera) and publishes
`image` + `camera_info` at `rate` and the servo's `joint_states` at `joint_rate`; the servo follows the
position commands on `command` (sensor_msgs/JointState, e.g. head_tracker's ~/command). At the times of
`jumps` the face jumps to another direction. The clock of the jumps starts with the first face target heard
on `target` (face_mesh's ~/target: the loop is up), and the node ends `duration` seconds later. Every servo
step is written to `truth_path` (JSON lines: t, the stamp, jump, pan, tilt, the face's true offset from the
image centre in image widths, and `frame` for the steps of published images): the demo's settle times and
overshoot are computed from it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import cv2
import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header

from facemesh_ros.ros.image_codec import image_from_pixels
from facemesh_ros.ros.messages import stamp_seconds
from facemesh_ros.ros.spin import run_node
from facemesh_ros.simulation.pan_tilt_camera import ASTRONAUT_SELLION, PanTiltCamera, Servo
from facemesh_ros.tools.player import camera_info_msg

# t (s), the face's direction from the head: yaw (left), pitch (down) in degrees. It starts off to the right
# and up, then jumps four times by 8-13 degrees (a fifth to a third of the image width).
DEFAULT_JUMPS = [0.0, -6.0, -4.0, 3.0, 6.0, 2.0, 6.0, -4.0, 5.0, 9.0, 4.0, -5.0, 12.0, -5.0, 0.0]


class PanTiltSimNode(Node):
    """The pan_tilt_sim node (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pan_tilt_sim", **kwargs)
        declare = lambda name, default: self.declare_parameter(name, default).value  # noqa: E731
        photo_path = declare("photo", "")
        face_pixel = declare("face_pixel", list(ASTRONAUT_SELLION))
        self.joint_names = list(declare("joint_names", ["head_pan_joint", "head_tilt_joint"]))
        servo_speed = declare("servo_speed", [3.0, 3.0])
        jumps = np.asarray(declare("jumps", DEFAULT_JUMPS), np.float64)
        self.duration = declare("duration", 15.0)
        self.frame_id = declare("frame_id", "head_camera_optical_frame")
        truth_path = declare("truth_path", "")
        rate, joint_rate = declare("rate", 15.0), declare("joint_rate", 100.0)
        photo = cv2.imread(photo_path, cv2.IMREAD_COLOR) if photo_path else None
        if photo is None:
            raise ValueError(f"photo: cannot read an image from {photo_path!r}")
        if len(jumps) % 3 or len(jumps) == 0:
            raise ValueError("jumps: a flat list of (time s, yaw deg, pitch deg) triples")
        self.jumps = jumps.reshape(-1, 3)
        self.camera = PanTiltCamera(np.ascontiguousarray(photo[:, :, ::-1]), tuple(face_pixel))
        self.servo = Servo(tuple(servo_speed))
        self.truth = open(truth_path, "w") if truth_path else None  # noqa: SIM115 (kept open for the run, closed in stop())
        self.started: float | None = None
        self.commanded = False
        self.done = False
        self.image_pub = self.create_publisher(Image, "image", 1)
        self.info_pub = self.create_publisher(CameraInfo, "camera_info", 1)
        self.joints_pub = self.create_publisher(JointState, "joint_states", 10)
        self.create_subscription(JointState, "command", self._on_command, 10)
        self.create_subscription(PointStamped, "target", self._on_target, 10)
        self._last_step = time.monotonic()
        self.create_timer(1.0 / joint_rate, self._on_servo)
        self.create_timer(1.0 / rate, self._on_camera)

    def _elapsed(self) -> float | None:
        return None if self.started is None else time.monotonic() - self.started

    def _scene(self) -> tuple[int, np.ndarray]:
        elapsed = self._elapsed() or 0.0
        index = int(np.searchsorted(self.jumps[:, 0], elapsed, side="right")) - 1
        index = max(index, 0)
        return index, np.radians(self.jumps[index, 1:])

    def _on_command(self, msg: JointState) -> None:
        try:
            self.servo.command = np.array([msg.position[list(msg.name).index(n)] for n in self.joint_names])
        except (ValueError, IndexError):
            return
        self.commanded = True

    def _advance(self) -> tuple[np.ndarray, Header]:
        """Move the servo up to now, publish its angles (stamped now) and log the truth; (angles, header).
        Every image gets a joint sample at its own stamp, however irregular the timers run."""
        now = time.monotonic()
        angles = self.servo.step(now - self._last_step)
        self._last_step = now
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        state = JointState(name=self.joint_names, position=angles.tolist())
        state.header.stamp = header.stamp
        self.joints_pub.publish(state)
        return angles, header

    def _on_servo(self) -> None:
        angles, header = self._advance()
        self._log_truth(angles, header, frame=False)

    def _log_truth(self, angles: np.ndarray, header: Header, frame: bool) -> None:
        elapsed = self._elapsed()
        if elapsed is None:
            return
        if elapsed > self.duration:
            self.done = True
            return
        if self.truth is not None:
            index, scene = self._scene()
            offset = self.camera.face_offset(angles, scene)
            row = {"t": round(elapsed, 4), "stamp": stamp_seconds(header.stamp), "jump": index}
            row.update(pan=angles[0], tilt=angles[1], offset_x=float(offset[0]), offset_y=float(offset[1]), frame=frame)
            self.truth.write(json.dumps(row) + "\n")

    def _on_target(self, _msg: PointStamped) -> None:
        if self.started is None and self.commanded:
            self.started = time.monotonic()
            self.get_logger().info("the face is seen and commands arrive: the jumps start")

    def _on_camera(self) -> None:
        angles, header = self._advance()
        self._log_truth(angles, header, frame=True)
        _, scene = self._scene()
        rgb = self.camera.render(angles, scene)
        width, height = self.camera.size
        self.info_pub.publish(camera_info_msg(header, self.camera.k, width, height))
        self.image_pub.publish(image_from_pixels(header, rgb, "rgb8"))

    def stop(self) -> None:
        if self.truth is not None:
            self.truth.close()


def main(args: list[str] | None = None) -> None:
    """Entry point of pan_tilt_sim_node."""
    run_node(PanTiltSimNode, "pan_tilt_sim", args, fatal_errors=(ValueError,), done=lambda node: node.done)


if __name__ == "__main__":
    main()
