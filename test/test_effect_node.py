"""The face_effect node as users run it: its own process, real DDS. A test client publishes images, camera_info
and FaceMeshArrays of synthetic faces (known pose) and checks ~/image against the library's render."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from node_harness import FRAME_ID, DdsClient, NodeProcess, camera_info, node_executable, rgb_image, stamp
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from test_effects import CAMERA, SyntheticFace, noise_frame, synthetic_face

from facemesh_ros.effects import EffectRenderer, face_paint_effect, glasses_effect
from facemesh_ros.geometry import face_geometry_from_message
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.ros import effect_node
from facemesh_ros.ros.messages import face_message, landmark_boxes

REPO = Path(__file__).resolve().parent.parent
OUTPUT = "/face_effect/image"


@pytest.fixture(scope="module")
def node(ros, tmp_path_factory):
    process = NodeProcess(
        tmp_path_factory.mktemp("effect_node") / "face_effect.log",
        "-p",
        "qos_overrides./image.subscription.reliability:=reliable",
        "-p",
        "qos_overrides./camera_info.subscription.reliability:=reliable",
        executable="face_effect_node",
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(ros, node):
    client = DdsClient("face_effect_test_client", reliable=True)  # reliable: no loss on the loopback
    client.faces_pub = client.node.create_publisher(FaceMeshArray, "/face_mesh/faces", 10)
    client.process = node
    assert client.spin_until(lambda: client.node.count_subscribers("/camera_info") > 0, timeout=30.0), node.log()
    yield client
    client.destroy()


def faces_message(header: Header, faces: list[SyntheticFace]) -> FaceMeshArray:
    """The FaceMeshArray the face_mesh node would publish for these faces (the geometry contract included)."""
    msg = FaceMeshArray(header=header, image_width=CAMERA.width, image_height=CAMERA.height)
    for index, face in enumerate(faces):
        box = landmark_boxes(face.landmarks[None].astype(np.float32), CAMERA.width, CAMERA.height)[0]
        msg.faces.append(face_message(index, 1.0, face.landmarks, box, face.geometry))
    return msg


def send_and_receive(
    client: DdsClient, index: int, frame: np.ndarray, faces: list[SyntheticFace] | FaceMeshArray, received: list[Image]
) -> np.ndarray:
    header = Header(stamp=stamp(index), frame_id=FRAME_ID)
    client.info_pub.publish(camera_info(CAMERA.matrix, CAMERA.width, CAMERA.height, header))
    client.spin_for(0.05)
    if isinstance(faces, FaceMeshArray):
        faces.header = header
    else:
        faces = faces_message(header, faces)
    client.faces_pub.publish(faces)
    client.image_pub.publish(rgb_image(frame, header))
    assert client.spin_until(lambda: any(m.header.stamp == header.stamp for m in received), timeout=15.0), (
        client.process.log()
    )
    msg = next(m for m in received if m.header.stamp == header.stamp)
    assert msg.encoding == "bgr8" and (msg.width, msg.height) == (CAMERA.width, CAMERA.height)
    bgr = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)
    return bgr[:, :, ::-1]


def library_render(effect, frame: np.ndarray, faces: list[SyntheticFace]) -> np.ndarray:
    """The library's render of the geometry the faces' messages carry (float32 metric landmarks)."""
    message = faces_message(Header(), faces)
    geometries = [face_geometry_from_message(face) for face in message.faces]
    with EffectRenderer(effect, samples=4) as renderer:  # the node's default
        return renderer.render(frame, CAMERA, geometries).image


def test_inputs_are_subscribed_only_while_the_effect_image_is(client):
    assert client.node.count_subscribers("/image") == 0
    assert client.node.count_subscribers("/face_mesh/faces") == 0
    subscription = client.node.create_subscription(Image, OUTPUT, lambda _: None, qos_profile_sensor_data)
    assert client.spin_until(
        lambda: client.node.count_subscribers("/image") == 1 and client.node.count_subscribers("/face_mesh/faces") == 1,
        timeout=10.0,
    )
    client.node.destroy_subscription(subscription)
    assert client.spin_until(
        lambda: client.node.count_subscribers("/image") == 0 and client.node.count_subscribers("/face_mesh/faces") == 0,
        timeout=10.0,
    )


def test_effect_image_matches_the_library_render_and_follows_the_effect_parameter(client):
    received = client.collect(Image, OUTPUT, 10)
    assert client.spin_until(
        lambda: client.node.count_subscribers("/image") == 1 and client.node.count_subscribers("/face_mesh/faces") == 1,
        timeout=10.0,
    )
    client.spin_for(0.5)  # let the node's new subscriptions match our publishers
    frame = noise_frame(7)
    faces = [
        synthetic_face(yaw=20.0, position=(-8.0, 0.0, -50.0)),
        synthetic_face(pitch=-10.0, position=(9.0, 2.0, -45.0)),
    ]
    glasses = send_and_receive(client, 1, frame, faces, received)
    np.testing.assert_array_equal(glasses, library_render(glasses_effect(), frame, faces))
    assert np.any(glasses != frame, axis=2).sum() > 1000

    assert client.set_parameters("/face_effect", effect="face_paint")[0].successful
    paint = send_and_receive(client, 2, frame, faces, received)
    np.testing.assert_array_equal(paint, library_render(face_paint_effect(), frame, faces))

    no_faces = send_and_receive(client, 3, frame, [], received)
    np.testing.assert_array_equal(no_faces, frame)

    # A face whose metric landmark count is no multiple of 3 is skipped, and so is a face without geometry;
    # the frame and the other face still render.
    broken = faces_message(Header(), faces)
    broken.faces[1].metric_landmarks = broken.faces[1].metric_landmarks[:-1]
    one_bad = send_and_receive(client, 5, frame, broken, received)
    np.testing.assert_array_equal(one_bad, library_render(face_paint_effect(), frame, faces[:1]))
    assert client.spin_until(lambda: "face 1 skipped: bad landmark shape" in client.process.log(), timeout=5.0)
    no_pose = faces_message(Header(), faces)
    no_pose.faces[0].has_pose = False
    one_without = send_and_receive(client, 8, frame, no_pose, received)
    np.testing.assert_array_equal(one_without, library_render(face_paint_effect(), frame, faces[1:]))
    assert client.spin_until(lambda: "face 0 skipped: no pose" in client.process.log(), timeout=5.0)

    # An effect that cannot load leaves the current one drawing, and says so.
    assert client.set_parameters("/face_effect", effect="object")[0].successful  # without object_mesh
    kept = send_and_receive(client, 6, frame, faces, received)
    np.testing.assert_array_equal(kept, paint)
    assert "cannot load effect 'object'" in client.process.log() and "keeping 'face_paint'" in client.process.log()

    # A FaceMeshArray whose stamp matches no image yields nothing; the next matching pair still does.
    client.faces_pub.publish(faces_message(Header(stamp=stamp(50), frame_id=FRAME_ID), faces))
    client.spin_for(0.3)
    assert not any(m.header.stamp == stamp(50) for m in received)
    send_and_receive(client, 4, frame, faces, received)


def test_bad_parameters_are_rejected(client):
    results = client.set_parameters("/face_effect", effect="hat", paint_texture="/nonexistent.png")
    assert not results[0].successful and "one of glasses, face_paint, object" in results[0].reason
    assert not results[1].successful and "no such file" in results[1].reason


def test_samples_must_be_a_supported_count():
    for samples in (0, 2, 4, 8):
        assert effect_node.check_parameter(Parameter("samples", value=samples)) is None
    for samples in (1, 3, 5, 6, 7):
        assert (
            effect_node.check_parameter(Parameter("samples", value=samples))
            == f"samples must be 0, 2, 4 or 8, got {samples}"
        )


@pytest.mark.parametrize(
    ("effect", "changed", "reload"),
    [
        ("glasses", {"effect"}, True),
        ("glasses", {"paint_texture"}, False),
        ("glasses", {"object_mesh", "object_texture", "occlusion"}, False),
        ("face_paint", {"paint_texture"}, True),
        ("face_paint", {"object_texture"}, False),
        ("object", {"object_texture"}, True),
        ("object", {"paint_texture", "occlusion"}, False),
    ],
)
def test_only_changes_the_current_effect_uses_reload_it(effect, changed, reload):
    assert effect_node.effect_needs_reload(effect, changed) is reload


def test_any_renderer_startup_error_reaches_the_constructor(ros, monkeypatch):
    """Not only the expected errors: an OSError (unreadable canonical model) must not hang the constructor."""

    def failing_renderer(*args, **kwargs):
        raise OSError("canonical model unreadable")

    monkeypatch.setattr(effect_node, "EffectRenderer", failing_renderer)
    outcome = []

    def construct() -> None:
        try:
            effect_node.FaceEffectNode(namespace="/startup_error_test")
        except OSError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=construct, daemon=True)
    thread.start()
    thread.join(timeout=30.0)  # a guard against a hang, not a performance assert
    assert not thread.is_alive(), "FaceEffectNode() hung after a renderer startup error"
    assert outcome == ["canonical model unreadable"]


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"GLCONTEXT_LINUX_LIBEGL": "/nonexistent/libEGL.so.1"}, [], "apt-get install libegl1"),
        ({}, ["-p", "effect:=object"], "needs the parameters object_mesh"),
        ({}, ["-p", "samples:=3"], "samples must be 0, 2, 4 or 8"),
    ],
)
def test_node_exits_with_a_clear_error_when_it_cannot_render(ros, env, args, message):
    out = subprocess.run(
        [node_executable("face_effect_node"), "--ros-args", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert message in out.stdout + out.stderr
