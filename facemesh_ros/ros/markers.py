"""RViz markers for the faces of one frame, in the camera's optical frame (metres).

Namespaces: "mesh" (TRIANGLE_LIST of the 898 canonical triangles over the metric landmarks), "contours"
(LINE_LIST of lips, eyes, brows and face oval), "points" (SPHERE_LIST of the landmarks) and "axes" (LINE_LIST:
the REP-155 face frame's x red, y green, z blue). The marker id is the face's track id; a face that is gone
gets DELETE in every namespace so RViz keeps no ghosts.

face_markers() says what to draw as FaceMarker data; marker_array_cdr() serializes a frame's markers straight
from the numpy points (what the node publishes: a mesh is 2694 points, too many for Point objects every frame)
and marker_array_msg() builds the same MarkerArray from rosidl objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from facemesh_ros.connections import FACEMESH_CONTOURS
from facemesh_ros.drawing.annotate import AXIS_LENGTH_M
from facemesh_ros.geometry import FaceGeometry
from facemesh_ros.geometry.frames import frame_axes
from facemesh_ros.ros.cdr import CdrWriter

NAMESPACES = ("mesh", "contours", "points", "axes")
_CONTOUR_EDGES = np.array(sorted(FACEMESH_CONTOURS), dtype=np.int64).ravel()
# The axes marker's LINE_LIST: origin -> x end, origin -> y end, origin -> z end of frame_axes(); x red, y
# green, z blue, one colour per line end.
_AXIS_LINES = np.array([0, 1, 0, 2, 0, 3])
_AXIS_COLORS = np.repeat(np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]], np.float32), 2, axis=0)
_NO_POINTS = np.zeros((0, 3))
_NO_COLORS = np.zeros((0, 4), np.float32)
_NO_HEADER = Header()


class FaceMarker(NamedTuple):
    """One marker, as data: its namespace and id, and for ADD its kind, style, points (P, 3) in metres and
    per-point colours (P, 4) when it has them. The pose is always the identity."""

    ns: str
    id: int
    action: int = Marker.ADD
    type: int = Marker.ARROW
    scale: float = 0.0
    rgba: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    points: np.ndarray = _NO_POINTS
    colors: np.ndarray = _NO_COLORS


@dataclass(frozen=True)
class MarkerOptions:
    """Which marker namespaces to publish, and their colours (RGBA in [0, 1])."""

    mesh: bool = True
    contours: bool = True
    points: bool = False
    axes: bool = True
    mesh_rgba: tuple[float, float, float, float] = (0.85, 0.85, 0.85, 0.6)
    contour_rgba: tuple[float, float, float, float] = (0.2, 1.0, 0.2, 1.0)
    point_rgba: tuple[float, float, float, float] = (1.0, 0.3, 0.3, 1.0)

    def enabled(self) -> tuple[str, ...]:
        return tuple(ns for ns in NAMESPACES if getattr(self, ns))


def face_markers(track_id: int, geometry: FaceGeometry, options: MarkerOptions) -> list[FaceMarker]:
    """The enabled markers of one face."""
    metric = geometry.metric_landmarks_optical
    track_id = int(track_id)
    out = []
    if options.mesh:
        points = np.take(metric, geometry.mesh_triangles.ravel(), axis=0)
        out.append(
            FaceMarker("mesh", track_id, type=Marker.TRIANGLE_LIST, scale=1.0, rgba=options.mesh_rgba, points=points)
        )
    if options.contours:
        points = np.take(metric, _CONTOUR_EDGES, axis=0)
        out.append(
            FaceMarker(
                "contours", track_id, type=Marker.LINE_LIST, scale=0.002, rgba=options.contour_rgba, points=points
            )
        )
    if options.points:
        out.append(
            FaceMarker("points", track_id, type=Marker.SPHERE_LIST, scale=0.003, rgba=options.point_rgba, points=metric)
        )
    if options.axes:
        points = frame_axes(geometry.face_to_optical, AXIS_LENGTH_M)[_AXIS_LINES]
        out.append(
            FaceMarker(
                "axes",
                track_id,
                type=Marker.LINE_LIST,
                scale=0.004,
                rgba=(1.0, 1.0, 1.0, 1.0),
                points=points,
                colors=_AXIS_COLORS,
            )
        )
    return out


def deleted_markers(keys: Iterable[tuple[str, int]]) -> list[FaceMarker]:
    """DELETE markers for (namespace, track id) pairs no longer drawn (a face gone, a namespace turned off)."""
    return [FaceMarker(ns, int(track_id), action=Marker.DELETE) for ns, track_id in keys]


def marker_array_msg(header: Header, markers: Sequence[FaceMarker], lifetime: Duration) -> MarkerArray:
    """The MarkerArray of `markers`, each in the image's frame; ADD markers expire after `lifetime`."""
    array = MarkerArray()
    for face_marker in markers:
        marker = Marker(header=header, ns=face_marker.ns, id=face_marker.id, type=face_marker.type)
        marker.action = face_marker.action
        marker.pose.orientation.w = 1.0
        marker.scale = Vector3(x=face_marker.scale, y=face_marker.scale, z=face_marker.scale)
        r, g, b, a = face_marker.rgba
        marker.color = ColorRGBA(r=r, g=g, b=b, a=a)
        if face_marker.action == Marker.ADD:
            marker.lifetime = lifetime
        marker.points = [Point(x=x, y=y, z=z) for x, y, z in face_marker.points.tolist()]
        marker.colors = [ColorRGBA(r=r, g=g, b=b, a=a) for r, g, b, a in face_marker.colors.tolist()]
        array.markers.append(marker)
    return array


def _empty_marker_tail() -> bytes:
    """A Marker's fields after `colors`, all empty: texture_resource, texture (CompressedImage: header,
    format, data), uv_coordinates, text, mesh_resource, mesh_file (filename, data),
    mesh_use_embedded_materials."""
    writer = CdrWriter()
    writer.string("")
    writer.header(Header())
    writer.string("")
    writer.pack("II", 0, 0)  # texture data, uv_coordinates
    writer.string("")
    writer.string("")
    writer.string("")
    writer.pack("I?", 0, False)  # mesh_file data, mesh_use_embedded_materials
    return writer.body()


_EMPTY_MARKER_TAIL = _empty_marker_tail()


def marker_array_cdr(header: Header, markers: Sequence[FaceMarker], lifetime: Duration) -> bytes:
    """marker_array_msg(header, markers, lifetime), serialized."""
    header_writer = CdrWriter()
    header_writer.header(header)
    header_bytes = header_writer.body()
    writer = CdrWriter()
    writer.count(len(markers))
    for marker in markers:
        writer.encoded(header_bytes)
        writer.string(marker.ns)
        scale, (r, g, b, a) = marker.scale, marker.rgba
        sec, nanosec = (lifetime.sec, lifetime.nanosec) if marker.action == Marker.ADD else (0, 0)
        # id, type, action, pose (identity), scale, color, lifetime, frame_locked
        writer.pack("iiiddddddddddffffiI?", marker.id, marker.type, marker.action, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                    1.0, scale, scale, scale, r, g, b, a, sec, nanosec, False)  # fmt: skip
        writer.sequence(marker.points, "<f8", 3)
        writer.sequence(marker.colors, "<f4", 4)
        writer.encoded(_EMPTY_MARKER_TAIL)
    return writer.value()
