"""face_mesh as a managed node: the built executable with autostart:=false in its own process, driven through
the lifecycle services as a lifecycle manager does, over DDS. A bad parameter is rejected at configure (the
node stays unconfigured and says why); configure -> activate processes frames, deactivate releases the camera
topics and stops the output, activate resumes; ~/reset drops the tracks; cleanup frees the models."""

from __future__ import annotations

import pytest
from face_mesh_reference import read_rgb
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from node_harness import FRAME_ID, DdsClient, camera_info, face_mesh_with_package_yaml, rgb_image, stamp
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.simulation.virtual_camera import VirtualCamera

SIZE = (640, 480)


@pytest.fixture(scope="module")
def frames(test_data_dir):
    photo = read_rgb("astronaut.png")
    return list(VirtualCamera(photo, size=SIZE, num_frames=6, target=(230, 170), pan=0.01, zoom_range=(1.6, 1.7)))


@pytest.fixture(scope="module")
def node(ros, tmp_path_factory):
    # managed, and a detector name that does not exist
    process = face_mesh_with_package_yaml(
        tmp_path_factory.mktemp("lifecycle"), {"autostart": False, "detector": "medium"}
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(ros, node):
    client = DdsClient("lifecycle_test_client")
    client.faces = client.collect(FaceMeshArray, "/face_mesh/faces")
    client.node_log = node.log
    yield client
    client.destroy()


def call(client: DdsClient, service_type: type, name: str, request: object) -> object:
    service = client.node.create_client(service_type, name)
    assert service.wait_for_service(timeout_sec=20.0), f"{name} did not appear"
    future = service.call_async(request)
    assert client.spin_until(future.done, timeout=60.0), f"{name} did not answer"
    client.node.destroy_client(service)
    return future.result()


def transition(client: DdsClient, transition_id: int) -> bool:
    request = ChangeState.Request(transition=Transition(id=transition_id))
    return call(client, ChangeState, "/face_mesh/change_state", request).success


def state(client: DdsClient) -> int:
    return call(client, GetState, "/face_mesh/get_state", GetState.Request()).current_state.id


def answered(client: DdsClient, frame, index: int, timeout: float = 1.0) -> bool:
    """Publish frame `index` a few times; True when the node answered with its stamp."""
    header = Header(stamp=stamp(index), frame_id=FRAME_ID)
    for _ in range(max(1, int(timeout / 0.5))):
        client.info_pub.publish(camera_info(frame.intrinsics, *SIZE, header))
        client.spin_for(0.01)
        client.image_pub.publish(rgb_image(frame.image, header))
        if client.spin_until(lambda: any(f.header.stamp == header.stamp for f in client.faces), timeout=0.5):
            return True
    return False


def image_subscribers(client: DdsClient) -> int:
    """The face_mesh node's subscriptions to /image (other test processes on the machine may subscribe too)."""
    infos = client.node.get_subscriptions_info_by_topic("/image")
    return sum(info.node_name == "face_mesh" and info.node_namespace == "/" for info in infos)


def test_lifecycle_transitions(client, frames):
    assert state(client) == State.PRIMARY_STATE_UNCONFIGURED
    # configure rejects the bad detector with the reason, and nothing is subscribed
    assert not transition(client, Transition.TRANSITION_CONFIGURE)
    assert state(client) == State.PRIMARY_STATE_UNCONFIGURED
    assert "detector must be one of short, full" in client.node_log()
    assert image_subscribers(client) == 0
    # a reset before configure says there is nothing to reset
    reset = call(client, Trigger, "/face_mesh/reset", Trigger.Request())
    assert not reset.success and "not configured" in reset.message

    # the manager fixes the parameter: configure loads the models, activate subscribes
    assert client.set_parameters("/face_mesh", detector="short")[0].successful
    assert transition(client, Transition.TRANSITION_CONFIGURE)
    assert state(client) == State.PRIMARY_STATE_INACTIVE
    assert image_subscribers(client) == 0  # configured is not active: no camera yet
    assert transition(client, Transition.TRANSITION_ACTIVATE)
    assert state(client) == State.PRIMARY_STATE_ACTIVE
    assert client.spin_until(lambda: image_subscribers(client) == 1, timeout=10.0)
    index = 0
    for frame in frames[:3]:
        assert answered(client, frame, index, timeout=10.0), client.node_log()[-2000:]
        index += 1
    first_id = next(f for f in reversed(client.faces) if f.faces).faces[0].id

    # ~/reset drops the tracks: the same face comes back under a new id
    reset = call(client, Trigger, "/face_mesh/reset", Trigger.Request())
    assert reset.success
    assert answered(client, frames[3], index, timeout=10.0)
    index += 1
    assert client.faces[-1].faces[0].id != first_id

    # deactivate: the camera topics are released and frames get no answer
    assert transition(client, Transition.TRANSITION_DEACTIVATE)
    assert state(client) == State.PRIMARY_STATE_INACTIVE
    assert client.spin_until(lambda: image_subscribers(client) == 0, timeout=10.0)
    assert not answered(client, frames[4], index, timeout=2.0)
    index += 1

    # activate again: processing resumes
    assert transition(client, Transition.TRANSITION_ACTIVATE)
    assert client.spin_until(lambda: image_subscribers(client) == 1, timeout=10.0)
    assert answered(client, frames[5], index, timeout=10.0)
    assert client.faces[-1].faces, "a face after resuming"
    index += 1

    # deactivate + cleanup: back to unconfigured, the outputs are gone
    assert transition(client, Transition.TRANSITION_DEACTIVATE)
    assert transition(client, Transition.TRANSITION_CLEANUP)
    assert state(client) == State.PRIMARY_STATE_UNCONFIGURED
    assert client.spin_until(lambda: client.node.count_publishers("/face_mesh/faces") == 0, timeout=10.0)
