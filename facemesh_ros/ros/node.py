"""face_mesh node: camera images in; FaceMeshArray, /tf face frames, RViz markers, an annotated image and
/diagnostics out. A thin adapter: all face logic is in facemesh_ros' library core.

Threading: the subscription callback only keeps the newest frame (counting the ones it replaces as dropped);
a worker thread processes it. So the node never builds a queue and always works on the freshest image,
whatever the camera rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from facemesh_ros.drawing.annotate import annotate
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.geometry import Camera, FaceGeometry, TrackSmoothers, estimate_face_geometry
from facemesh_ros.inference import ModelLoadError
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.ros.camera_input import CameraInput
from facemesh_ros.ros.diagnostics import FrameStats, pipeline_status
from facemesh_ros.ros.image_codec import ImageDecodeError, decode_image, image_from_pixels
from facemesh_ros.ros.latest import LatestSlot
from facemesh_ros.ros.markers import deleted_markers, face_markers, serialize_marker_array
from facemesh_ros.ros.messages import face_mesh_array, face_transforms
from facemesh_ros.ros.node_config import LiveConfig, PublishedTrackIds
from facemesh_ros.ros.parameters import PARAMETERS, QOS_OVERRIDES, SPECS, declare_parameters
from facemesh_ros.ros.spin import run_node
from facemesh_ros.ros.throttle import ERROR_THROTTLE_S, KindThrottle
from facemesh_ros.types import FaceMeshResult

SMOOTHING_PARAMETERS = {"smoothing", "smoothing_min_cutoff", "smoothing_beta"}


class FaceMeshNode(Node):
    """The face_mesh node (see the module docstring); parameters in parameters.PARAMETERS."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("face_mesh", **kwargs)
        self._check_parameters = declare_parameters(self, PARAMETERS)
        self.add_on_set_parameters_callback(self._prepare_rebuild)  # runs before the checker: see there
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._pipeline_lock = threading.Lock()  # the pipeline, its ids and smoothers change together
        self._face_mesh = self._build_face_mesh(self._param)
        self._rebuilt: FaceMesh | None = None  # built by _prepare_rebuild, swapped in by _apply_parameters
        self._config = LiveConfig.read(self._param)  # replaced (never mutated) when a parameter changes
        self._ids = PublishedTrackIds()
        self._smoothers: TrackSmoothers | None = self._config.smoothers()
        self._marker_keys: set[tuple[str, int]] = set()
        self._last_stamp_ns: int | None = None
        self._errors = KindThrottle()
        self._stats = FrameStats()
        self._frames: LatestSlot[Image | CompressedImage] = LatestSlot()

        publish = partial(self.create_publisher, qos_overriding_options=QOS_OVERRIDES)
        self._faces_pub = publish(FaceMeshArray, "~/faces", 10)
        self._tf_pub = publish(TFMessage, "/tf", 100)
        self._markers_pub = publish(MarkerArray, "~/markers", 10)
        self._annotated_pub = publish(Image, "~/annotated", 1)
        self._diagnostics_pub = publish(DiagnosticArray, "/diagnostics", 10)
        self._input = CameraInput(self, self._param("qos_depth"))
        self._input.subscribe_images(self._on_image)
        self.create_timer(self._param("diagnostics_period"), self._publish_diagnostics)

        self._worker = threading.Thread(target=self._work, name="face_mesh_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"face_mesh ready: {self._input.image_topic} -> {self._faces_pub.topic_name}, "
            f"inference on {', '.join(self._face_mesh.providers)}"
        )

    # ---- parameters --------------------------------------------------------------------------------------
    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _build_face_mesh(self, value: Callable[[str], Any]) -> FaceMesh:
        """A pipeline from the parameter values `value(name)` returns."""
        return FaceMesh(
            static_image_mode=value("static_image_mode"),
            max_num_faces=value("max_num_faces"),
            refine_landmarks=value("refine_landmarks"),
            model=value("model"),
            output_blendshapes=value("output_blendshapes"),
            min_detection_confidence=value("min_detection_confidence"),
            min_tracking_confidence=value("min_tracking_confidence"),
            detector=value("detector"),
            device=value("device"),
            num_threads=value("num_threads") or None,
        )

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
        config = LiveConfig.read(self._param)
        rebuilt, self._rebuilt = self._rebuilt, None
        with self._pipeline_lock:
            self._config = config
            if rebuilt is not None:
                self._face_mesh.close()
                self._face_mesh = rebuilt
                self._ids.pipeline_rebuilt()
                self._smoothers = config.smoothers()
            elif names & {"min_detection_confidence", "min_tracking_confidence"}:
                self._face_mesh.set_thresholds(
                    min_detection_confidence=self._param("min_detection_confidence"),
                    min_tracking_confidence=self._param("min_tracking_confidence"),
                )
            if names & SMOOTHING_PARAMETERS:
                self._smoothers = config.smoothers()
        if rebuilt is not None:
            self.get_logger().info(f"pipeline rebuilt for {', '.join(sorted(names))}")

    # ---- input -------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image | CompressedImage) -> None:
        self._stats.received(self._frames.put(msg))

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
        config = self._config
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
            self._reject(f"decode:{error.kind}", f"cannot decode image on {self._input.image_topic}: {error}")
            return
        self._check_stamp(header)
        with self._pipeline_lock:
            result = self._face_mesh.process(rgb)
            result = self._ids.apply(result, self._face_mesh.static_image_mode)
            camera = self._camera(config, *result.image_size)
            geometries = [estimate_face_geometry(face, camera) for face in result.landmarks]
            if self._smoothers is not None:
                geometries = self._smoothers(result.track_ids, geometries, _seconds(header))
        self._publish(config, header, rgb, result, geometries, camera)
        self._stats.processed((time.perf_counter() - start) * 1000.0, result.num_faces)

    def _reject(self, kind: str, reason: str) -> None:
        """Count a rejected frame and log why, at most once per ERROR_THROTTLE_S for each kind of problem."""
        self._stats.rejected()
        if self._errors.due(kind):
            self.get_logger().error(reason)

    def _check_stamp(self, header: Header) -> None:
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            self.get_logger().warning(
                "image stamps went backwards (a looping bag?): tracking and smoothing restart",
                throttle_duration_sec=ERROR_THROTTLE_S,
            )
            with self._pipeline_lock:
                self._face_mesh.reset()
                if self._smoothers is not None:
                    self._smoothers.reset()
        self._last_stamp_ns = stamp_ns

    def _camera(self, config: LiveConfig, width: int, height: int) -> Camera:
        return self._input.camera(width, height, config.image_is_rectified, config.default_vertical_fov_deg)

    # ---- output ------------------------------------------------------------------------------------------
    def _publish(
        self,
        config: LiveConfig,
        header: Header,
        rgb: np.ndarray,
        result: FaceMeshResult,
        geometries: list[FaceGeometry | None],
        camera: Camera,
    ) -> None:
        self._faces_pub.publish(face_mesh_array(header, result, geometries))
        if config.publish_tf and any(g is not None for g in geometries):
            self._tf_pub.publish(face_transforms(header, result.track_ids, geometries, config.frame_prefix))
        if config.publish_markers and self._markers_pub.get_subscription_count() > 0:
            self._publish_markers(config, header, result.track_ids, geometries)
        if self._annotated_pub.get_subscription_count() > 0:
            bgr = annotate(
                rgb,
                result,
                geometries,
                camera,
                draw_tesselation=config.draw_tesselation,
                draw_axes=config.draw_axes,
                blendshape_bars=config.blendshape_bars,
            )
            self._annotated_pub.publish(image_from_pixels(header, bgr, "bgr8"))

    def _publish_markers(
        self, config: LiveConfig, header: Header, track_ids: np.ndarray, geometries: list[FaceGeometry | None]
    ) -> None:
        markers = []
        for track_id, geometry in zip(track_ids.tolist(), geometries, strict=True):
            if geometry is not None:
                markers += face_markers(header, track_id, geometry, config.markers)
        shown = {(marker.ns, marker.id) for marker, _ in markers}
        # DELETE what is no longer drawn: faces that are gone, and namespaces switched off
        markers += [(marker, None) for marker in deleted_markers(header, sorted(self._marker_keys - shown))]
        self._marker_keys = shown
        if markers:
            self._markers_pub.publish(serialize_marker_array(markers))

    def _publish_diagnostics(self) -> None:
        devices = ",".join(self._face_mesh.providers)
        name = f"{self.get_fully_qualified_name()}: face mesh pipeline"
        msg = DiagnosticArray(
            status=[pipeline_status(name, devices, self._input.image_topic, self._stats.take_period())]
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(msg)


def _seconds(header: Header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def main(args: list[str] | None = None) -> None:
    """Entry point of face_mesh_node."""
    run_node(FaceMeshNode, "face_mesh", args, fatal_errors=(ModelLoadError, ValueError))


if __name__ == "__main__":
    main()
