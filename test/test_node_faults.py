"""Hostile input and faults against the face_mesh_node executable over DDS (issue 13): decode bombs, corrupt
frames, impossible camera_info, log floods, a stuck pipeline in /diagnostics, markers, parameters, startup
failures and signals. Each test reproduces one reported failure and checks the node's answer, and that the
node goes on working.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from face_mesh_reference import read_rgb
from node_harness import FRAME_ID, DdsClient, NodeProcess, camera_info, rgb_image, stamp
from sensor_msgs.msg import CameraInfo, CompressedImage, RegionOfInterest
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from facemesh_ros.model_paths import models_dir
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.simulation.virtual_camera import VirtualCamera

REPO = Path(__file__).resolve().parent.parent
SIZE = (640, 480)
# The shutdown check runs this many times per signal; `FACEMESH_SHUTDOWN_RUNS=50 pytest -k signal` is the
# long check (the suite keeps it short).
SHUTDOWN_RUNS = int(os.environ.get("FACEMESH_SHUTDOWN_RUNS", "2"))


@pytest.fixture(scope="module")
def frames(test_data_dir):
    photo = read_rgb("astronaut.png")
    return list(VirtualCamera(photo, size=SIZE, num_frames=8, target=(250, 200), pan=0.05, zoom_range=(1.4, 1.6)))


@pytest.fixture(scope="module")
def raw_node(ros, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    process = NodeProcess(
        folder / "face_mesh.log", "--params-file", str(REPO / "config" / "face_mesh.yaml"), "-r", "__ns:=/hostile"
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def raw(ros, raw_node):
    client = DdsClient("hostile_client", namespace="hostile")
    client.faces = client.collect(FaceMeshArray, "/hostile/face_mesh/faces")
    client.markers = client.collect(MarkerArray, "/hostile/face_mesh/markers")
    client.tf = client.collect(TFMessage, "/tf", 100)
    client.diagnostics = client.collect(DiagnosticArray, "/diagnostics")
    yield client
    client.destroy()


@pytest.fixture(scope="module")
def compressed_node(ros, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    process = NodeProcess(folder / "face_mesh.log", "-p", "image_transport:=compressed", "-r", "__ns:=/bombs")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def compressed(ros, compressed_node):
    client = DdsClient("bombs_client", namespace="bombs")
    client.faces = client.collect(FaceMeshArray, "/bombs/face_mesh/faces")
    client.jpeg_pub = client.node.create_publisher(CompressedImage, "/bombs/image/compressed", 10)
    yield client
    client.destroy()


def send(client: DdsClient, frame, index: int, info: CameraInfo | None = None) -> FaceMeshArray:
    """One raw frame (with its camera_info, or `info`) until the node answers with that stamp."""
    header = Header(stamp=stamp(index), frame_id=FRAME_ID)
    info = info or camera_info(frame.intrinsics, *SIZE, header)
    image = rgb_image(frame.image, header)
    for _ in range(20):
        client.info_pub.publish(info)
        client.spin_for(0.01)
        client.image_pub.publish(image)
        if client.spin_until(lambda: any(f.header.stamp == header.stamp for f in client.faces), timeout=1.0):
            return next(f for f in client.faces if f.header.stamp == header.stamp)
    raise AssertionError(f"no FaceMeshArray for stamp {header.stamp}")


def send_compressed(client: DdsClient, data: bytes, index: int, answered: bool = True) -> None:
    msg = CompressedImage(header=Header(stamp=stamp(index), frame_id=FRAME_ID), format="jpeg", data=data)
    for _ in range(20):
        client.jpeg_pub.publish(msg)
        if client.spin_until(lambda: any(f.header.stamp == msg.header.stamp for f in client.faces), timeout=0.5):
            return
        if not answered:
            return
    raise AssertionError(f"no FaceMeshArray for stamp {msg.header.stamp}")


def wait_for_log(node: NodeProcess, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while text not in node.log():
        assert time.monotonic() < deadline, f"'{text}' not in the node log:\n{node.log()[-3000:]}"
        time.sleep(0.1)
    return node.log()


def jpeg(frame) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))[1].tobytes()


def bomb(extension: str, width: int, height: int) -> bytes:
    """A few hundred bytes whose header declares width x height (decoding it takes seconds and gigabytes)."""
    data = bytearray(cv2.imencode(extension, np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    if extension == ".png":
        data[16:24] = struct.pack(">II", width, height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    else:
        at = data.index(b"\xff\xc0")
        data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def status_of(msg: DiagnosticArray, node: str) -> DiagnosticStatus | None:
    return next((s for s in msg.status if s.name.startswith(node)), None)


# ---- 1. decode bombs, 4. corrupt frames ------------------------------------------------------------------
def test_decode_bombs_are_refused_from_their_header_and_real_frames_keep_flowing(
    compressed, compressed_node, frames
) -> None:
    send_compressed(compressed, jpeg(frames[0]), 1)
    rss_before = compressed_node.rss_mb()
    start = time.monotonic()
    for index, data in enumerate([bomb(".jpg", 32000, 32000), bomb(".png", 20000, 20000)]):
        assert len(data) < 1000
        send_compressed(compressed, data, 10 + index, answered=False)
    send_compressed(compressed, jpeg(frames[1]), 20)  # answered right after: the worker never stalled
    assert time.monotonic() - start < 5.0
    log = wait_for_log(compressed_node, "32000x32000 = 1024000000 pixels")
    assert "max_image_pixels = 33177600: refused before decoding" in log
    assert "20000x20000" not in log  # the same kind of problem within ERROR_THROTTLE_S: counted, not logged
    assert compressed_node.rss_mb() - rss_before < 100
    bomb_stamps = {(stamp(i).sec, stamp(i).nanosec) for i in (10, 11)}
    assert not [f for f in compressed.faces if (f.header.stamp.sec, f.header.stamp.nanosec) in bomb_stamps]


def test_a_jpeg_with_a_corrupt_middle_is_rejected_and_libjpeg_does_not_flood_stderr(
    compressed, compressed_node, frames
) -> None:
    data = bytearray(jpeg(frames[2]))
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    for index in range(10):
        send_compressed(compressed, bytes(data), 30 + index, answered=False)
    log = wait_for_log(compressed_node, "corrupt jpeg frame rejected: decoder says 'Corrupt JPEG data")
    library_lines = [line for line in log.splitlines() if "Corrupt JPEG data" in line]
    assert len(library_lines) == 1 and library_lines[0].startswith("[ERROR]"), library_lines  # throttled, folded
    corrupt = {(stamp(30 + i).sec, stamp(30 + i).nanosec) for i in range(10)}
    assert not [f for f in compressed.faces if (f.header.stamp.sec, f.header.stamp.nanosec) in corrupt]
    send_compressed(compressed, jpeg(frames[2]), 50)


# ---- 3. impossible camera_info, 4. warn-once by kind -------------------------------------------------------
def impossible_info(frame, kind: str) -> CameraInfo:
    info = camera_info(frame.intrinsics, *SIZE, Header(frame_id=FRAME_ID))
    k = list(info.k)
    if kind == "principal point":
        k[2] = -1e6
    elif kind == "field of view":
        k[0] = k[4] = 1e12
    elif kind == "region of interest":
        info.roi = RegionOfInterest(x_offset=600, y_offset=0, width=640, height=480)
    info.k = k
    info.p = [k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


@pytest.mark.parametrize("kind", ["principal point", "field of view", "region of interest"])
def test_impossible_camera_info_gives_a_plausible_pose_and_one_warning(raw, raw_node, frames, kind) -> None:
    offset = {"principal point": 0, "field of view": 100, "region of interest": 200}[kind]
    for index in range(6):  # a value changing every frame is still one kind of problem
        info = impossible_info(frames[index], kind)
        if kind == "principal point":
            info.k[2] -= index
        msg = send(raw, frames[index], 1000 + offset + index, info=info)
        face = msg.faces[0]
        assert face.has_pose and 0.2 < face.pose.position.z < 5.0, face.pose.position
    log = wait_for_log(raw_node, f"camera_info implausible ({kind}")
    assert sum(f"camera_info implausible ({kind}" in line for line in log.splitlines()) == 1


def test_a_default_field_of_view_without_poses_is_refused(raw) -> None:
    (result,) = raw.set_parameters("/hostile/face_mesh", default_vertical_fov_deg=179.0)
    assert not result.successful
    (ok,) = raw.set_parameters("/hostile/face_mesh", default_vertical_fov_deg=150.0)
    assert ok.successful
    (back,) = raw.set_parameters("/hostile/face_mesh", default_vertical_fov_deg=63.0)
    assert back.successful


def test_a_face_without_pose_is_published_with_the_reason_logged(raw, raw_node, frames) -> None:
    info = camera_info(frames[0].intrinsics, *SIZE, Header(frame_id=FRAME_ID))
    info.d = [0.0, 0.0, 0.5, 0.5, 0.0]  # a tangential distortion no solver survives
    msg = send(raw, frames[0], 1500, info=info)
    assert len(msg.faces) == 1 and not msg.faces[0].has_pose
    assert "no pose recovered (solver failed" in wait_for_log(raw_node, "no pose recovered")
    assert send(raw, frames[0], 1501).faces[0].has_pose


# ---- 4. long strings, raw images over the limit ------------------------------------------------------------
def test_a_huge_encoding_string_is_shortened_in_the_log(raw, raw_node, frames) -> None:
    image = rgb_image(frames[0].image, Header(stamp=stamp(1600), frame_id=FRAME_ID))
    image.encoding = "e" * 1_000_000
    for _ in range(10):
        raw.image_pub.publish(image)
        raw.spin_for(0.3)
        if "unsupported encoding" in raw_node.log():
            break
    log = wait_for_log(raw_node, "unsupported encoding")
    assert max(map(len, log.splitlines())) < 2000 and "999800 more characters" in log


def test_a_raw_image_over_max_image_pixels_is_refused(raw, raw_node, frames) -> None:
    (limited,) = raw.set_parameters("/hostile/face_mesh", max_image_pixels=640 * 480 - 1)
    assert limited.successful
    try:
        image = rgb_image(frames[0].image, Header(stamp=stamp(1700), frame_id=FRAME_ID))
        for _ in range(10):
            raw.image_pub.publish(image)
            raw.spin_for(0.3)
            if "max_image_pixels = 307199" in raw_node.log():
                break
        assert "640x480 = 307200 pixels is larger than max_image_pixels = 307199" in raw_node.log()
    finally:
        (back,) = raw.set_parameters("/hostile/face_mesh", max_image_pixels=7680 * 4320)
        assert back.successful
    assert send(raw, frames[0], 1701).faces


# ---- 2. diagnostics --------------------------------------------------------------------------------------
def test_diagnostics_say_error_while_frames_arrive_but_none_is_processed(raw, frames) -> None:
    bad = rgb_image(frames[0].image, Header(frame_id=FRAME_ID))
    bad.encoding = "32FC1"
    raw.diagnostics.clear()
    deadline = time.monotonic() + 10.0
    error = None
    while error is None and time.monotonic() < deadline:  # 20 Hz of frames that are all rejected
        raw.image_pub.publish(bad)
        raw.spin_for(0.05)
        statuses = [status_of(m, "/hostile/face_mesh") for m in raw.diagnostics]
        error = next((s for s in statuses if s is not None and s.level == DiagnosticStatus.ERROR), None)
    assert error is not None, [status_of(m, "/hostile/face_mesh") for m in raw.diagnostics]
    values = {kv.key: kv.value for kv in error.values}
    assert "stalled" in error.message and "unsupported encoding" in error.message
    assert float(values["input rate (Hz)"]) > 5 and float(values["processed rate (Hz)"]) == 0.0
    assert float(values["time since last processed frame (s)"]) >= 3.0
    raw.diagnostics.clear()
    good = rgb_image(frames[1].image, Header(stamp=stamp(1800), frame_id=FRAME_ID))
    deadline = time.monotonic() + 10.0
    ok = False
    while not ok and time.monotonic() < deadline:  # good frames again: back to OK within a period or two
        raw.image_pub.publish(good)
        raw.spin_for(0.1)
        statuses = [status_of(m, "/hostile/face_mesh") for m in raw.diagnostics]
        ok = any(s is not None and s.level == DiagnosticStatus.OK for s in statuses)
    assert ok, [status_of(m, "/hostile/face_mesh") for m in raw.diagnostics]


def test_frames_lost_before_the_callback_are_counted(raw, frames) -> None:
    """A burst faster than the executor takes samples overflows the depth-1 reader queue: those samples never
    reach the callback, and only the publisher's sequence numbers tell."""
    send(raw, frames[0], 1999)  # discovery done: the burst reaches the node's reader
    big = cv2.resize(frames[0].image, (1920, 1440))
    image = rgb_image(big, Header(frame_id=FRAME_ID))
    raw.diagnostics.clear()
    for index in range(100):
        image.header.stamp = stamp(2000 + index)
        raw.image_pub.publish(image)
    assert raw.spin_until(
        lambda: any(
            int({kv.key: kv.value for kv in s.values}.get("lost frames", 0)) > 0
            for m in raw.diagnostics
            if (s := status_of(m, "/hostile/face_mesh"))
        ),
        timeout=5.0,
    )


# ---- 7. markers ----------------------------------------------------------------------------------------
def test_markers_expire_with_the_frame_rate_and_are_deleted_when_switched_off(raw, frames) -> None:
    for index in range(4):
        send(raw, frames[index], 2500 + index)
    assert raw.spin_until(lambda: len(raw.markers) > 0, timeout=5.0)
    added = [m for msg in raw.markers for m in msg.markers if m.action == Marker.ADD]
    lifetimes = {m.lifetime.sec + m.lifetime.nanosec * 1e-9 for m in added}
    assert lifetimes and all(0.1 <= t <= 2.0 for t in lifetimes), lifetimes
    raw.markers.clear()
    (off,) = raw.set_parameters("/hostile/face_mesh", publish_markers=False)
    assert off.successful
    try:
        assert raw.spin_until(
            lambda: any(m.action == Marker.DELETEALL for msg in raw.markers for m in msg.markers), timeout=5.0
        )
    finally:
        (on,) = raw.set_parameters("/hostile/face_mesh", publish_markers=True)
        assert on.successful


# ---- 8. parameters -------------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["/", "robot\n1/", "x" * 10_000, "a b/", "robot//", "/robot1/"])
def test_frame_prefix_must_be_a_tf_frame_prefix(raw, prefix) -> None:
    (result,) = raw.set_parameters("/hostile/face_mesh", frame_prefix=prefix)
    assert not result.successful and "frame_prefix must be" in result.reason and len(result.reason) < 400


def test_a_valid_frame_prefix_names_the_tf_frames(raw, frames) -> None:
    (ok,) = raw.set_parameters("/hostile/face_mesh", frame_prefix="robot1/")
    assert ok.successful
    try:
        face_id = send(raw, frames[0], 2600).faces[0].id
        assert raw.spin_until(
            lambda: any(t.child_frame_id == f"robot1/face_{face_id}" for m in raw.tf for t in m.transforms), timeout=5.0
        )
    finally:
        (back,) = raw.set_parameters("/hostile/face_mesh", frame_prefix="")
        assert back.successful


def test_a_second_node_of_the_same_name_is_warned_about(raw, raw_node, tmp_path) -> None:
    twin = NodeProcess(tmp_path / "twin.log", "-r", "__ns:=/hostile")
    try:
        deadline = time.monotonic() + 20.0
        text = "another node is also named /hostile/face_mesh"
        while text not in raw_node.log() + twin.log():
            assert time.monotonic() < deadline, twin.log()
            time.sleep(0.2)
    finally:
        twin.stop()


# ---- 5. startup failures -------------------------------------------------------------------------------
def _models_folder(tmp_path: Path, case: str) -> Path:
    folder = tmp_path / "models"
    if case == "missing models folder":
        return folder
    folder.mkdir()
    if case == "empty models folder":
        return folder
    for source in models_dir().iterdir():
        if source.suffix in (".onnx", ".npz"):
            (folder / source.name).symlink_to(source)
    if case == "wrong model file":
        (folder / "face_landmark.onnx").unlink()
        shutil.copy(models_dir() / "face_detection_short_range.onnx", folder / "face_landmark.onnx")
    elif case == "missing canonical model":
        (folder / "canonical_face_model.npz").unlink()
    elif case == "corrupt canonical model":
        (folder / "canonical_face_model.npz").unlink()
        (folder / "canonical_face_model.npz").write_bytes(b"PK\x03\x04 not really a zip")
    return folder


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("wrong model file", "face_landmark.onnx is not face_landmark: expected input [N, 192, 192, 3]"),
        ("missing models folder", "does not exist"),
        ("empty models folder", "is empty"),
        ("missing canonical model", "canonical_face_model.npz (no such file)"),
        ("corrupt canonical model", "cannot load the canonical face model"),
        ("unwritable log dir", "Failed to create log directory"),
        ("wrong type in a second params file", "max_num_faces must be a int, got 'two' (params file"),
    ],
)
def test_every_startup_failure_is_one_fatal_line_and_exit_code_1(ros, tmp_path, case, says) -> None:
    env = {"FACEMESH_ROS_MODELS_DIR": str(_models_folder(tmp_path, case))} if "model" in case else {}
    arguments = ["-r", "__ns:=/startup"]
    if case == "wrong type in a second params file":  # both files' sections name /face_mesh: rcl merges them
        override = tmp_path / "override.yaml"
        override.write_text('face_mesh:\n  ros__parameters:\n    max_num_faces: "two"\n')
        arguments = ["--params-file", str(REPO / "config" / "face_mesh.yaml"), "--params-file", str(override)]
    if case == "unwritable log dir":
        env["ROS_LOG_DIR"] = "/dev/null/log"  # a path under a file: not creatable even by root
    process = NodeProcess(tmp_path / "startup.log", *arguments, env=env)
    assert process.process.wait(timeout=60) == 1
    log = process.log()
    process.stop()
    fatal = [line for line in log.splitlines() if "[FATAL]" in line]
    assert len(fatal) == 1 and says in fatal[0], log
    assert "Traceback" not in log and "ready" not in log, log


# ---- 6. shutdown ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", range(SHUTDOWN_RUNS))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_frames_stream_stops_cleanly_and_deletes_the_markers(ros, frames, tmp_path, signum, run) -> None:
    namespace = f"stop{run}"
    process = NodeProcess(tmp_path / "stop.log", "-r", f"__ns:=/{namespace}")
    client = DdsClient(f"stop_client_{run}", namespace=namespace)
    try:
        faces = client.collect(FaceMeshArray, f"/{namespace}/face_mesh/faces")
        markers = client.collect(MarkerArray, f"/{namespace}/face_mesh/markers")
        images = [rgb_image(frame.image, Header(frame_id=FRAME_ID)) for frame in frames]
        index = 0

        def stream(seconds: float, until=lambda: False) -> None:
            nonlocal index
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not until():
                image = images[index % len(images)]
                image.header.stamp = stamp(index)
                client.info_pub.publish(camera_info(frames[index % len(frames)].intrinsics, *SIZE, image.header))
                client.image_pub.publish(image)
                index += 1
                client.spin_for(1 / 30)

        stream(30.0, until=lambda: len(faces) >= 3)
        assert len(faces) >= 3, process.log()
        process.process.send_signal(signum)
        stream(10.0, until=lambda: not process.alive())
        assert process.process.wait(timeout=15) == 0
        client.spin_for(0.3)
        log = process.log()
        assert not [
            line for line in log.splitlines() if "[ERROR]" in line or "Failed" in line or "Traceback" in line
        ], log
        assert any(m.action == Marker.DELETEALL for msg in markers for m in msg.markers)
    finally:
        client.destroy()
        process.stop()
