"""face_mesh node: camera images in; FaceMeshArray, /tf face frames, RViz markers, an annotated image and
/diagnostics out. A thin adapter: all face logic is in facemesh_ros' library core.

Threading: the subscription callback only keeps the newest frame (counting the ones it replaces as dropped);
a worker thread processes it. So the node never builds a queue and always works on the freshest image,
whatever the camera rate.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from facemesh_ros.annotate import annotate
from facemesh_ros.face_mesh import FaceMesh, FaceMeshResult
from facemesh_ros.geometry import (
    Camera,
    FaceGeometry,
    FaceGeometrySmoother,
    estimate_face_geometry,
)
from facemesh_ros.inference import ModelLoadError
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.ros.camera_model import CameraModel
from facemesh_ros.ros.image_codec import ImageDecodeError, decode_image, image_from_pixels
from facemesh_ros.ros.latest import LatestSlot
from facemesh_ros.ros.markers import MarkerOptions, deleted_markers, face_markers, serialize_marker_array
from facemesh_ros.ros.messages import face_mesh_array, face_transforms
from facemesh_ros.ros.parameters import PARAMETERS, SPECS, declare_parameters, image_topic, input_qos
from facemesh_ros.ros.spin import run_node

ERROR_THROTTLE_S = 5.0
STATS_WINDOW = 300  # processing times kept for the diagnostics percentiles


class FaceMeshNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("face_mesh", **kwargs)
        self._check_parameters = declare_parameters(self, PARAMETERS)
        self.add_on_set_parameters_callback(self._prepare_rebuild)  # runs before the checker: see there
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._pipeline_lock = threading.Lock()
        self._face_mesh = self._build_face_mesh(self._param)
        self._rebuilt: FaceMesh | None = None  # built by _prepare_rebuild, swapped in by _apply_parameters
        self._first_id = 0  # added to the pipeline's track ids: ids stay unique across rebuilds
        self._next_id = 0  # one past the largest published id
        self._smoothers: dict[int, FaceGeometrySmoother] = {}
        self._marker_keys: set[tuple[str, int]] = set()
        self._last_stamp_ns: int | None = None
        self._camera_model = CameraModel(self.get_logger())
        self._last_error: dict[str, float] = {}

        self._frames: LatestSlot[Image | CompressedImage] = LatestSlot()
        self._stats_lock = threading.Lock()
        self._received = self._dropped = self._processed = self._rejected = 0
        self._processing_ms: deque[float] = deque(maxlen=STATS_WINDOW)
        self._faces_tracked = 0
        self._stats_since = time.monotonic()

        self._faces_pub = self.create_publisher(FaceMeshArray, "~/faces", 10)
        self._tf_pub = self.create_publisher(TFMessage, "/tf", 100)
        self._markers_pub = self.create_publisher(MarkerArray, "~/markers", 10)
        self._annotated_pub = self.create_publisher(Image, "~/annotated", 1)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._subscribe_inputs()
        self.create_timer(self._param("diagnostics_period"), self._publish_diagnostics)

        self._worker = threading.Thread(target=self._work, name="face_mesh_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"face_mesh ready: {image_topic(self)} -> {self._faces_pub.topic_name}, "
            f"inference on {', '.join(self._face_mesh.providers)}"
        )

    # ---- setup -------------------------------------------------------------------------------------------
    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _build_face_mesh(self, value: Callable[[str], Any]) -> FaceMesh:
        """A pipeline from the parameter values `value(name)` returns."""
        return FaceMesh(
            static_image_mode=value("static_image_mode"),
            max_num_faces=value("max_num_faces"),
            refine_landmarks=value("refine_landmarks"),
            min_detection_confidence=value("min_detection_confidence"),
            min_tracking_confidence=value("min_tracking_confidence"),
            detector=value("detector"),
            device=value("device"),
            num_threads=value("num_threads") or None,
        )

    def _subscribe_inputs(self) -> None:
        qos = input_qos(self, self._param("qos_depth"))
        image_type = CompressedImage if self._param("image_transport") == "compressed" else Image
        self.create_subscription(image_type, image_topic(self), self._on_image, qos)
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos)

    def _prepare_rebuild(self, parameters: list[Parameter]) -> SetParametersResult:
        """Build the pipeline a structural change asks for *before* the change is accepted, so a pipeline that
        cannot be built (e.g. a model that fails to load) rejects the change with the reason instead of
        leaving parameters that no longer describe the running pipeline. rclpy runs the newest on-set callback
        first, so the type/choice checker is applied here too, before anything is built."""
        checked = self._check_parameters(parameters)
        if not checked.successful or not any(SPECS[p.name].kind == "rebuild" for p in parameters if p.name in SPECS):
            return checked
        changes = {p.name: p.value for p in parameters}
        try:
            self._rebuilt = self._build_face_mesh(lambda name: changes.get(name, self._param(name)))
        except Exception as error:  # any failure to build is a reason to reject the change
            return SetParametersResult(successful=False, reason=f"pipeline cannot be built: {error}")
        return checked

    def _apply_parameters(self, parameters: list[Parameter]) -> None:
        names = {p.name for p in parameters}
        if self._rebuilt is not None:
            with self._pipeline_lock:
                self._face_mesh.close()
                self._face_mesh, self._rebuilt = self._rebuilt, None
                self._first_id = self._next_id
                self._smoothers.clear()
            self.get_logger().info(f"pipeline rebuilt for {', '.join(sorted(names))}")
        elif names & {"min_detection_confidence", "min_tracking_confidence"}:
            with self._pipeline_lock:
                self._face_mesh.set_thresholds(
                    min_detection_confidence=self._param("min_detection_confidence"),
                    min_tracking_confidence=self._param("min_tracking_confidence"),
                )
        if names & {"smoothing", "smoothing_min_cutoff", "smoothing_beta"}:
            with self._pipeline_lock:
                self._smoothers.clear()

    # ---- input -------------------------------------------------------------------------------------------
    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_model.update(msg)

    def _on_image(self, msg: Image | CompressedImage) -> None:
        replaced = self._frames.put(msg)
        with self._stats_lock:
            self._received += 1
            self._dropped += replaced

    def _work(self) -> None:
        while (msg := self._frames.take()) is not None:
            try:
                self._process(msg)
            except Exception as error:  # the node must survive any single bad frame
                self._reject(type(error).__name__, f"frame dropped: {type(error).__name__}: {error}")

    def stop(self) -> None:
        self._frames.close()
        self._worker.join(timeout=5.0)

    # ---- one frame ---------------------------------------------------------------------------------------
    def _process(self, msg: Image | CompressedImage) -> None:
        start = time.perf_counter()
        header = msg.header
        if not header.frame_id:
            self._reject(
                "frame_id",
                "image header has an empty frame_id: faces, TF and markers need the "
                "camera's frame; set the camera driver's frame_id",
            )
            return
        try:
            rgb = decode_image(msg)
        except ImageDecodeError as error:
            self._reject(f"decode:{error.kind}", f"cannot decode image on {image_topic(self)}: {error}")
            return
        self._check_stamp(header)
        with self._pipeline_lock:
            result = self._with_public_ids(self._face_mesh.process(rgb))
            geometries = self._geometries(result, header)
        self._publish(header, rgb, result, geometries)
        with self._stats_lock:
            self._processed += 1
            self._faces_tracked = result.num_faces
            self._processing_ms.append((time.perf_counter() - start) * 1000.0)

    def _with_public_ids(self, result: FaceMeshResult) -> FaceMeshResult:
        """Track ids as published. Tracking: the pipeline's ids offset past every id used before the last
        rebuild, so a new face never reuses an old face's TF frame. Static mode tracks nothing: ids are the
        faces' indices in the image, so TF frames face_0, face_1, ... are reused instead of growing forever."""
        if self._face_mesh.static_image_mode:
            ids = np.arange(result.num_faces, dtype=np.int64)
        else:
            ids = result.track_ids + self._first_id
            self._next_id = max(self._next_id, int(ids.max()) + 1 if len(ids) else 0)
        return dataclasses.replace(result, track_ids=ids)

    def _reject(self, kind: str, reason: str) -> None:
        """Count a rejected frame and log why, at most once per ERROR_THROTTLE_S for each kind of problem."""
        self._count_rejected()
        now = time.monotonic()
        if now - self._last_error.get(kind, -ERROR_THROTTLE_S) >= ERROR_THROTTLE_S:
            self._last_error[kind] = now
            self.get_logger().error(reason)

    def _count_rejected(self) -> None:
        with self._stats_lock:
            self._rejected += 1

    def _check_stamp(self, header: Header) -> None:
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            self.get_logger().warning(
                "image stamps went backwards (a looping bag?): tracking and smoothing restart",
                throttle_duration_sec=ERROR_THROTTLE_S,
            )
            with self._pipeline_lock:
                self._face_mesh.reset()
                self._smoothers.clear()
        self._last_stamp_ns = stamp_ns

    def _camera(self, width: int, height: int) -> Camera:
        return self._camera_model.camera(
            width, height, self._param("image_is_rectified"), self._param("default_vertical_fov_deg")
        )

    def _geometries(self, result: FaceMeshResult, header: Header) -> list[FaceGeometry | None]:
        width, height = result.image_size
        camera = self._camera(width, height)
        geometries = [estimate_face_geometry(face, camera) for face in result.landmarks]
        if not self._param("smoothing"):
            return geometries
        stamp = header.stamp.sec + header.stamp.nanosec * 1e-9
        ids = result.track_ids.tolist()
        for gone in set(self._smoothers) - set(ids):
            del self._smoothers[gone]
        smoothed = []
        for track_id, geometry in zip(ids, geometries, strict=True):
            if geometry is not None:
                smoother = self._smoothers.setdefault(
                    track_id,
                    FaceGeometrySmoother(
                        min_cutoff=self._param("smoothing_min_cutoff"), beta=self._param("smoothing_beta")
                    ),
                )
                geometry = smoother(geometry, stamp)
            smoothed.append(geometry)
        return smoothed

    # ---- output ------------------------------------------------------------------------------------------
    def _publish(
        self, header: Header, rgb: np.ndarray, result: FaceMeshResult, geometries: list[FaceGeometry | None]
    ) -> None:
        self._faces_pub.publish(face_mesh_array(header, result, geometries))
        if self._param("publish_tf") and any(g is not None for g in geometries):
            self._tf_pub.publish(face_transforms(header, result.track_ids, geometries, self._param("frame_prefix")))
        if self._param("publish_markers") and self._markers_pub.get_subscription_count() > 0:
            self._publish_markers(header, result.track_ids, geometries)
        if self._annotated_pub.get_subscription_count() > 0:
            bgr = annotate(
                rgb,
                result,
                geometries,
                self._camera(*result.image_size),
                draw_tesselation=self._param("annotated.draw_tesselation"),
                draw_axes=self._param("annotated.draw_axes"),
            )
            self._annotated_pub.publish(image_from_pixels(header, bgr, "bgr8"))

    def _publish_markers(self, header: Header, track_ids: np.ndarray, geometries: list[FaceGeometry | None]) -> None:
        options = MarkerOptions(**{ns: self._param(f"markers.{ns}") for ns in ("mesh", "contours", "points", "axes")})
        markers = []
        for track_id, geometry in zip(track_ids.tolist(), geometries, strict=True):
            if geometry is not None:
                markers += face_markers(header, track_id, geometry, options)
        shown = {(marker.ns, marker.id) for marker, _ in markers}
        # DELETE what is no longer drawn: faces that are gone, and namespaces switched off
        markers += [(marker, None) for marker in deleted_markers(header, sorted(self._marker_keys - shown))]
        self._marker_keys = shown
        if markers:
            self._markers_pub.publish(serialize_marker_array(markers))

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        with self._stats_lock:
            elapsed = max(now - self._stats_since, 1e-6)
            received, dropped, processed, rejected = self._received, self._dropped, self._processed, self._rejected
            times = np.array(self._processing_ms) if self._processing_ms else np.zeros(1)
            faces = self._faces_tracked
            self._received = self._dropped = self._processed = self._rejected = 0
            self._stats_since = now
        status = DiagnosticStatus(
            name=f"{self.get_fully_qualified_name()}: face mesh pipeline",
            hardware_id=",".join(self._face_mesh.providers),
        )
        if received == 0:
            status.level, status.message = DiagnosticStatus.WARN, f"no images on {image_topic(self)}"
        elif rejected:
            status.level, status.message = DiagnosticStatus.WARN, f"{rejected} frame(s) rejected"
        else:
            status.level, status.message = DiagnosticStatus.OK, f"tracking {faces} face(s)"
        values: dict[str, str] = {
            "input rate (Hz)": f"{received / elapsed:.2f}",
            "processed rate (Hz)": f"{processed / elapsed:.2f}",
            "dropped frames": str(dropped),
            "rejected frames": str(rejected),
            "processing time p50 (ms)": f"{np.percentile(times, 50):.2f}",
            "processing time p95 (ms)": f"{np.percentile(times, 95):.2f}",
            "faces tracked": str(faces),
            "inference device": ",".join(self._face_mesh.providers),
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(msg)


def main(args: list[str] | None = None) -> None:
    run_node(FaceMeshNode, "face_mesh", args, fatal_errors=(ModelLoadError, ValueError))


if __name__ == "__main__":
    main()
