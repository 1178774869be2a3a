"""The literal `ros2 launch facemesh_ros face_mesh.launch.py ...` command, as a user runs it.

Each case starts the real launch process (nodes over DDS in this session's domain), checks what the graph
shows (nodes, their subscriptions, their parameters), then sends SIGINT and expects exit 0 with every process
gone. Bad argument values must fail before any node starts, naming the argument. Processes are recognised by
an environment marker, so nothing else on the machine is mistaken for an orphan.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rclpy.qos import ReliabilityPolicy

MARKER = "FACEMESH_ROS_LAUNCH_TEST"
START_TIMEOUT = 60.0


class Launch:
    """One `ros2 launch` process; its output goes to a file (a pipe could fill and block it)."""

    def __init__(self, arguments: list[str], log: Path) -> None:
        self.marker = uuid.uuid4().hex
        self.log = log
        env = {**os.environ, MARKER: self.marker}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                ["ros2", "launch", "facemesh_ros", "face_mesh.launch.py", *arguments],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> list[int]:
        """Every live process started by this launch (the launch itself included)."""
        needle = f"{MARKER}={self.marker}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if needle in environ.split(b"\0") and state != "Z":
                found.append(int(entry.name))
        return found

    def interrupt(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill_all(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Launch]]:
    started: list[Launch] = []

    assert shutil.which("ros2"), "no ros2 command: `make setup` builds it from ../shared (or FACEMESH_ROS_SHARED)"

    def start(*arguments: str) -> Launch:
        started.append(Launch(list(arguments), tmp_path / f"launch{len(started)}.txt"))
        return started[-1]

    yield start
    for each in started:  # a failed test must not leave its nodes running
        each.kill_all()


@pytest.fixture(scope="module")
def graph(ros: None) -> Iterator[object]:
    import rclpy

    node = rclpy.create_node("launch_test_observer")
    yield node
    node.destroy_node()


def wait_for_nodes(graph, launch: Launch, names: set[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert launch.process.poll() is None, f"launch ended early:\n{launch.output()}"
        present = {ns.rstrip("/") + "/" + name for name, ns in graph.get_node_names_and_namespaces()}
        if names <= present:
            return
        time.sleep(0.2)
    raise AssertionError(f"nodes {names} not seen within {START_TIMEOUT} s:\n{launch.output()}")


def subscriptions(graph, name: str, namespace: str = "/", expect: str = "camera_info") -> dict[str, list[str]]:
    """The node's subscribed topics, once one ending in `expect` shows (they appear after the node itself)."""
    deadline = time.monotonic() + 10
    while True:
        topics = dict(graph.get_subscriber_names_and_types_by_node(name, namespace))
        if any(t.endswith(expect) for t in topics) or time.monotonic() > deadline:
            return topics
        time.sleep(0.2)


def parameters(graph, node: str, names: list[str]) -> dict[str, object]:
    import rclpy
    from rclpy.parameter import parameter_value_to_python
    from rclpy.parameter_client import AsyncParameterClient

    client = AsyncParameterClient(graph, node)
    assert client.wait_for_services(timeout_sec=10.0), f"no parameter services on {node}"
    future = client.get_parameters(names)
    rclpy.spin_until_future_complete(graph, future, timeout_sec=10.0)
    return {name: parameter_value_to_python(value) for name, value in zip(names, future.result().values, strict=True)}


def subscription_reliability(graph, topic: str) -> ReliabilityPolicy:
    (info,) = graph.get_subscriptions_info_by_topic(topic)
    return info.qos_profile.reliability


def lifecycle_state(graph, node: str) -> str:
    """The managed node's current state label, asked over its lifecycle service."""
    import rclpy
    from lifecycle_msgs.srv import GetState

    client = graph.create_client(GetState, f"{node}/get_state")
    try:
        assert client.wait_for_service(timeout_sec=10.0), f"no {node}/get_state service"
        future = client.call_async(GetState.Request())
        rclpy.spin_until_future_complete(graph, future, timeout_sec=10.0)
        return future.result().current_state.label
    finally:
        graph.destroy_client(client)


def stop_cleanly(launch: Launch) -> None:
    assert launch.interrupt() == 0, launch.output()
    assert launch.processes() == [], f"orphaned processes after SIGINT:\n{launch.output()}"


def test_defaults(launch, graph) -> None:
    run = launch()
    wait_for_nodes(graph, run, {"/face_mesh"})
    topics = subscriptions(graph, "face_mesh")
    assert topics["/camera/image_raw"] == ["sensor_msgs/msg/Image"]
    assert topics["/camera/camera_info"] == ["sensor_msgs/msg/CameraInfo"]
    assert parameters(
        graph,
        "/face_mesh",
        [
            "max_num_faces",
            "image_transport",
            "use_sim_time",
            "qos_overrides./camera/image_raw.subscription.reliability",
            "qos_overrides./face_mesh/faces.publisher.reliability",
        ],
    ) == {
        "max_num_faces": 1,
        "image_transport": "raw",
        "use_sim_time": False,
        "qos_overrides./camera/image_raw.subscription.reliability": "best_effort",
        "qos_overrides./face_mesh/faces.publisher.reliability": "reliable",
    }
    assert subscription_reliability(graph, "/camera/image_raw") == ReliabilityPolicy.BEST_EFFORT
    # face_mesh is a managed node: the launch file leaves autostart on, so it configures and activates itself
    assert lifecycle_state(graph, "/face_mesh") == "active"
    stop_cleanly(run)


def test_readme_remaps(launch, graph) -> None:
    run = launch("image:=/camera/color/image_raw", "camera_info:=/camera/color/camera_info")
    wait_for_nodes(graph, run, {"/face_mesh"})
    topics = subscriptions(graph, "face_mesh")
    assert {"/camera/color/image_raw", "/camera/color/camera_info"} <= set(topics)
    assert "/camera/image_raw" not in topics
    stop_cleanly(run)


def test_compressed_transport(launch, graph) -> None:
    run = launch("image_transport:=compressed")
    wait_for_nodes(graph, run, {"/face_mesh"})
    topics = subscriptions(graph, "face_mesh")
    assert topics["/camera/image_raw/compressed"] == ["sensor_msgs/msg/CompressedImage"]
    assert "/camera/image_raw" not in topics
    stop_cleanly(run)


def test_namespace_with_params_file(launch, graph, tmp_path: Path) -> None:
    params = tmp_path / "robot.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    default_vertical_fov_deg: 50.0\n"
        "/**/face_mesh:\n  ros__parameters:\n    max_num_faces: 3\n    refine_landmarks: true\n"
        "    qos_overrides:\n      /camera/image_raw:\n        subscription:\n          reliability: reliable\n"
        "          depth: 3\n"
    )
    run = launch("namespace:=robot1", f"params_file:={params}", "frame_prefix:=robot1/", "use_sim_time:=true")
    wait_for_nodes(graph, run, {"/robot1/face_mesh"})
    assert parameters(
        graph,
        "/robot1/face_mesh",
        ["max_num_faces", "refine_landmarks", "default_vertical_fov_deg", "frame_prefix", "use_sim_time"],
    ) == {
        "max_num_faces": 3,
        "refine_landmarks": True,
        "default_vertical_fov_deg": 50.0,
        "frame_prefix": "robot1/",
        "use_sim_time": True,
    }
    assert "/camera/image_raw" in subscriptions(graph, "face_mesh", "/robot1")  # absolute remaps stay absolute
    # the standard qos_overrides from the params file reach the real subscription (best effort by default)
    assert subscription_reliability(graph, "/camera/image_raw") == ReliabilityPolicy.RELIABLE
    assert subscription_reliability(graph, "/camera/camera_info") == ReliabilityPolicy.BEST_EFFORT
    stop_cleanly(run)


def test_effect_glasses_starts_face_effect_beside_face_mesh(launch, graph) -> None:
    run = launch("effect:=glasses")
    wait_for_nodes(graph, run, {"/face_mesh", "/face_effect"})
    assert parameters(graph, "/face_effect", ["effect"]) == {"effect": "glasses"}
    from sensor_msgs.msg import Image

    # face_effect reads its inputs only while its output has a subscriber
    viewer = graph.create_subscription(Image, "/face_effect/image", lambda _: None, 1)
    topics = subscriptions(graph, "face_effect", expect="faces")
    graph.destroy_subscription(viewer)
    assert topics["/face_mesh/faces"] == ["facemesh_ros/msg/FaceMeshArray"]
    assert topics["/camera/image_raw"] == ["sensor_msgs/msg/Image"]
    stop_cleanly(run)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (
            "image_transport:=jpeg",
            'Argument "image_transport" provided value "jpeg" is not valid. '
            "Valid options are: ['raw', 'compressed']",
        ),
        ("rviz:=yes", "Argument \"rviz\" provided value \"yes\" is not valid. Valid options are: ['true', 'false']"),
        ("effect:=bogus", 'Argument "effect" provided value "bogus" is not valid'),
        ("effect:=gl'asses", 'Argument "effect" provided value "gl\'asses" is not valid'),
        ("use_sim_time:=1", 'Argument "use_sim_time" provided value "1" is not valid'),
        ("effect:=object", "effect:=object needs the launch argument object_mesh:=<file>"),
        ("params_file:=/no/such.yaml", "launch argument params_file:=/no/such.yaml: no such file"),
        ("rviz:=true", "rviz:=true but the package rviz2 is not installed"),
    ],
)
def test_bad_argument_fails_before_any_node_starts(launch, argument: str, expected: str) -> None:
    if argument == "rviz:=true" and _has_package("rviz2"):
        pytest.skip("rviz2 is installed here")
    run = launch(argument)
    assert run.process.wait(timeout=60) == 1
    output = run.output()
    assert expected in output
    assert "process started" not in output
    assert run.processes() == []


def test_object_effect_file_must_exist(launch, tmp_path: Path) -> None:
    texture = tmp_path / "texture.png"
    texture.write_bytes(b"")
    run = launch("effect:=object", f"object_mesh:={tmp_path / 'missing.obj'}", f"object_texture:={texture}")
    assert run.process.wait(timeout=60) == 1
    assert f"launch argument object_mesh:={tmp_path / 'missing.obj'}: no such file" in run.output()
    assert "process started" not in run.output()


def _has_package(name: str) -> bool:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix(name)
    except PackageNotFoundError:
        return False
    return True
