"""face_effect node: camera images + the face_mesh node's FaceMeshArray with the same stamp in, the image with
an AR effect (glasses, face paint or the user's own object) out on ~/image. A thin adapter over
facemesh_ros.effects.

Geometry: each face's FaceGeometry is rebuilt from the message (pose, Procrustes scale, metric landmarks:
facemesh_ros.geometry.face_geometry_from_message), so the effect shows exactly the pose the face_mesh node
put on /tf and in its markers, smoothed when that node smooths. The camera (camera_info, else the default
FOV) only projects; a face without geometry (has_pose false) is skipped.

Work happens only while someone subscribes to ~/image: the image and faces subscriptions are created when
the first subscriber appears and destroyed when the last one leaves (checked every SUBSCRIBER_POLL_S).
Threading: OpenGL contexts belong to one thread, so a worker thread owns the renderer; the callbacks only
pair messages by stamp and hand the newest pair over (older unprocessed pairs are dropped).
Lens distortion is not rendered (image_is_rectified False uses K and ignores D): prefer rectified images.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image

from facemesh_ros.effects import (
    AssetError,
    Effect,
    EffectRenderer,
    EffectRendererUnavailable,
    face_paint_effect,
    glasses_effect,
    object_effect,
)
from facemesh_ros.effects.renderer import SAMPLE_COUNTS
from facemesh_ros.geometry import Camera, FaceGeometry, GeometryError, face_geometry_from_message
from facemesh_ros.msg import FaceMeshArray
from facemesh_ros.ros.camera_input import CameraInput
from facemesh_ros.ros.image_codec import ImageDecodeError, decode_image, image_from_pixels
from facemesh_ros.ros.latest import LatestSlot
from facemesh_ros.ros.parameters import CAMERA_INPUT_PARAMETERS, QOS_OVERRIDES, ParameterSpec, declare_parameters
from facemesh_ros.ros.spin import run_node
from facemesh_ros.ros.throttle import ERROR_THROTTLE_S, KindThrottle

SUBSCRIBER_POLL_S = 0.25
# effect -> the path parameters it loads (a change of any other path does not reload the effect)
EFFECT_ASSETS: dict[str, tuple[str, ...]] = {
    "glasses": (),
    "face_paint": ("paint_texture",),
    "object": ("object_mesh", "object_texture"),
}
PATH_PARAMETERS = ("paint_texture", "object_mesh", "object_texture")

PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "effect",
        "glasses",
        "'glasses': the built-in glasses; 'face_paint': paint_texture (or the "
        "built-in face paint) over the face mesh; 'object': object_mesh + object_texture.",
        "live",
        tuple(EFFECT_ASSETS),
    ),
    ParameterSpec(
        "paint_texture",
        "",
        "PNG drawn in the canonical face UV space (v = 0 at the top); empty = the built-in face paint.",
        "live",
    ),
    ParameterSpec(
        "object_mesh",
        "",
        "OBJ modelled around the canonical face (cm; x = subject's left, y up, "
        "+z out of the face), for effect 'object'.",
        "live",
    ),
    ParameterSpec("object_texture", "", "The object's texture image (PNG with alpha), for effect 'object'.", "live"),
    ParameterSpec("occlusion", True, "Use the face mesh as depth occluder (hides what the head would hide).", "live"),
    ParameterSpec(
        "samples",
        4,
        "Anti-aliasing samples per pixel: one of 0 (off), 2, 4, 8; other values are "
        "rejected. 4x costs ~11 ms per 1280x720 frame on a CPU (llvmpipe), little on a GPU.",
        "startup",
        low=0,
        high=8,
    ),
    *CAMERA_INPUT_PARAMETERS,
    ParameterSpec(
        "sync_queue",
        10,
        "Messages of each input kept while waiting for the other with the same stamp.",
        "startup",
        low=1,
        high=100,
    ),
)


def check_parameter(parameter: Parameter) -> str | None:
    """Why `parameter` (already of the right type) is rejected, or None: what ranges and choices can't say."""
    if parameter.name in PATH_PARAMETERS and parameter.value and not Path(parameter.value).is_file():
        return f"{parameter.name}: no such file '{parameter.value}'"
    if parameter.name == "samples" and parameter.value not in SAMPLE_COUNTS:
        return f"samples must be 0, 2, 4 or 8, got {parameter.value}"
    return None


def effect_needs_reload(effect: str, changed: Iterable[str]) -> bool:
    """Whether changing the parameters `changed` alters what the effect named `effect` draws."""
    changed = set(changed)
    return "effect" in changed or bool(changed.intersection(EFFECT_ASSETS[effect]))


def stamp_key(msg: Any) -> tuple[int, int]:
    """The (sec, nanosec) stamp that pairs an image with its FaceMeshArray."""
    return msg.header.stamp.sec, msg.header.stamp.nanosec


class StampMatcher:
    """Pairs image and faces messages with equal stamps; keeps at most `depth` unmatched messages of each."""

    def __init__(self, depth: int) -> None:
        self._depth = depth
        self._waiting: tuple[OrderedDict, OrderedDict] = (OrderedDict(), OrderedDict())
        self._lock = threading.Lock()

    def add(self, kind: int, msg: Any) -> tuple[Any, Any] | None:
        """kind 0 = image, 1 = faces. Returns (image, faces) when `msg` completes a pair, else None."""
        key = stamp_key(msg)
        with self._lock:
            other = self._waiting[1 - kind]
            if key in other:
                partner = other.pop(key)
                for queue in self._waiting:  # anything older can no longer be the newest pair
                    for old in [k for k in queue if k < key]:
                        del queue[old]
                return (msg, partner) if kind == 0 else (partner, msg)
            mine = self._waiting[kind]
            mine[key] = msg
            while len(mine) > self._depth:
                mine.popitem(last=False)
            return None

    def clear(self) -> None:
        with self._lock:
            for queue in self._waiting:
                queue.clear()


class FaceEffectNode(Node):
    """The face_effect node (see the module docstring): effects drawn on the faces the face_mesh node found."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("face_effect", **kwargs)
        declare_parameters(self, PARAMETERS, check_parameter)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._matcher = StampMatcher(self._param("sync_queue"))
        self._inputs: list[Any] = []
        self._effect_changed = False  # the worker loads the startup effect itself
        self._pairs: LatestSlot[tuple[Any, Any]] = LatestSlot()
        self._skip_log = KindThrottle()

        self._image_pub = self.create_publisher(Image, "~/image", 1, qos_overriding_options=QOS_OVERRIDES)
        self._input = CameraInput(self, self._param("sync_queue"))

        self._ready = threading.Event()
        self._startup_error: Exception | None = None
        self._worker = threading.Thread(target=self._work, name="face_effect_renderer", daemon=True)
        self._worker.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        self.create_timer(SUBSCRIBER_POLL_S, self._update_subscriptions)
        self.get_logger().info(
            f"face_effect ready ({self._renderer_name}): {self._input.image_topic} + "
            f"{self.resolve_topic_name('face_mesh/faces')} -> {self._image_pub.topic_name}"
        )

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _apply_parameters(self, parameters: list[Parameter]) -> None:
        if effect_needs_reload(self._param("effect"), (p.name for p in parameters)):
            self._effect_changed = True

    # ---- input -------------------------------------------------------------------------------------------
    def _update_subscriptions(self) -> None:
        """Subscribe to the inputs only while ~/image has subscribers: no decoding or rendering otherwise."""
        wanted = self._image_pub.get_subscription_count() > 0
        if wanted and not self._inputs:
            self._inputs = [
                self._input.subscribe_images(lambda m: self._on_input(0, m)),
                self.create_subscription(
                    FaceMeshArray,
                    "face_mesh/faces",
                    lambda m: self._on_input(1, m),
                    10,
                    qos_overriding_options=QOS_OVERRIDES,
                ),
            ]
        elif not wanted and self._inputs:
            for subscription in self._inputs:
                self.destroy_subscription(subscription)
            self._inputs = []
            self._matcher.clear()

    def _on_input(self, kind: int, msg: Any) -> None:
        pair = self._matcher.add(kind, msg)
        if pair is not None and self._pairs.put(pair):
            self.get_logger().debug(
                "rendering is slower than the input: an unrendered frame was replaced",
                throttle_duration_sec=ERROR_THROTTLE_S,
            )

    # ---- worker (owns the OpenGL context) ----------------------------------------------------------------
    def _work(self) -> None:
        renderer = self._start_renderer()
        if renderer is None:
            return
        with renderer:
            while (pair := self._pairs.take()) is not None:
                image, faces = pair
                try:
                    self._switch_effect(renderer)
                    self._render(renderer, image, faces)
                except Exception as error:
                    self.get_logger().error(
                        f"effect frame dropped: {type(error).__name__}: {error}", throttle_duration_sec=ERROR_THROTTLE_S
                    )

    def _start_renderer(self) -> EffectRenderer | None:
        """The renderer, or None with `_startup_error` set; either way the waiting constructor is released."""
        renderer = None
        try:
            renderer = EffectRenderer(self._load_effect(), samples=self._param("samples"))
            self._renderer_name = renderer.renderer_name
            return renderer
        except Exception as error:  # whatever it is (no EGL, bad asset, shader compile), never hang the constructor
            if renderer is not None:
                renderer.close()
            self._startup_error = error
            return None
        finally:
            self._ready.set()

    def _load_effect(self) -> Effect:
        name = self._param("effect")
        if name == "face_paint":
            return face_paint_effect(self._param("paint_texture") or None)
        if name == "object":
            mesh, texture = self._param("object_mesh"), self._param("object_texture")
            if not (mesh and texture):
                raise AssetError("effect 'object' needs the parameters object_mesh (OBJ) and object_texture (PNG)")
            return object_effect(mesh, texture)
        return glasses_effect()

    def _switch_effect(self, renderer: EffectRenderer) -> None:
        if not self._effect_changed:
            return
        self._effect_changed = False
        try:
            renderer.set_effect(self._load_effect())
            self.get_logger().info(f"effect: {renderer.effect.name}")
        except Exception as error:  # AssetError, or whatever else the loader or the upload raised
            self.get_logger().error(
                f"cannot load effect '{self._param('effect')}' ({type(error).__name__}: "
                f"{error}): keeping '{renderer.effect.name}'"
            )

    def _render(self, renderer: EffectRenderer, image: Image | CompressedImage, faces: FaceMeshArray) -> None:
        try:
            rgb = decode_image(image, self._param("max_image_pixels"))
        except ImageDecodeError as error:
            self.get_logger().error(f"cannot decode image: {error}", throttle_duration_sec=ERROR_THROTTLE_S)
            return
        height, width = rgb.shape[:2]
        geometries, reasons = geometries_from_message(faces)
        renderer.occlusion = self._param("occlusion")
        result = renderer.render(rgb, self._camera(width, height), geometries)
        for index, reason in ((i, reasons.get(i, r)) for i, r in result.skipped):
            if self._skip_log.due(reason.split(":")[0]):
                self.get_logger().warning(f"face {faces.faces[index].id} skipped: {reason}")
        self._image_pub.publish(image_from_pixels(image.header, result.image[:, :, ::-1], "bgr8"))

    def _camera(self, width: int, height: int) -> Camera:
        return self._input.camera(
            width, height, self._param("image_is_rectified"), self._param("default_vertical_fov_deg")
        )

    def stop(self) -> None:
        self._pairs.close()
        self._worker.join(timeout=5.0)


def geometries_from_message(faces: FaceMeshArray) -> tuple[list[FaceGeometry | None], dict[int, str]]:
    """Each face's geometry as the message describes it (None where it cannot be rebuilt), and why not."""
    geometries: list[FaceGeometry | None] = []
    reasons: dict[int, str] = {}
    for index, face in enumerate(faces.faces):
        try:
            geometries.append(face_geometry_from_message(face))
        except GeometryError as error:
            geometries.append(None)
            reasons[index] = str(error)
    return geometries, reasons


def main(args: list[str] | None = None) -> None:
    """Entry point of face_effect_node."""
    run_node(FaceEffectNode, "face_effect", args, fatal_errors=(EffectRendererUnavailable, AssetError, ValueError))


if __name__ == "__main__":
    main()
