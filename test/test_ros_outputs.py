"""FaceMeshArray, /tf and marker building from a real face (astronaut.png through the real pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
from face_mesh_reference import read_rgb
from geometry_msgs.msg import Point
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.geometry import (
    Camera,
    FailureReason,
    GeometryError,
    estimate_face_geometry,
    face_geometry_from_message,
)
from facemesh_ros.ros.markers import (
    NAMESPACES,
    MarkerOptions,
    deleted_markers,
    face_markers,
    serialize_marker_array,
)
from facemesh_ros.ros.messages import face_mesh_array, face_transforms, landmark_boxes

HEADER = Header(frame_id="camera_optical_frame")
HEADER.stamp.sec, HEADER.stamp.nanosec = 1234, 5678


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


def test_landmark_boxes_are_clipped_to_the_image() -> None:
    landmarks = np.array([[[-0.1, 0.2, 0.0], [1.2, 0.5, 0.0]]], np.float32)
    np.testing.assert_array_equal(landmark_boxes(landmarks, 100, 50), [[0, 10, 100, 25]])
    assert landmark_boxes(np.zeros((0, 468, 3), np.float32), 100, 50).shape == (0, 4)


def test_face_and_gaze_frames_hang_off_the_image_frame(face) -> None:
    result, geometry = face
    transforms = face_transforms(HEADER, result.track_ids, [geometry], "robot1/").transforms
    track_id = int(result.track_ids[0])
    assert [t.child_frame_id for t in transforms] == [f"robot1/face_{track_id}", f"robot1/gaze_{track_id}"]
    for transform in transforms:
        assert transform.header == HEADER
        rotation = transform.transform.rotation
        assert np.isclose(np.linalg.norm([rotation.x, rotation.y, rotation.z, rotation.w]), 1.0)
    assert face_transforms(HEADER, result.track_ids, [None], "").transforms == []


def test_fast_marker_serialization_equals_rclpy(face) -> None:
    _, geometry = face
    options = MarkerOptions(mesh=True, contours=True, points=True, axes=True)
    markers = face_markers(HEADER, 7, geometry, options) + face_markers(HEADER, 9, geometry, options)
    markers += [(m, None) for m in deleted_markers(HEADER, [(ns, 3) for ns in NAMESPACES])]
    slow = MarkerArray()
    for marker, points in markers:
        copy = deserialize_message(serialize_message(marker), Marker)
        if points is not None:
            copy.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in points]
        slow.markers.append(copy)
    # compare as messages: CDR padding bytes are left uninitialized, so equal messages can differ in bytes
    assert deserialize_message(serialize_marker_array(markers), MarkerArray) == slow


def test_markers_have_the_mesh_contours_and_deletes(face) -> None:
    _, geometry = face
    markers = face_markers(HEADER, 7, geometry, MarkerOptions()) + [
        (m, None) for m in deleted_markers(HEADER, [(ns, 3) for ns in NAMESPACES])
    ]
    decoded = deserialize_message(serialize_marker_array(markers), MarkerArray).markers
    by_ns = {(m.ns, m.id): m for m in decoded}
    mesh = by_ns[("mesh", 7)]
    assert mesh.type == Marker.TRIANGLE_LIST and len(mesh.points) == 898 * 3
    assert mesh.header == HEADER
    first = geometry.metric_landmarks_optical[geometry.mesh_triangles[0, 0]]
    np.testing.assert_allclose([mesh.points[0].x, mesh.points[0].y, mesh.points[0].z], first)
    assert by_ns[("contours", 7)].type == Marker.LINE_LIST and len(by_ns[("contours", 7)].points) == 124 * 2
    assert ("points", 7) not in by_ns  # off by default
    assert len(by_ns[("axes", 7)].points) == 6
    assert {m.ns for m in decoded if m.id == 3} == {"mesh", "contours", "points", "axes"}
    assert all(m.action == Marker.DELETE for m in decoded if m.id == 3)
