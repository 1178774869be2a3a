"""Library results -> facemesh_ros/FaceMeshArray and the REP-155 face/gaze transforms for /tf.

Each message comes two ways with the same content: as rosidl objects (face_mesh_array, tf_message) and as its
serialized bytes written from numpy (the *_cdr functions, cdr.py), which is what the node publishes.
Landmark arrays go into float32[] fields as array.array built from numpy's bytes (no per-value Python work).
"""

from __future__ import annotations

import array
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, TransformStamped, Vector3
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from facemesh_ros.geometry import FaceGeometry
from facemesh_ros.msg import FaceMesh, FaceMeshArray
from facemesh_ros.roi import landmark_bounds
from facemesh_ros.ros.cdr import CdrWriter
from facemesh_ros.types import FaceMeshResult

# A frame for /tf: child frame id, position (3,) m and quaternion (4,) x, y, z, w in the image's frame.
Frame = tuple[str, np.ndarray, np.ndarray]


def float32_sequence(values: np.ndarray) -> array.array:
    """A float32[] field value. rclpy stores an array.array('f') as is; a numpy array it copies element by
    element, a Python float each."""
    return array.array("f", np.ascontiguousarray(values, dtype=np.float32).tobytes())


def landmark_boxes(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(F, 4) integer pixel boxes x0, y0, x1, y1 (exclusive) around each face's landmarks, inside the image."""
    if len(landmarks) == 0:
        return np.zeros((0, 4), np.int64)
    size = np.array([width, height], np.float32)
    low, high = landmark_bounds(landmarks[:, :, :2])
    boxes = np.concatenate([np.floor(low * size), np.ceil(high * size)], axis=1)
    return np.clip(boxes, 0, np.concatenate([size, size])).astype(np.int64)


def face_mesh_array(header: Header, result: FaceMeshResult, geometries: Sequence[FaceGeometry | None]) -> FaceMeshArray:
    """One FaceMeshArray for a frame: every face of `result`, with its geometry where it was recovered."""
    width, height = result.image_size
    msg = FaceMeshArray(header=header, image_width=width, image_height=height)
    boxes = landmark_boxes(result.landmarks, width, height)
    for index, geometry in enumerate(geometries):
        track_id, score = int(result.track_ids[index]), float(result.presence[index])
        blendshapes = None if result.blendshapes is None else result.blendshapes[index]
        msg.faces.append(face_message(track_id, score, result.landmarks[index], boxes[index], geometry, blendshapes))
    return msg


def face_mesh_array_cdr(header: Header, result: FaceMeshResult, geometries: Sequence[FaceGeometry | None]) -> bytes:
    """face_mesh_array(header, result, geometries), serialized."""
    width, height = result.image_size
    writer = CdrWriter()
    writer.header(header)
    writer.pack("III", width, height, len(geometries))
    boxes = landmark_boxes(result.landmarks, width, height).tolist()
    track_ids, presence = result.track_ids.tolist(), result.presence.tolist()
    empty = np.zeros(0, np.float32)
    for index, geometry in enumerate(geometries):
        x0, y0, x1, y1 = boxes[index]
        # id, score, bbox (x_offset, y_offset, height, width, do_rectify)
        writer.pack("IfIIII?", track_ids[index], presence[index], x0, y0, y1 - y0, x1 - x0, False)
        writer.sequence(result.landmarks[index], "<f4")
        if geometry is None:
            writer.sequence(empty, "<f4")
            writer.pack("?dddddddd", False, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # has_pose, Pose(), scale
        else:
            writer.sequence(geometry.metric_landmarks_optical, "<f4")
            writer.pack(
                "?dddddddd", True, *geometry.position.tolist(), *geometry.orientation.tolist(), geometry.pose.scale
            )
        writer.sequence(empty if result.blendshapes is None else result.blendshapes[index], "<f4")
    return writer.value()


def face_message(
    track_id: int,
    score: float,
    landmarks: np.ndarray,
    box: np.ndarray,
    geometry: FaceGeometry | None,
    blendshapes: np.ndarray | None = None,
) -> FaceMesh:
    """One FaceMesh: landmarks (N, 3) normalized, pixel box x0, y0, x1, y1, the geometry contract (metric
    landmarks, pose, scale) that facemesh_ros.geometry.face_geometry_from_message reads back, and the (52,)
    blendshape scores when there are any."""
    face = FaceMesh(id=track_id, score=score)
    x0, y0, x1, y1 = (int(v) for v in box)
    face.bbox.x_offset, face.bbox.y_offset, face.bbox.width, face.bbox.height = x0, y0, x1 - x0, y1 - y0
    face.landmarks = float32_sequence(landmarks)
    if blendshapes is not None:
        face.blendshapes = float32_sequence(blendshapes)
    if geometry is not None:
        face.metric_landmarks = float32_sequence(geometry.metric_landmarks_optical)
        face.has_pose = True
        face.pose = pose_msg(geometry.position, geometry.orientation)
        face.scale = float(geometry.pose.scale)
    return face


def face_frames(
    face_ids: Sequence[int | str], geometries: Sequence[FaceGeometry | None], frame_prefix: str
) -> list[Frame]:
    """`<prefix>face_<id>` and `<prefix>gaze_<id>` (REP-155) of every face with a geometry."""
    frames = []
    for track_id, geometry in zip(face_ids, geometries, strict=True):
        if geometry is not None:
            frames.append((f"{frame_prefix}face_{track_id}", geometry.position, geometry.orientation))
            frames.append((f"{frame_prefix}gaze_{track_id}", geometry.position, geometry.gaze_orientation))
    return frames


def tf_message(header: Header, frames: Sequence[Frame]) -> TFMessage:
    """The frames as children of the image's frame."""
    transforms = []
    for child, position, orientation in frames:
        transform = TransformStamped(header=header, child_frame_id=child)
        transform.transform = transform_msg(position, orientation)
        transforms.append(transform)
    return TFMessage(transforms=transforms)


def tf_message_cdr(header: Header, frames: Sequence[Frame]) -> bytes:
    """tf_message(header, frames), serialized."""
    writer = CdrWriter()
    writer.count(len(frames))
    for child, position, orientation in frames:
        writer.header(header)
        writer.string(child)
        writer.pack("ddddddd", *position.tolist(), *orientation.tolist())
    return writer.value()


def _xyz(values: np.ndarray) -> dict[str, float]:
    return dict(zip("xyz", map(float, values), strict=True))


def _quaternion(xyzw: np.ndarray) -> Quaternion:
    return Quaternion(**dict(zip("xyzw", map(float, xyzw), strict=True)))


def pose_msg(position: np.ndarray, quaternion_xyzw: np.ndarray) -> Pose:
    """geometry_msgs/Pose of a position and an (x, y, z, w) quaternion."""
    return Pose(position=Point(**_xyz(position)), orientation=_quaternion(quaternion_xyzw))


def transform_msg(position: np.ndarray, quaternion_xyzw: np.ndarray) -> Transform:
    """geometry_msgs/Transform of a translation and an (x, y, z, w) quaternion."""
    return Transform(translation=Vector3(**_xyz(position)), rotation=_quaternion(quaternion_xyzw))


def stamp_seconds(stamp: Time) -> float:
    """A builtin_interfaces/Time in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9
