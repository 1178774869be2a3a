"""FaceMeshArray, /tf, look-at and marker building from real faces (photos through the real pipeline), as
rosidl messages and as the bytes the node publishes (cdr.py)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Duration
from face_mesh_reference import read_rgb
from geometry_msgs.msg import PointStamped, PoseArray
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.geometry import (
    Camera,
    FailureReason,
    GeometryError,
    estimate_face_geometry,
    face_geometry_from_message,
)
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.roi import landmark_bounds
from facemesh_ros.ros.look_at import poses_cdr, poses_msg, target_cdr, target_frame, target_msg
from facemesh_ros.ros.markers import (
    NAMESPACES,
    MarkerOptions,
    deleted_markers,
    face_markers,
    marker_array_cdr,
    marker_array_msg,
)
from facemesh_ros.ros.messages import (
    face_frames,
    face_mesh_array,
    face_mesh_array_cdr,
    landmark_boxes,
    tf_message,
    tf_message_cdr,
)

HEADER = Header(frame_id="camera_optical_frame")
HEADER.stamp.sec, HEADER.stamp.nanosec = 1234, 5678
LIFETIME = Duration(sec=0, nanosec=100_000_000)


@pytest.fixture(scope="module")
def two_faces(test_data_dir):
    """breakingbad.jpg's two faces with blendshapes (model v2), and their geometries."""
    rgb = read_rgb("breakingbad.jpg")
    with FaceMesh(static_image_mode=True, max_num_faces=2, model="v2", output_blendshapes=True) as face_mesh:
        result = face_mesh.process(rgb)
        empty = face_mesh.process(read_rgb("brick.png"))
    assert result.num_faces == 2 and result.blendshapes is not None and empty.num_faces == 0
    camera = Camera.from_fov(63.0, rgb.shape[1], rgb.shape[0])
    return result, [estimate_face_geometry(landmarks, camera) for landmarks in result.landmarks], empty


@pytest.fixture(scope="module")
def face(test_data_dir):
    rgb = read_rgb("astronaut.png")
    with FaceMesh(static_image_mode=True, refine_landmarks=True) as face_mesh:
        result = face_mesh.process(rgb)
    assert result.num_faces == 1
    camera = Camera.from_fov(63.0, rgb.shape[1], rgb.shape[0])
    geometry = estimate_face_geometry(result.landmarks[0], camera)
    assert geometry is not None
    return result, geometry


def test_face_mesh_array_carries_landmarks_pose_and_box(face) -> None:
    result, geometry = face
    msg = face_mesh_array(HEADER, result, [geometry])
    assert msg.header == HEADER and (msg.image_width, msg.image_height) == result.image_size
    (item,) = msg.faces
    assert item.id == int(result.track_ids[0]) and 0.5 < item.score <= 1.0
    np.testing.assert_array_equal(np.asarray(item.landmarks).reshape(-1, 3), result.landmarks[0])
    metric = np.asarray(item.metric_landmarks).reshape(-1, 3)
    assert metric.shape == (478, 3)
    assert 0.2 < np.median(metric[:, 2]) < 5.0  # metres in front of the camera (optical z forward)
    assert item.has_pose
    np.testing.assert_allclose(
        [item.pose.position.x, item.pose.position.y, item.pose.position.z], geometry.position, rtol=1e-6
    )
    pixels = result.landmarks[0, :, :2] * result.image_size
    box = item.bbox
    assert box.x_offset <= pixels[:, 0].min() and pixels[:, 0].max() <= box.x_offset + box.width
    assert box.y_offset <= pixels[:, 1].min() and pixels[:, 1].max() <= box.y_offset + box.height


def test_the_message_geometry_rebuilds_the_published_face_geometry(face) -> None:
    result, geometry = face
    (item,) = face_mesh_array(HEADER, result, [geometry]).faces
    assert item.scale == pytest.approx(geometry.pose.scale, rel=1e-12) and 0.5 < item.scale < 2.0
    rebuilt = face_geometry_from_message(deserialize_message(serialize_message(item), type(item)))
    np.testing.assert_allclose(rebuilt.pose_matrix, geometry.pose_matrix, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rebuilt.face_to_optical, geometry.face_to_optical, atol=1e-9)
    np.testing.assert_allclose(rebuilt.gaze_to_optical, geometry.gaze_to_optical, atol=1e-9)
    # the metric landmarks travel as float32 metres: ~1e-7 relative
    np.testing.assert_allclose(rebuilt.metric_landmarks, geometry.metric_landmarks, atol=1e-4)
    np.testing.assert_allclose(rebuilt.mesh_vertices, geometry.mesh_vertices, atol=1e-4)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda item: setattr(item, "has_pose", False), FailureReason.NO_POSE),
        (lambda item: setattr(item, "metric_landmarks", item.metric_landmarks[:-1]), FailureReason.BAD_SHAPE),
        (lambda item: setattr(item, "metric_landmarks", []), FailureReason.BAD_SHAPE),
        (lambda item: item.metric_landmarks.__setitem__(4, float("nan")), FailureReason.NON_FINITE),
        (lambda item: setattr(item, "scale", 0.0), FailureReason.SOLVER_FAILED),
        (lambda item: setattr(item.pose.position, "x", float("inf")), FailureReason.SOLVER_FAILED),
    ],
)
def test_an_unusable_message_geometry_raises_with_the_reason(face, change, reason) -> None:
    result, geometry = face
    (item,) = face_mesh_array(HEADER, result, [geometry]).faces
    change(item)
    with pytest.raises(GeometryError) as error:
        face_geometry_from_message(item)
    assert error.value.reason is reason
    (untouched,) = face_mesh_array(HEADER, result, [geometry]).faces
    assert face_geometry_from_message(untouched).pose.scale == pytest.approx(geometry.pose.scale)


def test_face_without_geometry_has_landmarks_but_no_pose(face) -> None:
    result, _ = face
    (item,) = face_mesh_array(HEADER, result, [None]).faces
    assert not item.has_pose and len(item.metric_landmarks) == 0 and len(item.landmarks) == 478 * 3


def test_landmark_bounds_are_the_min_and_max_over_the_points() -> None:
    points = np.random.default_rng(3).normal(size=(3, 478, 3)).astype(np.float32)
    for subset in (points, points[:, :, :2], points[0], points[:0]):
        low, high = landmark_bounds(subset)
        np.testing.assert_array_equal(low, subset.min(axis=-2))
        np.testing.assert_array_equal(high, subset.max(axis=-2))


def test_landmark_boxes_are_clipped_to_the_image() -> None:
    landmarks = np.array([[[-0.1, 0.2, 0.0], [1.2, 0.5, 0.0]]], np.float32)
    np.testing.assert_array_equal(landmark_boxes(landmarks, 100, 50), [[0, 10, 100, 25]])
    assert landmark_boxes(np.zeros((0, 468, 3), np.float32), 100, 50).shape == (0, 4)


def test_face_and_gaze_frames_hang_off_the_image_frame(face) -> None:
    result, geometry = face
    transforms = tf_message(HEADER, face_frames(result.track_ids, [geometry], "robot1/")).transforms
    track_id = int(result.track_ids[0])
    assert [t.child_frame_id for t in transforms] == [f"robot1/face_{track_id}", f"robot1/gaze_{track_id}"]
    for transform in transforms:
        assert transform.header == HEADER
        rotation = transform.transform.rotation
        assert np.isclose(np.linalg.norm([rotation.x, rotation.y, rotation.z, rotation.w]), 1.0)
    assert face_frames(result.track_ids, [None], "") == []


def decoded(data: bytes, message: object) -> object:
    """`data` decoded as the type of `message`, and `message` through rclpy's own serialization and back:
    compared as messages, since rclpy leaves CDR padding bytes uninitialized (and float32 fields round)."""
    kind = type(message)
    assert len(data) == len(serialize_message(message))
    return deserialize_message(data, kind), deserialize_message(serialize_message(message), kind)


# frame ids of every length mod 8 shift what follows them: the encoders must align as rclpy does
@pytest.mark.parametrize("frame_id", ["", "c", "cam", "camera", "camera_optical_frame", "robot/camera_link_opt"])
def test_the_published_bytes_decode_to_the_built_messages(two_faces, frame_id: str) -> None:
    result, geometries, empty = two_faces
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = -3, 999_999_999
    with_and_without_pose = [geometries[0], None]
    for frame, faces in ((result, geometries), (result, with_and_without_pose), (empty, [])):
        ours, rclpy = decoded(face_mesh_array_cdr(header, frame, faces), face_mesh_array(header, frame, faces))
        assert isinstance(ours, FaceMeshArray) and ours == rclpy and len(ours.faces) == len(faces)
    frames = [*face_frames(result.track_ids, with_and_without_pose, "robot1/"), target_frame(geometries[1], "target")]
    for some in (frames, []):
        ours, rclpy = decoded(tf_message_cdr(header, some), tf_message(header, some))
        assert isinstance(ours, TFMessage) and ours == rclpy
    for faces in (geometries, [None], []):
        ours, rclpy = decoded(poses_cdr(header, faces), poses_msg(header, faces))
        assert isinstance(ours, PoseArray) and ours == rclpy
    ours, rclpy = decoded(target_cdr(header, geometries[1]), target_msg(header, geometries[1]))
    assert isinstance(ours, PointStamped) and ours == rclpy
    everything = MarkerOptions(mesh=True, contours=True, points=True, axes=True)
    for ns in ("m", "mesh", "contours", "axes_"):  # DELETEs with namespaces of several lengths in between
        markers = face_markers(7, geometries[0], everything) + deleted_markers([(ns, 3), ("points", 12)])
        markers += face_markers(9, geometries[1], MarkerOptions())
        ours, rclpy = decoded(marker_array_cdr(header, markers, LIFETIME), marker_array_msg(header, markers, LIFETIME))
        assert isinstance(ours, MarkerArray) and ours == rclpy


def test_markers_have_the_mesh_contours_axes_and_deletes(face) -> None:
    _, geometry = face
    markers = face_markers(7, geometry, MarkerOptions()) + deleted_markers([(ns, 3) for ns in NAMESPACES])
    decoded_markers = deserialize_message(marker_array_cdr(HEADER, markers, LIFETIME), MarkerArray).markers
    by_ns = {(m.ns, m.id): m for m in decoded_markers}
    mesh = by_ns[("mesh", 7)]
    assert mesh.type == Marker.TRIANGLE_LIST and len(mesh.points) == 898 * 3
    assert mesh.header == HEADER and mesh.lifetime == LIFETIME and mesh.pose.orientation.w == 1.0
    first = geometry.metric_landmarks_optical[geometry.mesh_triangles[0, 0]]
    np.testing.assert_allclose([mesh.points[0].x, mesh.points[0].y, mesh.points[0].z], first)
    assert by_ns[("contours", 7)].type == Marker.LINE_LIST and len(by_ns[("contours", 7)].points) == 124 * 2
    assert ("points", 7) not in by_ns  # off by default
    axes = by_ns[("axes", 7)]
    assert len(axes.points) == 6 and [(c.r, c.g, c.b) for c in axes.colors[::2]] == [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    origin = np.array([axes.points[0].x, axes.points[0].y, axes.points[0].z])
    np.testing.assert_allclose(origin, geometry.position)
    assert {m.ns for m in decoded_markers if m.id == 3} == {"mesh", "contours", "points", "axes"}
    assert all(m.action == Marker.DELETE and m.lifetime == Duration() for m in decoded_markers if m.id == 3)
