"""face_mesh node: camera images in; FaceMeshArray, /tf face frames, RViz markers, an annotated image,
/diagnostics, the look-at target (~/target, face_target, ~/poses) and, in ROS4HRI mode, the /humans/faces/...
topics out. A thin adapter: all face logic is in facemesh_ros' library core.

A managed (lifecycle) node: configure checks every parameter and loads the models (a failure leaves it
unconfigured, with the reason logged), activate subscribes to the camera, deactivate stops processing, leaves
the camera topics and drops the tracks, cleanup frees the models. With `autostart` (the default) it
configures and activates itself, so `ros2 run` and the launch file need no lifecycle manager. `~/reset`
(std_srvs/Trigger) drops all tracks.

Threading: the subscription callback only keeps the newest frame (counting the ones it replaces as dropped);
a worker thread processes it. So the node never builds a queue and always works on the freshest image,
whatever the camera rate. /diagnostics levels and counters: diagnostics.py.

Logs are bounded: each kind of problem (a rejected frame's reason, a face without pose, a camera_info
problem) is logged at most once per ERROR_THROTTLE_S, or once, whatever the input rate. Markers expire after
a few frame periods and are cleared (DELETEALL) when switched off or when the node is released.
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
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from facemesh_ros.drawing.annotate import annotate
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.geometry import (
    Camera,
    FaceGeometry,
    GeometryError,
    TrackSmoothers,
    default_canonical_face_model,
    estimate_face_geometry,
)
from facemesh_ros.inference import ModelLoadError
from facemesh_ros.interaction.hri import hri_face_id
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.ros.camera_input import CameraInput
from facemesh_ros.ros.diagnostics import FrameStats, pipeline_status
from facemesh_ros.ros.hri_publisher import HriFacePublisher
from facemesh_ros.ros.image_codec import ImageDecodeError, decode_image, image_from_pixels
from facemesh_ros.ros.latest import LatestSlot
from facemesh_ros.ros.look_at import LookAtPublisher, target_frame
from facemesh_ros.ros.markers import deleted_markers, face_markers, marker_array_cdr
from facemesh_ros.ros.messages import face_frames, face_mesh_array_cdr, stamp_seconds, tf_message_cdr
from facemesh_ros.ros.node_config import LiveConfig, PublishedTrackIds
from facemesh_ros.ros.parameters import (
    AUTOSTART,
    PARAMETERS,
    QOS_OVERRIDES,
    SPECS,
    check_frame_prefix,
    declare_parameters,
)
from facemesh_ros.ros.spin import run_node
from facemesh_ros.ros.throttle import ERROR_THROTTLE_S, KindThrottle, shorten
from facemesh_ros.types import FaceMeshResult

SMOOTHING_PARAMETERS = {"smoothing", "smoothing_min_cutoff", "smoothing_beta"}
TARGET_PARAMETERS = {"target.policy", "target.switch_ratio", "target.switch_time"}
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
# Markers vanish by themselves MARKER_LIFETIME_FRAMES frame periods after the last update (a stalled or killed
# node leaves no ghosts in RViz), within these bounds (seconds).
MARKER_LIFETIME_FRAMES = 3.0
MARKER_LIFETIME_S = (0.1, 2.0)
STOP_ACK_TIMEOUT_S = 0.5


class StartupError(RuntimeError):
    """autostart could not configure or activate the node (the reason is in the message)."""


class FaceMeshNode(LifecycleNode):
    """The face_mesh node (see the module docstring); parameters in parameters.PARAMETERS."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("face_mesh", **kwargs)
        default_canonical_face_model()  # a missing or corrupt file fails the start, not the first face
        autostart = self.declare_parameter(AUTOSTART.name, AUTOSTART.default, AUTOSTART.descriptor()).value
        # autostart: a bad value given at start ends the node at once; managed: configure reports it
        specs = [spec for spec in PARAMETERS if spec is not AUTOSTART]
        self._check_parameters = declare_parameters(self, specs, check_frame_prefix, check_declared=autostart)
        self.add_on_set_parameters_callback(self._prepare_rebuild)  # runs before the checker: see there
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._pipeline_lock = threading.Lock()  # the pipeline, its ids and smoothers change together
        self._face_mesh: FaceMesh | None = None  # None while unconfigured
        self._rebuilt: FaceMesh | None = None  # built by _prepare_rebuild, swapped in by _apply_parameters
        self._config = LiveConfig.read(self._param)  # replaced (never mutated) when a parameter changes
        self._ids = PublishedTrackIds()
        self._smoothers: TrackSmoothers | None = None
        self._look_at = self._config.look_at()
        self._marker_keys: set[tuple[str, int]] = set()
        self._markers_lock = threading.Lock()  # the worker's markers vs the parameter callback's DELETEALL
        self._last_header = Header()  # of the last published frame: the DELETEALL of the markers carries it
        self._last_stamp_ns: int | None = None
        self._errors = KindThrottle()
        self._stats = FrameStats()
        self._frames: LatestSlot[Image | CompressedImage] = LatestSlot()
        self._worker: threading.Thread | None = None
        self._input: CameraInput | None = None  # subscribed while active
        self._active = False
        self._transition_error = ""
        self.create_service(Trigger, "~/reset", self._on_reset)
        if autostart:
            for transition, name in ((self.trigger_configure, "configure"), (self.trigger_activate, "activate")):
                if transition() != SUCCESS:
                    raise StartupError(f"face_mesh could not {name}: {self._transition_error}")

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Check every parameter and load the models; create the outputs and start the worker."""
        self._transition_error = ""
        checked = self._check_parameters([self.get_parameter(spec.name) for spec in PARAMETERS])
        if not checked.successful:
            return self._fail("configure", checked.reason)
        try:
            face_mesh = self._build_face_mesh(self._param)
        except (ModelLoadError, ValueError, OSError) as error:
            return self._fail("configure", f"pipeline cannot be built: {error}")
        with self._pipeline_lock:
            self._face_mesh = face_mesh
            self._config = LiveConfig.read(self._param)
            self._smoothers = self._config.smoothers()
            self._look_at = self._config.look_at()
        publish = partial(self.create_publisher, qos_overriding_options=QOS_OVERRIDES)
        self._faces_pub = publish(FaceMeshArray, "~/faces", 10)
        self._tf_pub = publish(TFMessage, "/tf", 100)
        self._markers_pub = publish(MarkerArray, "~/markers", 10)
        self._annotated_pub = publish(Image, "~/annotated", 1)
        self._diagnostics_pub = publish(DiagnosticArray, "/diagnostics", 10)
        self._look_at_pub = LookAtPublisher(self)
        self._hri = HriFacePublisher(self) if self._param("ros4hri") else None
        self._diagnostics_timer = self.create_timer(self._param("diagnostics_period"), self._publish_diagnostics)
        self._frames = LatestSlot()
        self._worker = threading.Thread(target=self._work, name="face_mesh_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"face_mesh configured: inference on {', '.join(face_mesh.providers)}")
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._input = CameraInput(self, self._param("qos_depth"))
        self._images = self._input.subscribe_images(self._on_image)
        self._active = True
        self.get_logger().info(f"face_mesh active: {self._input.image_topic} -> {self._faces_pub.topic_name}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing: leave the camera topics, drop the frame in waiting and every track."""
        self._active = False
        if self._input is not None:
            self._input.destroy()
            self._input = None
        self._frames.put(None)  # clears a waiting frame (take() waits for a real one)
        self._drop_tracks()
        self.get_logger().info("face_mesh inactive: camera topics released")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self.on_deactivate(state)
        self._release()
        return SUCCESS

    def _fail(self, transition: str, reason: str) -> TransitionCallbackReturn:
        self._transition_error = reason
        self.get_logger().error(f"{transition} failed: {reason}")
        return FAILURE

    def _release(self) -> None:
        """Stop the worker, free the models and destroy the outputs (back to unconfigured)."""
        if self._face_mesh is None:
            return
        self._frames.close()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
        self._delete_all_markers()
        self._markers_pub.wait_for_all_acked(Duration(seconds=STOP_ACK_TIMEOUT_S))  # before the publisher goes
        with self._pipeline_lock:
            self._face_mesh.close()
            self._face_mesh = None
        if self._hri is not None:
            self._hri.destroy()
        self.destroy_timer(self._diagnostics_timer)
        outputs = (self._faces_pub, self._tf_pub, self._markers_pub, self._annotated_pub, self._diagnostics_pub)
        for publisher in (*outputs, self._look_at_pub.target_pub, self._look_at_pub.poses_pub):
            self.destroy_publisher(publisher)

    def _drop_tracks(self) -> None:
        """Forget every face: tracking, smoothing and the primary face restart; ROS4HRI faces are removed."""
        if self._face_mesh is None:
            return
        with self._pipeline_lock:
            self._face_mesh.reset()
            self._ids.pipeline_rebuilt()  # the next faces get new ids
            if self._smoothers is not None:
                self._smoothers.reset()
            self._look_at.reset()
        if self._hri is not None:
            self._hri.clear(Header(stamp=self.get_clock().now().to_msg()))

    def _on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self._face_mesh is None:
            response.success, response.message = False, "not configured: there are no tracks"
            return response
        self._drop_tracks()
        response.success, response.message = True, "all tracks dropped"
        return response

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
            detection_interval=value("detection_interval"),
        )

    def _prepare_rebuild(self, parameters: list[Parameter]) -> SetParametersResult:
        """Build the pipeline a structural change asks for *before* the change is accepted, so a pipeline that
        cannot be built (e.g. a model that fails to load) rejects the change with the reason instead of
        leaving parameters that no longer describe the running pipeline. rclpy runs the newest on-set callback
        first, so the type/choice checker is applied here too, before anything is built."""
        checked = self._check_parameters(parameters)
        if self._face_mesh is None:  # unconfigured: configure builds the pipeline
            return checked
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
            if self._face_mesh is None:
                return
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
            if names & TARGET_PARAMETERS:
                self._look_at = config.look_at()
        if rebuilt is not None:
            self.get_logger().info(f"pipeline rebuilt for {', '.join(sorted(names))}")
        if "publish_markers" in names and not config.publish_markers and self._face_mesh is not None:
            self._delete_all_markers()

    # ---- input -------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image | CompressedImage, info: dict[str, Any]) -> None:
        replaced = self._frames.put(msg)
        self._stats.received(replaced, info.get("publication_sequence_number"), self._images.get_publisher_count())

    def _work(self) -> None:
        frames = self._frames  # this worker's slot: a new configure makes a new one
        while (msg := frames.take()) is not None:
            if not self._active:
                continue  # deactivated: a frame still in flight is dropped
            try:
                self._process(msg)
            except Exception as error:  # the node must survive any single bad frame
                self._reject(type(error).__name__, f"frame dropped: {type(error).__name__}: {error}")

    def stop(self) -> None:
        """The process ends, in any state: stop processing and free the models (destroy_node() follows)."""
        self._active = False
        self._release()

    # ---- one frame ---------------------------------------------------------------------------------------
    def _process(self, msg: Image | CompressedImage) -> None:
        start = time.perf_counter()
        config, camera_input = self._config, self._input
        if camera_input is None:
            return  # deactivated while the frame was on its way
        header = msg.header
        if not header.frame_id:
            self._reject(
                "frame_id",
                "image header has an empty frame_id: faces, TF and markers need the "
                "camera's frame; set the camera driver's frame_id",
            )
            return
        try:
            rgb = decode_image(msg, config.max_image_pixels, self._decoder_warning)
        except ImageDecodeError as error:
            self._reject(f"decode:{error.kind}", f"frame rejected on {camera_input.image_topic}: {error}")
            return
        self._check_stamp(header)
        height, width = rgb.shape[:2]
        camera = camera_input.camera(width, height, config.image_is_rectified, config.default_vertical_fov_deg)
        with self._pipeline_lock:
            face_mesh = self._face_mesh
            if face_mesh is None:
                return  # cleaned up while the frame was on its way
            core_start = time.perf_counter()
            result = self._ids.apply(face_mesh.process(rgb), face_mesh.static_image_mode)
            geometries = [
                self._geometry(face, camera, track_id)
                for face, track_id in zip(result.landmarks, result.track_ids.tolist(), strict=True)
            ]
            if self._smoothers is not None:
                geometries = self._smoothers(result.track_ids, geometries, stamp_seconds(header.stamp))
            core_ms = (time.perf_counter() - core_start) * 1000.0
        self._publish(config, header, rgb, result, geometries, camera)
        self._stats.processed((time.perf_counter() - start) * 1000.0, result.num_faces, core_ms)

    def _reject(self, kind: str, reason: str) -> None:
        """Count a rejected frame and log why, at most once per ERROR_THROTTLE_S for each kind of problem."""
        self._stats.rejected(shorten(reason, 120))
        if self._errors.due(kind):
            self.get_logger().error(reason)

    def _decoder_warning(self, message: str) -> None:
        if self._errors.due("decoder warning"):
            self.get_logger().warning(message)

    def _geometry(self, landmarks: np.ndarray, camera: Camera, track_id: int) -> FaceGeometry | None:
        """The face's geometry, or None with the reason logged (throttled per reason): never silently."""
        try:
            return estimate_face_geometry(landmarks, camera, raise_on_failure=True)
        except GeometryError as error:
            if self._errors.due(f"pose:{error.reason.name}"):
                self.get_logger().warning(
                    f"face {track_id}: no pose recovered ({error}); published without pose, TF and markers"
                )
            return None

    def _check_stamp(self, header: Header) -> None:
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            self.get_logger().warning(
                "image stamps went backwards (a looping bag?): tracking and smoothing restart",
                throttle_duration_sec=ERROR_THROTTLE_S,
            )
            with self._pipeline_lock:
                if self._face_mesh is not None:
                    self._face_mesh.reset()
                if self._smoothers is not None:
                    self._smoothers.reset()
        self._last_stamp_ns = stamp_ns

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
        self._last_header = header
        self._faces_pub.publish(face_mesh_array_cdr(header, result, geometries))
        labels = result.track_ids.tolist()
        if self._hri is not None:
            labels = [hri_face_id(track_id) for track_id in labels]
            self._hri.publish(header, rgb, labels, result.landmarks, result.presence, result.blendshapes)
        primary = self._look_at.primary(header, result.track_ids, result.landmarks, geometries)
        primary_geometry = None if primary is None else geometries[primary]
        self._look_at_pub.publish(header, primary_geometry, geometries)
        if config.publish_tf and primary_geometry is not None:
            frames = face_frames(labels, geometries, config.frame_prefix)
            if config.target_frame:
                frames.append(target_frame(primary_geometry, config.frame_prefix + config.target_frame))
            self._tf_pub.publish(tf_message_cdr(header, frames))
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
        lifetime = Duration(seconds=self._marker_lifetime_s()).to_msg()
        markers = []
        for track_id, geometry in zip(track_ids.tolist(), geometries, strict=True):
            if geometry is not None:
                markers += face_markers(track_id, geometry, config.markers)
        shown = {(marker.ns, marker.id) for marker in markers}
        with self._markers_lock:
            # DELETE what is no longer drawn: faces that are gone, and namespaces switched off
            markers += deleted_markers(sorted(self._marker_keys - shown))
            self._marker_keys = shown
            if markers:
                self._markers_pub.publish(marker_array_cdr(header, markers, lifetime))

    def _marker_lifetime_s(self) -> float:
        period = self._stats.frame_period_s()
        low, high = MARKER_LIFETIME_S
        return high if period is None else min(max(MARKER_LIFETIME_FRAMES * period, low), high)

    def _delete_all_markers(self) -> None:
        """DELETEALL: markers switched off or the node stopping leave no ghosts in RViz."""
        with self._markers_lock:
            self._marker_keys = set()
            self._markers_pub.publish(MarkerArray(markers=[Marker(header=self._last_header, action=Marker.DELETEALL)]))

    def _publish_diagnostics(self) -> None:
        devices = ",".join(self._face_mesh.providers) if self._face_mesh is not None else "none"
        name = f"{self.get_fully_qualified_name()}: face mesh pipeline"
        topic = self._input.image_topic if self._input is not None else "the camera (node inactive)"
        msg = DiagnosticArray(status=[pipeline_status(name, devices, topic, self._stats.take_period())])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(msg)
        self._warn_if_name_taken()

    def _warn_if_name_taken(self) -> None:
        """Two nodes of one name share parameters services and topics: say so (once) when another appears."""
        me = (self.get_name(), self.get_namespace())
        if sum(1 for node in self.get_node_names_and_namespaces() if node == me) > 1 and self._errors.first("name"):
            self.get_logger().warning(
                f"another node is also named {self.get_fully_qualified_name()}: their parameters, services and "
                "outputs get mixed up; give each a namespace or a name of its own"
            )


def main(args: list[str] | None = None) -> None:
    """Entry point of face_mesh_node."""
    run_node(FaceMeshNode, "face_mesh", args, fatal_errors=(ModelLoadError, ValueError, StartupError))


if __name__ == "__main__":
    main()
