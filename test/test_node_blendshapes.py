"""The face_mesh node with the v2 landmark model and blendshapes: its own process, real DDS, real photos; in
ROS4HRI mode, so each face also has /humans/faces/<id>/facs (action units from its blendshapes)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from hri_msgs.msg import FacialActionUnits
from node_harness import FRAME_ID, DdsClient, NodeProcess, rgb_image, stamp
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from facemesh_ros.blendshapes import BLENDSHAPE_NAMES
from facemesh_ros.drawing.annotate import BAR_COLOR_BGR
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.interaction.facs import MAPPED_ACTION_UNITS, facial_action_units
from facemesh_ros.msg import FaceMesh as FaceMeshMsg
from facemesh_ros.msg import FaceMeshArray

NAMESPACE = "expressions"
NODE = f"/{NAMESPACE}/face_mesh"


@pytest.fixture(scope="module")
def photos(test_data_dir: Path) -> dict[str, np.ndarray]:
    return {
        name: cv2.cvtColor(cv2.imread(str(test_data_dir / name)), cv2.COLOR_BGR2RGB)
        for name in ("tongue.jpg", "lenna.png", "astronaut.png", "chelsea.png")
    }


@pytest.fixture(scope="module")
def client(ros, tmp_path_factory):
    folder = tmp_path_factory.mktemp("blendshapes")
    process = NodeProcess(
        folder / "face_mesh.log",
        "-p",
        "model:=v2",
        "-p",
        "output_blendshapes:=true",
        "-p",
        "static_image_mode:=true",
        "-p",
        "ros4hri:=true",
        "-r",
        f"__ns:=/{NAMESPACE}",
    )
    client = DdsClient("blendshape_test_client", namespace=NAMESPACE)
    client.faces = client.collect(FaceMeshArray, f"{NODE}/faces")
    client.annotated = client.collect(Image, f"{NODE}/annotated", 1)
    client.process = process
    yield client
    client.destroy()
    assert process.stop() == 0


def send(client: DdsClient, rgb: np.ndarray, index: int) -> tuple[FaceMeshArray, Image]:
    """Publish a photo until both the faces and the annotated image of its stamp arrive."""
    header = Header(stamp=stamp(index), frame_id=FRAME_ID)

    def answered() -> bool:
        return any(m.header.stamp == header.stamp for m in client.faces) and any(
            m.header.stamp == header.stamp for m in client.annotated
        )

    for _ in range(20):
        client.image_pub.publish(rgb_image(rgb, header))
        if client.spin_until(answered, timeout=1.5):
            faces = next(m for m in client.faces if m.header.stamp == header.stamp)
            return faces, next(m for m in client.annotated if m.header.stamp == header.stamp)
    raise AssertionError(f"no answer for stamp {index}; node log:\n{client.process.log()[-3000:]}")


def bgr(image: Image) -> np.ndarray:
    return np.frombuffer(bytes(image.data), np.uint8).reshape(image.height, image.width, 3)


def test_message_constants_follow_the_blendshape_order() -> None:
    constants = {name: getattr(FaceMeshMsg, name) for name in dir(FaceMeshMsg) if name.startswith("BLENDSHAPE_")}
    assert constants.pop("BLENDSHAPE_COUNT") == len(BLENDSHAPE_NAMES) == 52
    expected = {
        "BLENDSHAPE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", n.strip("_")).upper(): k for k, n in enumerate(BLENDSHAPE_NAMES)
    }
    assert constants == expected
    assert FaceMeshMsg.BLENDSHAPE_JAW_OPEN == BLENDSHAPE_NAMES.index("jawOpen") == 25


def test_faces_carry_the_library_blendshapes(client, photos) -> None:
    msg, _ = send(client, photos["tongue.jpg"], 0)
    with FaceMesh(static_image_mode=True, model="v2", output_blendshapes=True, device="cpu") as mesh:
        expected = mesh.process(photos["tongue.jpg"])
    assert len(msg.faces) == 1 and len(msg.faces[0].landmarks) == 478 * 3
    scores = np.asarray(msg.faces[0].blendshapes, np.float32)
    np.testing.assert_allclose(scores, expected.blendshapes[0], atol=1e-5)
    # MediaPipe reads tongue.jpg as raised brows and a dropped lower lip, the astronaut as a broad smile
    assert (
        scores[FaceMeshMsg.BLENDSHAPE_BROW_INNER_UP] > 0.5
        and scores[FaceMeshMsg.BLENDSHAPE_MOUTH_LOWER_DOWN_LEFT] > 0.5
    )
    reference = np.load(Path(__file__).parent / "fixtures" / "mediapipe_tasks.npz")
    assert np.abs(scores - reference["static/tongue.jpg/blendshapes"][0]).max() <= 0.02  # MediaPipe's own
    smile = send(client, photos["astronaut.png"], 1)[0].faces[0].blendshapes
    assert (
        smile[FaceMeshMsg.BLENDSHAPE_MOUTH_SMILE_LEFT] > 0.7 and smile[FaceMeshMsg.BLENDSHAPE_MOUTH_SMILE_RIGHT] > 0.7
    )
    assert smile[FaceMeshMsg.BLENDSHAPE_BROW_INNER_UP] < 0.3


def test_annotated_image_shows_the_strongest_blendshapes_as_bars(client, photos) -> None:
    _, with_bars = send(client, photos["lenna.png"], 2)
    (ok,) = client.set_parameters(NODE, **{"annotated.blendshape_bars": 0})
    assert ok.successful
    try:
        _, without = send(client, photos["lenna.png"], 3)
    finally:
        client.set_parameters(NODE, **{"annotated.blendshape_bars": 5})
    changed = np.any(bgr(with_bars) != bgr(without), axis=2)
    rows = np.nonzero(changed)[0]
    assert changed.sum() > 500, "no bars drawn"
    bar_pixels = np.all(bgr(with_bars) == BAR_COLOR_BGR, axis=2) & changed
    assert bar_pixels.sum() > 100
    # one panel beside the face, 5 bars 16 px apart: the change spans about 5 * 16 rows
    assert 60 <= rows.max() - rows.min() <= 100, (rows.min(), rows.max())


def test_blendshapes_need_the_v2_model_and_the_node_keeps_going(client, photos) -> None:
    (refused,) = client.set_parameters(NODE, model="legacy")
    assert not refused.successful and "needs model='v2'" in refused.reason
    msg, _ = send(client, photos["lenna.png"], 4)
    assert len(msg.faces[0].blendshapes) == 52  # still the v2 pipeline
    (off,) = client.set_parameters(NODE, output_blendshapes=False)
    assert off.successful
    try:
        msg, _ = send(client, photos["lenna.png"], 5)
        assert len(msg.faces[0].blendshapes) == 0 and len(msg.faces[0].landmarks) == 478 * 3
    finally:
        client.set_parameters(NODE, output_blendshapes=True)


def test_blendshapes_with_the_legacy_model_at_startup_exit_with_the_reason(ros, tmp_path) -> None:
    process = NodeProcess(tmp_path / "bad.log", "-p", "output_blendshapes:=true", "-r", "__ns:=/bad_blendshapes")
    assert process.process.wait(timeout=60) == 1
    log = process.log()
    assert "needs model='v2'" in log and "Traceback" not in log, log
    process.stop()


def facs_publishers(client: DdsClient) -> dict[str, list[str]]:
    """/humans/faces/<id>/facs topics that have a publisher (this test's subscription keeps a name listed)."""
    return {
        name: types
        for name, types in client.node.get_topic_names_and_types()
        if name.startswith("/humans/faces/") and name.endswith("/facs") and client.node.count_publishers(name) > 0
    }


def test_ros4hri_facs_follow_the_face(client, photos) -> None:
    faces, _ = send(client, photos["tongue.jpg"], 10)
    (face_id,) = [f"f{face.id}" for face in faces.faces]
    topic = f"/humans/faces/{face_id}/facs"
    assert client.spin_until(lambda: topic in facs_publishers(client), timeout=10.0), facs_publishers(client)
    assert facs_publishers(client) == {topic: ["hri_msgs/msg/FacialActionUnits"]}
    received = client.collect(FacialActionUnits, topic)
    index = 11
    while not received and index < 40:  # the new subscription takes a moment to be matched
        faces, _ = send(client, photos["tongue.jpg"], index)
        index += 1
    assert received, "no FacialActionUnits"
    facs = received[-1]
    sent = next(m for m in client.faces if m.header.stamp == facs.header.stamp).faces[0]
    intensity, confidence = facial_action_units(np.asarray(sent.blendshapes, np.float32), sent.score)
    np.testing.assert_allclose(facs.intensity, intensity, atol=1e-6)
    np.testing.assert_allclose(facs.confidence, confidence, atol=1e-6)
    # raised brows, the lower lip dropped; measured AUs carry the face's presence, the others 0
    inner_brow, lower_lip = FacialActionUnits.INNER_BROW_RAISER, FacialActionUnits.LOWER_LIP_DEPRESSOR
    assert facs.intensity[inner_brow] > 0.8 and facs.intensity[lower_lip] > 0.7
    assert facs.intensity[FacialActionUnits.LIP_CORNER_PULLER] < 0.8 and facs.confidence[inner_brow] > 0.9
    assert facs.confidence[FacialActionUnits.CHEEK_RAISER] == 0.0 and len(MAPPED_ACTION_UNITS) > 20

    # a smile is a lip corner puller, on the same face id (static mode numbers the faces of each image)
    count = len(received)
    send(client, photos["astronaut.png"], index)
    assert client.spin_until(lambda: len(received) > count, timeout=5.0)
    assert received[-1].intensity[FacialActionUnits.LIP_CORNER_PULLER] > 0.7

    # no face (a cat): the face's topics go, /facs with them
    for offset in range(3):
        send(client, photos["chelsea.png"], index + 1 + offset)
    assert client.spin_until(lambda: not facs_publishers(client), timeout=10.0), facs_publishers(client)
