"""The face_mesh node with the v2 landmark model and blendshapes: its own process, real DDS, real photos."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from node_harness import FRAME_ID, DdsClient, NodeProcess, rgb_image, stamp
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from facemesh_ros.blendshapes import BLENDSHAPE_NAMES
from facemesh_ros.drawing.annotate import BAR_COLOR_BGR
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.msg import FaceMesh as FaceMeshMsg
from facemesh_ros.msg import FaceMeshArray

NAMESPACE = "expressions"
NODE = f"/{NAMESPACE}/face_mesh"


@pytest.fixture(scope="module")
def photos(test_data_dir: Path) -> dict[str, np.ndarray]:
    return {
        name: cv2.cvtColor(cv2.imread(str(test_data_dir / name)), cv2.COLOR_BGR2RGB)
        for name in ("tongue.jpg", "lenna.png", "astronaut.png")
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
