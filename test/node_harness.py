"""Run the built face_mesh_node executable as its own process and talk to it over DDS from a test node."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue, SetParametersResult
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from facemesh_ros.ros.image_codec import image_from_pixels
from facemesh_ros.tools.player import camera_info_msg

FRAME_ID = "camera_optical_frame"


def node_executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not on PATH: run the tests through `make test` (source env.bash)")
    return path


class NodeProcess:
    """A node executable (installed by colcon) in its own process, its log kept in a file."""

    def __init__(
        self, log_path: Path, *ros_args: str, executable: str = "face_mesh_node", env: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 (the process writes it until stop() closes it)
        self.process = subprocess.Popen(
            [node_executable(executable), "--ros-args", *ros_args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("no VmRSS")

    def stop(self) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15)
        finally:
            self._log.close()


def face_mesh_with_package_yaml(folder: Path, overrides: dict[str, object]) -> NodeProcess:
    """face_mesh_node started as the launch file does: the package's YAML, then `overrides` in a second params
    file (a node-specific YAML value outranks `-p`, so overrides must be a YAML file too)."""
    override = folder / "override.yaml"
    lines = "".join(
        f"    {name}: {str(value).lower() if isinstance(value, bool) else value}\n" for name, value in overrides.items()
    )
    override.write_text("face_mesh:\n  ros__parameters:\n" + lines)
    package_yaml = Path(__file__).resolve().parent.parent / "config" / "face_mesh.yaml"
    return NodeProcess(folder / "face_mesh.log", "--params-file", str(package_yaml), "--params-file", str(override))


def stamp(index: int) -> Time:
    return Time(sec=1_000 + index // 10, nanosec=(index % 10) * 100_000_000)


def rgb_image(rgb: np.ndarray, header: Header) -> Image:
    return image_from_pixels(header, rgb, "rgb8")


def camera_info(intrinsics: np.ndarray, width: int, height: int, header: Header) -> CameraInfo:
    return camera_info_msg(header, intrinsics, width, height)


class DdsClient:
    """A test node publishing camera frames and collecting the node's outputs.

    Best effort by default, like camera drivers; reliable=True for tests that must not lose a frame.
    """

    def __init__(self, name: str, namespace: str = "", reliable: bool = False) -> None:
        self.node: Node = rclpy.create_node(name)
        prefix = f"/{namespace}" if namespace else ""
        qos = 10 if reliable else qos_profile_sensor_data
        self.image_pub = self.node.create_publisher(Image, f"{prefix}/image", qos)
        self.info_pub = self.node.create_publisher(CameraInfo, f"{prefix}/camera_info", qos)
        self.prefix = prefix

    def collect(self, msg_type: type, topic: str, qos: int | object = 10) -> list:
        received: list = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def spin_until(self, done: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            rclpy.spin_once(self.node, timeout_sec=0.02)
        return True

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, timeout=seconds)

    def set_parameters(self, node_name: str, **values: object) -> list[SetParametersResult]:
        client = self.node.create_client(SetParameters, f"{node_name}/set_parameters")
        assert client.wait_for_service(timeout_sec=20.0), "parameter service did not appear"
        request = SetParameters.Request(parameters=[_parameter(k, v) for k, v in values.items()])
        future = client.call_async(request)
        assert self.spin_until(future.done, timeout=20.0)
        self.node.destroy_client(client)
        return future.result().results

    def destroy(self) -> None:
        self.node.destroy_node()


def _parameter(name: str, value: object) -> ParameterMsg:
    if isinstance(value, bool):
        pv = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    elif isinstance(value, int):
        pv = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    elif isinstance(value, float):
        pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    else:
        pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(value))
    return ParameterMsg(name=name, value=pv)
