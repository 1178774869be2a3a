"""ROS4HRI mode and the look-at outputs over real DDS: the built face_mesh_node with ros4hri:=true in its own
process, a pyhri-style consumer (scripts/hri_listener.py) in another, real photos.

A face appears (astronaut), leaves (a photo without a face: chelsea.png, a cat), and comes back under a new id: the
per-face topics exist exactly while their face is tracked, with the hri_msgs types.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from face_mesh_reference import read_rgb
from geometry_msgs.msg import PointStamped, PoseArray
from hri_msgs.msg import FacialLandmarks, IdsList, NormalizedRegionOfInterest2D
from node_harness import FRAME_ID, DdsClient, camera_info, face_mesh_with_package_yaml, rgb_image, stamp
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from facemesh_ros.interaction.hri import FACE_CROP_SIZE
from facemesh_ros.simulation.virtual_camera import VirtualCamera

REPO = Path(__file__).resolve().parent.parent
SIZE = (640, 480)
FACE_TOPIC_TYPES = {
    "roi": "hri_msgs/msg/NormalizedRegionOfInterest2D",
    "cropped": "sensor_msgs/msg/Image",
    "aligned": "sensor_msgs/msg/Image",
    "landmarks": "hri_msgs/msg/FacialLandmarks",
}


@pytest.fixture(scope="module")
def photos(test_data_dir):
    face = read_rgb("astronaut.png")
    camera = VirtualCamera(
        face, size=SIZE, num_frames=8, target=(230, 170), pan=0.01, zoom_range=(1.6, 1.7), roll_deg=3.0
    )
    empty = cv2.resize(read_rgb("chelsea.png"), SIZE)
    return list(camera), empty


@pytest.fixture(scope="module")
def node(ros, tmp_path_factory):
    process = face_mesh_with_package_yaml(
        tmp_path_factory.mktemp("ros4hri"), {"ros4hri": True, "refine_landmarks": True}
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def listener(ros, tmp_path_factory):
    log = (tmp_path_factory.mktemp("listener") / "hri_listener.jsonl").open("w+")
    process = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "hri_listener.py")], stdout=log, stderr=subprocess.STDOUT
    )
    yield log
    process.terminate()
    process.wait(timeout=15)
    log.close()


def events(log) -> list[dict]:
    log.flush()
    log.seek(0)
    return [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]


def story(log) -> list[tuple[str, str]]:
    return [(e["event"], e["id"]) for e in events(log)]


@pytest.fixture(scope="module")
def client(ros, node):
    client = DdsClient("ros4hri_test_client")
    client.tracked = client.collect(IdsList, "/humans/faces/tracked")
    client.target = client.collect(PointStamped, "/face_mesh/target")
    client.poses = client.collect(PoseArray, "/face_mesh/poses")
    client.tf = client.collect(TFMessage, "/tf", 100)
    client.node_log = node.log
    yield client
    client.destroy()


def send(client: DdsClient, image: np.ndarray, intrinsics: np.ndarray, index: int) -> IdsList:
    """One frame, until /humans/faces/tracked answers with its stamp."""
    header = Header(stamp=stamp(index), frame_id=FRAME_ID)
    for _ in range(20):
        client.info_pub.publish(camera_info(intrinsics, *SIZE, header))
        client.spin_for(0.01)
        client.image_pub.publish(rgb_image(image, header))
        if client.spin_until(lambda: any(m.header.stamp == header.stamp for m in client.tracked), timeout=1.0):
            return next(m for m in client.tracked if m.header.stamp == header.stamp)
    raise AssertionError(f"no IdsList for stamp {header.stamp}; node log:\n{client.node_log()[-3000:]}")


def face_topics(client: DdsClient) -> dict[str, str]:
    """Per-face topics that have a publisher (subscribers, like this test's, keep a topic in the graph)."""
    return {
        name: types[0]
        for name, types in client.node.get_topic_names_and_types()
        if name.startswith("/humans/faces/")
        and name != "/humans/faces/tracked"
        and client.node.count_publishers(name) > 0
    }


def expected_topics(face_id: str) -> dict[str, str]:
    return {f"/humans/faces/{face_id}/{name}": kind for name, kind in FACE_TOPIC_TYPES.items()}


def test_faces_appear_and_disappear_with_their_topics(client, listener, photos):
    frames, empty = photos
    intrinsics = frames[0].intrinsics
    time.sleep(2.0)  # the listener process discovers the node
    index = 0
    # a face: a string id that starts with a letter, its four topics with the hri_msgs types
    for frame in frames:
        ids = send(client, frame.image, frame.intrinsics, index).ids
        index += 1
    assert len(ids) == 1 and ids[0][0].isalpha(), ids
    first = ids[0]
    assert client.spin_until(lambda: face_topics(client) == expected_topics(first), timeout=10.0), face_topics(client)
    # per-face messages, read here too
    received = {
        name: client.collect(kind, f"/humans/faces/{first}/{name}")
        for name, kind in (
            ("roi", NormalizedRegionOfInterest2D),
            ("landmarks", FacialLandmarks),
            ("cropped", Image),
            ("aligned", Image),
        )
    }
    # frames until both this test and the listener process have heard every per-face topic (new
    # subscriptions take a moment to be discovered)
    deadline = time.monotonic() + 20.0
    while not (all(received.values()) and ("face", first) in story(listener)) and time.monotonic() < deadline:
        frame = frames[index % len(frames)]
        send(client, frame.image, frame.intrinsics, index)
        index += 1
    assert all(received.values()), {k: len(v) for k, v in received.items()}
    roi, landmarks = received["roi"][-1], received["landmarks"][-1]
    assert 0.0 <= roi.xmin < roi.xmax <= 1.0 and 0.0 <= roi.ymin < roi.ymax <= 1.0 and roi.c > 0.5
    assert len(landmarks.landmarks) == 70 and (landmarks.width, landmarks.height) == SIZE
    sellion = landmarks.landmarks[27]
    assert roi.xmin < sellion.x < roi.xmax and roi.ymin < sellion.y < roi.ymax
    for name in ("cropped", "aligned"):
        image = received[name][-1]
        assert (image.width, image.height, image.encoding) == (FACE_CROP_SIZE, FACE_CROP_SIZE, "bgr8")

    # REP-155 frames use the string id; the look-at outputs point at the same face
    frames_seen = {t.child_frame_id for m in client.tf for t in m.transforms}
    assert {f"face_{first}", f"gaze_{first}", "face_target"} <= frames_seen, frames_seen
    target, poses = client.target[-1], client.poses[-1]
    assert target.header.frame_id == FRAME_ID and 0.2 < target.point.z < 5.0
    assert len(poses.poses) == 1
    pose = poses.poses[0].position
    assert np.allclose([pose.x, pose.y, pose.z], [target.point.x, target.point.y, target.point.z], atol=0.05)
    # the target projects onto the sellion of the landmarks
    k = intrinsics
    u = k[0, 0] * target.point.x / target.point.z + k[0, 2]
    v = k[1, 1] * target.point.y / target.point.z + k[1, 2]
    assert abs(u / SIZE[0] - sellion.x) < 0.03 and abs(v / SIZE[1] - sellion.y) < 0.03

    # the face leaves: the list empties, its topics go away
    for _ in range(3):
        ids = send(client, empty, intrinsics, index).ids
        index += 1
    assert ids == []
    assert client.spin_until(lambda: face_topics(client) == {}, timeout=10.0), face_topics(client)

    # it comes back: a new id, new topics
    for frame in frames[:3]:
        ids = send(client, frame.image, frame.intrinsics, index).ids
        index += 1
    assert len(ids) == 1 and ids[0] != first
    second = ids[0]
    assert client.spin_until(lambda: face_topics(client) == expected_topics(second), timeout=10.0)
    for frame in frames[3:6]:
        send(client, frame.image, frame.intrinsics, index)
        index += 1
    client.spin_for(1.0)

    # the pyhri-style consumer in its own process saw the same story
    seen, told = events(listener), story(listener)
    assert told[:2] == [("appeared", first), ("face", first)], seen
    assert told.index(("disappeared", first)) < told.index(("appeared", second)), seen
    face = next(e for e in seen if e["event"] == "face" and e["id"] == first)
    assert face["landmarks"]["count"] == 70 and face["cropped"] == [FACE_CROP_SIZE, FACE_CROP_SIZE, "bgr8"]
