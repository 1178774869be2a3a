"""The face_mesh node as users run it: its own process (the built executable), real DDS, real face images.

One node process serves the module; a test client publishes a virtual-camera sequence over a real photo
(astronaut.png) with matching camera_info, best effort like camera drivers, and checks every output topic.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from face_mesh_reference import read_rgb
from node_harness import FRAME_ID, DdsClient, NodeProcess, camera_info, rgb_image, stamp
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from facemesh_ros.model_paths import models_dir
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.simulation.virtual_camera import VirtualCamera

REPO = Path(__file__).resolve().parent.parent
NUM_FRAMES = 12
SIZE = (640, 480)
BURST_SEC = 50_000


@pytest.fixture(scope="module")
def frames(test_data_dir):
    photo = read_rgb("astronaut.png")
    camera = VirtualCamera(
        photo, size=SIZE, num_frames=NUM_FRAMES, target=(250, 200), pan=0.05, zoom_range=(1.4, 1.8), roll_deg=15.0
    )
    return list(camera)


@pytest.fixture(scope="module")
def node(ros, tmp_path_factory):
    # started as the launch file does: the package's YAML, then an override file (a node-specific YAML value
    # outranks `-p`, so the override is a YAML file too, as launch_ros writes one for its dict parameters)
    folder = tmp_path_factory.mktemp("node")
    override = folder / "override.yaml"
    override.write_text("face_mesh:\n  ros__parameters:\n    refine_landmarks: true\n")
    process = NodeProcess(
        folder / "face_mesh.log",
        "--params-file",
        str(REPO / "config" / "face_mesh.yaml"),
        "--params-file",
        str(override),
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(ros, node):
    client = DdsClient("face_mesh_test_client")
    client.faces = client.collect(FaceMeshArray, "/face_mesh/faces")
    client.tf = client.collect(TFMessage, "/tf", 100)
    client.markers = client.collect(MarkerArray, "/face_mesh/markers")
    client.annotated = client.collect(Image, "/face_mesh/annotated", 1)
    client.diagnostics = client.collect(DiagnosticArray, "/diagnostics")
    client.node_log = node.log
    yield client
    client.destroy()


def send(client: DdsClient, frame, index: int, info: CameraInfo | None = None) -> FaceMeshArray:
    """Publish one frame (with its camera_info, or `info`) until the node answers with that stamp."""
    header = Header(stamp=stamp(index), frame_id=FRAME_ID)
    if info is None:
        info = camera_info(frame.intrinsics, *SIZE, header)
    image = rgb_image(frame.image, header)
    for _ in range(20):
        client.info_pub.publish(info)
        client.spin_for(0.01)  # camera_info first, as drivers do
        client.image_pub.publish(image)
        if client.spin_until(lambda: any(f.header.stamp == header.stamp for f in client.faces), timeout=1.0):
            return next(f for f in client.faces if f.header.stamp == header.stamp)
    raise AssertionError(f"no FaceMeshArray for stamp {header.stamp}; node log:\n{client.node_log()[-3000:]}")


@pytest.fixture(scope="module")
def sequence(client, frames, node):
    return [send(client, frame, index) for index, frame in enumerate(frames)]


def test_every_frame_gets_its_faces_with_the_input_header(sequence) -> None:
    for index, msg in enumerate(sequence):
        assert msg.header.stamp == stamp(index) and msg.header.frame_id == FRAME_ID
        assert (msg.image_width, msg.image_height) == SIZE
        assert len(msg.faces) == 1


def test_landmarks_lie_on_the_face_and_ids_are_stable(sequence, frames) -> None:
    ids = {msg.faces[0].id for msg in sequence}
    assert len(ids) == 1
    for msg in sequence:
        face = msg.faces[0]
        landmarks = np.asarray(face.landmarks).reshape(-1, 3)
        assert landmarks.shape == (478, 3)
        pixels = landmarks[:, :2] * SIZE
        assert (pixels > 0).all() and (pixels < SIZE).all()
        # the face spans a sensible part of the frame, not a degenerate blob
        assert 60 < np.ptp(pixels[:, 0]) < 500 and face.score > 0.5


def test_head_pose_and_distance_follow_camera_info(sequence) -> None:
    """The virtual camera zooms by changing its focal length: with camera_info the head stays put."""
    distances = np.array(
        [
            math.dist((0, 0, 0), (f.faces[0].pose.position.x, f.faces[0].pose.position.y, f.faces[0].pose.position.z))
            for f in sequence
        ]
    )
    assert all(f.faces[0].has_pose for f in sequence)
    assert 0.2 < distances.mean() < 5.0
    assert distances.std() / distances.mean() < 0.03, distances


def test_tf_face_frames_hang_off_the_camera_frame(client, sequence) -> None:
    face_id = sequence[0].faces[0].id
    client.spin_until(lambda: len(client.tf) >= NUM_FRAMES, timeout=5.0)
    transforms = [t for msg in client.tf for t in msg.transforms]
    faces = [t for t in transforms if t.child_frame_id == f"face_{face_id}"]
    gazes = [t for t in transforms if t.child_frame_id == f"gaze_{face_id}"]
    assert len(faces) >= NUM_FRAMES - 1 and len(gazes) == len(faces)
    stamps = {(s.sec, s.nanosec) for s in (stamp(i) for i in range(NUM_FRAMES))}
    for transform in faces:
        assert transform.header.frame_id == FRAME_ID
        assert (transform.header.stamp.sec, transform.header.stamp.nanosec) in stamps
        t = transform.transform.translation
        assert 0.2 < t.z < 5.0  # in front of the camera, optical z forward


def test_markers_carry_the_metric_mesh(client, sequence) -> None:
    client.spin_until(lambda: len(client.markers) >= 3, timeout=5.0)
    assert client.markers, "no MarkerArray received"
    meshes = [m for msg in client.markers for m in msg.markers if m.ns == "mesh" and m.action == Marker.ADD]
    assert meshes and all(len(m.points) == 898 * 3 for m in meshes)
    assert all(m.header.frame_id == FRAME_ID and m.id == sequence[0].faces[0].id for m in meshes)


def test_annotated_image_arrives_while_subscribed(client, sequence) -> None:
    client.spin_until(lambda: len(client.annotated) >= 1, timeout=5.0)
    assert client.annotated, "no annotated image"
    image = client.annotated[-1]
    assert (image.width, image.height) == SIZE and image.encoding == "bgr8"
    assert image.header.frame_id == FRAME_ID


def test_diagnostics_report_rate_device_and_faces(client, sequence) -> None:
    client.spin_until(lambda: any(_diag_values(m) for m in client.diagnostics), timeout=5.0)
    values = next(v for v in map(_diag_values, client.diagnostics) if v)
    assert values["inference device"].startswith("CPUExecutionProvider") or "CUDA" in values["inference device"]
    assert {"input rate (Hz)", "dropped frames", "processing time p50 (ms)", "faces tracked"} <= set(values)


def _diag_values(msg: DiagnosticArray) -> dict[str, str]:
    for status in msg.status:
        if status.name.startswith("/face_mesh"):
            return {kv.key: kv.value for kv in status.values}
    return {}


def test_invalid_parameters_are_rejected_with_a_reason(client, sequence) -> None:
    (detector,) = client.set_parameters("/face_mesh", detector="medium")
    assert not detector.successful and "short, full, far" in detector.reason
    (faces,) = client.set_parameters("/face_mesh", max_num_faces=0)
    assert not faces.successful
    (threshold,) = client.set_parameters("/face_mesh", min_tracking_confidence=1.5)
    assert not threshold.successful
    (kind,) = client.set_parameters("/face_mesh", refine_landmarks="yes")
    assert not kind.successful


def test_thresholds_change_live_and_structural_options_rebuild(client, frames, node, sequence) -> None:
    (ok,) = client.set_parameters("/face_mesh", min_tracking_confidence=0.6)
    assert ok.successful
    (rebuilt,) = client.set_parameters("/face_mesh", refine_landmarks=False)
    assert rebuilt.successful
    msg = send(client, frames[0], 100)
    assert len(msg.faces) == 1 and len(msg.faces[0].landmarks) == 468 * 3
    # tracking restarted with the new pipeline: the face is a new track, with an id never used before
    assert msg.faces[0].id > max(f.id for m in sequence for f in m.faces)
    (back,) = client.set_parameters("/face_mesh", refine_landmarks=True)
    assert back.successful
    assert len(send(client, frames[1], 101).faces[0].landmarks) == 478 * 3
    assert "pipeline rebuilt" in node.log()


def test_detector_far_is_accepted_and_meshes_the_face(client, frames, node, sequence) -> None:
    (far,) = client.set_parameters("/face_mesh", detector="far")
    assert far.successful
    msg = send(client, frames[0], 120)
    assert len(msg.faces) == 1 and len(msg.faces[0].landmarks) == 478 * 3
    (short,) = client.set_parameters("/face_mesh", detector="short")
    assert short.successful and len(send(client, frames[1], 121).faces) == 1


def test_markers_of_a_namespace_switched_off_are_deleted(client, frames) -> None:
    (off,) = client.set_parameters("/face_mesh", **{"markers.contours": False})
    assert off.successful
    client.markers.clear()
    send(client, frames[2], 102)
    assert client.spin_until(
        lambda: any(m.ns == "contours" and m.action == Marker.DELETE for msg in client.markers for m in msg.markers),
        timeout=5.0,
    )
    (on,) = client.set_parameters("/face_mesh", **{"markers.contours": True})
    assert on.successful


def _bad_images(frame) -> list[tuple[str, Image]]:
    good = rgb_image(frame.image, Header(frame_id=FRAME_ID))
    width = frame.image.shape[1]

    def variant(**changes) -> Image:
        msg = rgb_image(frame.image, Header(frame_id=FRAME_ID))
        for key, value in changes.items():
            setattr(msg, key, value)
        return msg

    return [
        ("unsupported encoding", variant(encoding="32FC1")),
        ("step", variant(step=width)),
        ("expected step*height", variant(data=bytes(good.data)[: len(good.data) // 2])),
        ("empty image", variant(width=0, height=0, step=0, data=b"")),
        ("empty frame_id", rgb_image(frame.image, Header(frame_id=""))),
    ]


def test_bad_images_are_rejected_and_the_node_keeps_working(client, frames, node) -> None:
    bad = _bad_images(frames[0])
    for offset, (expected, msg) in enumerate(bad):
        msg.header.stamp = stamp(200 + offset)
        for _ in range(20):  # best effort may lose a sample: repeat until the node has seen it
            client.image_pub.publish(msg)
            client.spin_for(0.2)
            if expected in node.log():
                break
        assert expected in node.log(), f"no error about '{expected}' in the node log:\n{node.log()[-3000:]}"
    after = send(client, frames[2], 300)
    assert len(after.faces) == 1 and node.alive()
    bad_stamps = {(stamp(200 + i).sec, stamp(200 + i).nanosec) for i in range(len(bad))}
    assert not [f for f in client.faces if (f.header.stamp.sec, f.header.stamp.nanosec) in bad_stamps]


@pytest.mark.parametrize("broken", ["zeros", "nan"])
def test_unusable_camera_info_falls_back_to_the_default_camera(client, frames, node, broken) -> None:
    header = Header(stamp=stamp(400), frame_id=FRAME_ID)
    info = camera_info(frames[3].intrinsics, *SIZE, header)
    info.k = [0.0] * 9 if broken == "zeros" else [math.nan] * 9
    info.p = [0.0] * 12 if broken == "zeros" else [math.nan] * 12
    msg = send(client, frames[3], 400 if broken == "zeros" else 401, info=info)
    assert len(msg.faces) == 1 and msg.faces[0].has_pose
    assert np.isfinite([msg.faces[0].pose.orientation.w, msg.faces[0].pose.position.z]).all()
    assert "camera_info unusable" in node.log()


def test_timestamps_going_backwards_restart_tracking(client, frames, node) -> None:
    send(client, frames[4], 500)
    msg = send(client, frames[5], 450)  # a looping bag
    assert len(msg.faces) == 1
    assert "went backwards" in node.log()


def test_a_burst_of_frames_drops_old_ones_and_memory_stays_flat(client, frames, node) -> None:
    rss_before = node.rss_mb()
    images = [rgb_image(frame.image, Header(frame_id=FRAME_ID)) for frame in frames]
    for i in range(1000):
        image = images[i % len(images)]
        image.header.stamp.sec = BURST_SEC + i
        client.image_pub.publish(image)
        rclpy.spin_once(client.node, timeout_sec=0)
    last = send(client, frames[6], 2100)
    assert len(last.faces) == 1 and node.alive()
    processed = sum(1 for f in client.faces if BURST_SEC <= f.header.stamp.sec < BURST_SEC + 1000)
    assert processed < 1000  # the node skipped to the newest frames instead of queueing
    assert node.rss_mb() - rss_before < 100, (rss_before, node.rss_mb())
    assert client.spin_until(
        lambda: any(int(_diag_values(m).get("dropped frames", 0)) > 0 for m in client.diagnostics), timeout=5.0
    )


def test_sigint_shuts_the_node_down_cleanly(node) -> None:
    assert node.stop() == 0


def test_compressed_transport_and_corrupt_jpeg(ros, frames, tmp_path) -> None:
    process = NodeProcess(tmp_path / "compressed.log", "-p", "image_transport:=compressed", "-r", "__ns:=/compressed")
    client = DdsClient("compressed_test_client")
    try:
        faces = client.collect(FaceMeshArray, "/compressed/face_mesh/faces")
        publisher = client.node.create_publisher(CompressedImage, "/compressed/image/compressed", 1)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frames[0].image, cv2.COLOR_RGB2BGR))
        assert ok
        corrupt = CompressedImage(format="jpeg", data=jpeg.tobytes()[:200] + b"\x00" * 50)
        corrupt.header = Header(stamp=stamp(1), frame_id=FRAME_ID)
        good = CompressedImage(format="jpeg", data=jpeg.tobytes())
        good.header = Header(stamp=stamp(2), frame_id=FRAME_ID)
        for _ in range(50):  # until the node has seen it (the first samples may precede discovery)
            publisher.publish(corrupt)
            client.spin_for(0.2)
            if "could not decode" in process.log():
                break
        for _ in range(20):
            publisher.publish(good)
            if client.spin_until(lambda: len(faces) > 0, timeout=1.0):
                break
        assert faces and len(faces[0].faces) == 1
        assert all(f.header.stamp == stamp(2) for f in faces)
        assert "could not decode" in process.log()
    finally:
        client.destroy()
        assert process.stop() == 0


def test_a_structural_change_that_cannot_be_built_is_rejected(ros, frames, tmp_path) -> None:
    """Models dir without the attention model: refine_landmarks:=true must be refused with the reason, and the
    parameter and the running pipeline stay as they were."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("face_detection_short_range.onnx", "face_landmark.onnx", "canonical_face_model.npz"):
        (models / name).symlink_to(models_dir() / name)
    process = NodeProcess(
        tmp_path / "no_attention.log", "-r", "__ns:=/partial", env={"FACEMESH_ROS_MODELS_DIR": str(models)}
    )
    client = DdsClient("partial_models_client", namespace="partial")
    try:
        (result,) = client.set_parameters("/partial/face_mesh", refine_landmarks=True)
        assert not result.successful
        assert "pipeline cannot be built" in result.reason and "face_landmark_with_attention.onnx" in result.reason
        faces = client.collect(FaceMeshArray, "/partial/face_mesh/faces")
        header = Header(stamp=stamp(7), frame_id=FRAME_ID)
        image = rgb_image(frames[0].image, header)
        for _ in range(20):
            client.image_pub.publish(image)
            if client.spin_until(lambda: len(faces) > 0, timeout=1.0):
                break
        assert faces and len(faces[0].faces[0].landmarks) == 468 * 3  # still the 468-point pipeline
    finally:
        client.destroy()
        assert process.stop() == 0


def test_static_mode_names_faces_by_their_index_in_the_image(ros, frames, tmp_path) -> None:
    """Static mode tracks nothing: a new id per image would create a new TF frame per image forever."""
    process = NodeProcess(tmp_path / "static.log", "-p", "static_image_mode:=true", "-r", "__ns:=/static")
    client = DdsClient("static_client", namespace="static")
    try:
        faces = client.collect(FaceMeshArray, "/static/face_mesh/faces")
        for index in range(3):
            header = Header(stamp=stamp(index), frame_id=FRAME_ID)
            for _ in range(20):
                client.image_pub.publish(rgb_image(frames[index].image, header))
                if client.spin_until(lambda h=header: any(f.header.stamp == h.stamp for f in faces), timeout=1.0):
                    break
        assert len({f.header.stamp.sec * 10**9 + f.header.stamp.nanosec for f in faces}) == 3
        assert all([face.id for face in f.faces] == [0] for f in faces)
    finally:
        client.destroy()
        assert process.stop() == 0


@pytest.mark.parametrize(
    ("argument", "reason"),
    [("detector:=medium", "detector must be one of short, full, far"), ("max_num_faces:=0", "max_num_faces")],
)
def test_a_bad_parameter_at_startup_exits_with_the_reason(ros, tmp_path, argument, reason) -> None:
    process = NodeProcess(tmp_path / "bad.log", "-p", argument)
    assert process.process.wait(timeout=60) == 1
    log = process.log()
    assert reason in log and "Traceback" not in log, log
    process.stop()
