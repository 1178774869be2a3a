"""RViz markers for the faces of one frame, in the camera's optical frame (metres).

Namespaces: "mesh" (TRIANGLE_LIST of the 898 canonical triangles over the metric landmarks), "contours"
(LINE_LIST of lips, eyes, brows and face oval), "points" (SPHERE_LIST of the landmarks) and "axes" (LINE_LIST:
the REP-155 face frame's x red, y green, z blue). The marker id is the face's track id; a face that is gone
gets DELETE in every namespace so RViz keeps no ghosts.

Speed: a TRIANGLE_LIST of 2694 points costs ~3 ms to build as Point objects and ~3 ms more for rclpy to
serialize them. serialize_marker_array() instead lets rclpy serialize each marker with a single placeholder
point and splices the real points in as raw little-endian doubles from numpy. Constructing a Marker costs
more than serializing it, so face_markers() reuses one per namespace, track id and style: a marker it
returns is valid until the next call for the same face (the node serializes each frame's before the next).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import Point
from rclpy.serialization import serialize_message
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from facemesh_ros.connections import FACEMESH_CONTOURS
from facemesh_ros.drawing.annotate import AXIS_LENGTH_M
from facemesh_ros.geometry import FaceGeometry
from facemesh_ros.geometry.frames import frame_axes

NAMESPACES = ("mesh", "contours", "points", "axes")
_CONTOUR_EDGES = np.array(sorted(FACEMESH_CONTOURS), dtype=np.int64).ravel()
# A double no real coordinate takes: marks the placeholder point in the serialized bytes.
_SENTINEL = 1.2345678901234567e-300
_SENTINEL_BYTES = struct.pack("<d", _SENTINEL)
_ONE = struct.pack("<I", 1)


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


def face_markers(
    header: Header, track_id: int, geometry: FaceGeometry, options: MarkerOptions
) -> list[tuple[Marker, np.ndarray | None]]:
    """The enabled markers of one face, each with its (P, 3) float64 points when they are bulk points."""
    metric = geometry.metric_landmarks_optical
    out: list[tuple[Marker, np.ndarray | None]] = []
    if options.mesh:
        triangles = geometry.mesh_triangles.ravel()
        out.append((_marker(header, "mesh", track_id, Marker.TRIANGLE_LIST, 1.0, options.mesh_rgba), metric[triangles]))
    if options.contours:
        out.append(
            (
                _marker(header, "contours", track_id, Marker.LINE_LIST, 0.002, options.contour_rgba),
                metric[_CONTOUR_EDGES],
            )
        )
    if options.points:
        out.append((_marker(header, "points", track_id, Marker.SPHERE_LIST, 0.003, options.point_rgba), metric))
    if options.axes:
        out.append((_axes_marker(header, track_id, geometry.face_to_optical), None))
    return out


def deleted_markers(header: Header, keys: Iterable[tuple[str, int]]) -> list[Marker]:
    """DELETE markers for (namespace, track id) pairs no longer drawn (a face gone, a namespace turned off)."""
    return [Marker(header=header, ns=ns, id=int(track_id), action=Marker.DELETE) for ns, track_id in keys]


def serialize_marker_array(markers: Sequence[tuple[Marker, np.ndarray | None]]) -> bytes:
    """CDR bytes of a MarkerArray, equal to rclpy's serialization, with the bulk points spliced in.

    Each marker with bulk points is serialized holding one placeholder point; its 24 bytes are then replaced
    by the real points. In a Marker the fields from `scale` to `frame_locked` have fixed sizes and start
    8-aligned, so the uint32 point count always sits directly before the first point; and every point adds
    24 bytes, a multiple of CDR's largest alignment (8), so all that follows the splice stays aligned.
    """
    array = MarkerArray()
    for marker, points in markers:
        if points is not None and len(points):
            marker.points = [Point(x=_SENTINEL, y=_SENTINEL, z=_SENTINEL)]
        array.markers.append(marker)
    data = serialize_message(array)
    chunks, start = [], 0
    for _marker_msg, points in markers:
        if points is None or not len(points):
            continue
        at = data.index(_SENTINEL_BYTES * 3, start)
        if data[at - 4 : at] != _ONE:
            raise RuntimeError("unexpected Marker serialization layout: no point count before the points")
        chunks += [
            data[start : at - 4],
            struct.pack("<I", len(points)),
            np.ascontiguousarray(points, dtype="<f8").tobytes(),
        ]
        start = at + 24
    chunks.append(data[start:])
    return b"".join(chunks)


def _marker(
    header: Header, ns: str, track_id: int, kind: int, scale: float, rgba: tuple[float, float, float, float]
) -> Marker:
    marker = _styled_marker(ns, int(track_id), kind, scale, rgba)
    marker.header = header
    return marker


@functools.lru_cache(maxsize=256)
def _styled_marker(ns: str, track_id: int, kind: int, scale: float, rgba: tuple[float, float, float, float]) -> Marker:
    """The reused marker of one face and style; callers set what changes per frame (header, points)."""
    marker = Marker(ns=ns, id=track_id, type=kind, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = scale
    marker.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
    return marker


def _axes_marker(header: Header, track_id: int, face_to_optical: np.ndarray) -> Marker:
    marker = _marker(header, "axes", track_id, Marker.LINE_LIST, 0.004, (1.0, 1.0, 1.0, 1.0))
    origin, *ends = frame_axes(face_to_optical, AXIS_LENGTH_M)
    marker.points = [Point(x=float(x), y=float(y), z=float(z)) for end in ends for x, y, z in (origin, end)]
    axis_colors = [ColorRGBA(r=1.0, a=1.0), ColorRGBA(g=1.0, a=1.0), ColorRGBA(b=1.0, a=1.0)]
    marker.colors = [color for color in axis_colors for _ in range(2)]
    return marker
