"""The node's parameters: one table with defaults, descriptions, ranges and how a change is applied.

Kinds of change:
- "live": applied to the running pipeline at once (thresholds, toggles);
- "rebuild": the FaceMesh pipeline is rebuilt (models reloaded, tracking restarts);
- "startup": read once (topics): read_only, change them by restarting the node.

QoS is set the ROS way: every subscription and publisher of the package's nodes takes rclpy's standard
qos_overrides parameters (history, depth, reliability; read at start-up), e.g. in a params file
`qos_overrides./camera/image_raw.subscription.reliability: reliable` (the topic as resolved, after remapping).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions

from facemesh_ros.interaction.primary_face import POLICIES
from facemesh_ros.ros.camera_model import PLAUSIBLE_FOV_DEG
from facemesh_ros.ros.image_codec import DEFAULT_MAX_IMAGE_PIXELS
from facemesh_ros.ros.throttle import shorten
from facemesh_ros.types import DETECTOR_NAMES, DEVICES, LANDMARK_MODELS

MAX_FRAME_PREFIX = 128
# TF frame ids follow ROS names: parts of letters, digits and '_', joined by single '/'; a prefix may end in '/'
_FRAME_PREFIX = re.compile(r"([A-Za-z0-9_]+/)*[A-Za-z0-9_]*")


class ParamsFileError(ValueError):
    """A params file gives a declared parameter a value of the wrong type."""


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: name, default (its type is the parameter's), description, kind, choices or range."""

    name: str
    default: Any
    description: str
    kind: str  # "live" | "rebuild" | "startup"
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def descriptor(self) -> ParameterDescriptor:
        descriptor = ParameterDescriptor(name=self.name, description=self.description, read_only=self.kind == "startup")
        if self.choices:
            descriptor.additional_constraints = "one of: " + ", ".join(self.choices)
        if (self.low is None) != (self.high is None):
            raise TypeError(f"{self.name}: a range needs both low and high")
        if self.low is None or self.high is None:
            return descriptor
        if isinstance(self.default, bool):
            raise TypeError(f"{self.name}: a bool parameter has no range")
        if isinstance(self.default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=1)]
        else:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(self.low), to_value=float(self.high), step=0.0)
            ]
        return descriptor


# The camera input, shared by every node that reads the camera (face_mesh, face_effect).
CAMERA_INPUT_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "image_transport",
        "raw",
        "'raw': subscribe sensor_msgs/Image on 'image'; 'compressed': "
        "sensor_msgs/CompressedImage on 'image/compressed' (jpeg/png)",
        "startup",
        ("raw", "compressed"),
    ),
    ParameterSpec(
        "image_is_rectified",
        False,
        "True: images are rectified, the camera model is camera_info's "
        "P. False: raw images, camera_info's K and D (landmarks are undistorted).",
        "live",
    ),
    ParameterSpec(
        "max_image_pixels",
        DEFAULT_MAX_IMAGE_PIXELS,
        "Largest image (width x height) decoded: larger "
        "ones are refused from their declared size before any decoding (a compressed header can "
        "declare gigapixels in a few hundred bytes). Default: 8K UHD.",
        "live",
        low=1,
        high=1 << 30,
    ),
    ParameterSpec(
        "default_vertical_fov_deg",
        63.0,
        "Vertical field of view of the camera assumed while no valid "
        "camera_info arrives (63 = MediaPipe's default camera; within the plausible range a "
        "camera_info is checked against).",
        "live",
        low=PLAUSIBLE_FOV_DEG[0],
        high=PLAUSIBLE_FOV_DEG[1],
    ),
)

AUTOSTART = ParameterSpec(
    "autostart",
    True,
    "Configure and activate at start (ros2 run, launch files). false: a lifecycle manager drives the node "
    "(configure loads the models and checks every parameter, activate subscribes to the camera).",
    "startup",
)

PARAMETERS: tuple[ParameterSpec, ...] = (
    AUTOSTART,
    *CAMERA_INPUT_PARAMETERS,
    ParameterSpec(
        "qos_depth", 1, "Subscription queue depth. Only the newest frame is ever processed.", "startup", low=1, high=100
    ),
    # FaceMesh options (MediaPipe's names and meaning)
    ParameterSpec(
        "static_image_mode",
        False,
        "True: detect faces in every frame; False: track faces from the "
        "previous frame's landmarks and detect only while fewer than max_num_faces are tracked.",
        "rebuild",
    ),
    ParameterSpec("max_num_faces", 1, "Maximum number of faces to track.", "rebuild", low=1, high=20),
    ParameterSpec("refine_landmarks", False, "True: 478 landmarks (refined eyes and lips, irises).", "rebuild"),
    ParameterSpec(
        "model",
        "legacy",
        "Landmark model: 'legacy' (MediaPipe Face Mesh's) or 'v2' (MediaPipe Tasks FaceLandmarker's, "
        "256x256 input, always 478 landmarks).",
        "rebuild",
        LANDMARK_MODELS,
    ),
    ParameterSpec(
        "output_blendshapes",
        False,
        "True: 52 blendshape scores per face in FaceMesh.blendshapes (needs model 'v2'); ~/annotated shows "
        "the strongest as bars.",
        "rebuild",
    ),
    ParameterSpec("min_detection_confidence", 0.5, "Face detector score threshold.", "live", low=0.0, high=1.0),
    ParameterSpec(
        "min_tracking_confidence",
        0.5,
        "Face presence threshold of the landmark model; below it a "
        "tracked face is dropped and the detector runs again.",
        "live",
        low=0.0,
        high=1.0,
    ),
    ParameterSpec(
        "detector",
        "short",
        "'short': faces within ~2 m (MediaPipe's default); 'full': the full-range detector, faces up to ~5 m; "
        "'far': robot range, the full-range detector on the whole frame plus tiles (in video one pass every "
        "second frame), faces down to ~24 px wide.",
        "rebuild",
        DETECTOR_NAMES,
    ),
    ParameterSpec(
        "device",
        "auto",
        "Inference device: 'auto' (CUDA when onnxruntime has it, else CPU), 'cuda' or 'cpu'.",
        "rebuild",
        DEVICES,
    ),
    ParameterSpec(
        "num_threads",
        0,
        "onnxruntime intra-op threads of the landmark model; 0 = the library's default (1: with a second "
        "core the detector runs beside the landmark model instead)",
        "rebuild",
        low=0,
        high=64,
    ),
    ParameterSpec(
        "detection_interval",
        1,
        "While at least one face is tracked but fewer than max_num_faces, run the detector only every Nth "
        "frame (1 = every frame, MediaPipe's behaviour); a face entering the view is found up to N - 1 "
        "frames later",
        "rebuild",
        low=1,
        high=1000,
    ),
    # Outputs
    ParameterSpec(
        "frame_prefix",
        "",
        "Prefix of the per-face TF frames: <prefix>face_<id>, <prefix>gaze_<id>. "
        "Letters, digits, '_' and '/' between name parts (e.g. 'robot1/'), no leading '/', at most "
        f"{MAX_FRAME_PREFIX} characters.",
        "live",
    ),
    ParameterSpec("publish_tf", True, "Publish face_<id> and gaze_<id> on /tf (REP-155).", "live"),
    ParameterSpec("publish_markers", True, "Publish ~/markers (visualization_msgs/MarkerArray).", "live"),
    ParameterSpec("markers.mesh", True, "Markers: the metric face mesh (TRIANGLE_LIST).", "live"),
    ParameterSpec("markers.contours", True, "Markers: lips, eyes, eyebrows and face oval (LINE_LIST).", "live"),
    ParameterSpec("markers.points", False, "Markers: every landmark (SPHERE_LIST).", "live"),
    ParameterSpec("markers.axes", True, "Markers: the face frame's axes (LINE_LIST).", "live"),
    ParameterSpec("annotated.draw_tesselation", True, "~/annotated: draw the mesh tesselation.", "live"),
    ParameterSpec("annotated.draw_axes", True, "~/annotated: draw the head pose axes and ids.", "live"),
    ParameterSpec(
        "annotated.blendshape_bars",
        5,
        "~/annotated: the strongest blendshapes of each face drawn as bars (with output_blendshapes; 0 = none).",
        "live",
        low=0,
        high=51,
    ),
    ParameterSpec(
        "ros4hri",
        False,
        "ROS4HRI mode (REP-155): /humans/faces/tracked and per-face /humans/faces/<id>/"
        "{roi,cropped,aligned,landmarks}, and /facs with output_blendshapes; TF frames face_<id>/gaze_<id> with "
        "the string ids f<track id>.",
        "startup",
    ),
    # Look-at target
    ParameterSpec(
        "target.policy",
        "largest",
        "Primary face for ~/target and the face_target frame: 'largest' "
        "(landmarks' box), 'closest' (3D distance) or 'centered' (nearest the image centre).",
        "live",
        POLICIES,
    ),
    ParameterSpec(
        "target.switch_ratio",
        1.5,
        "Hysteresis: another face must score this many times higher than the primary face ...",
        "live",
        low=1.0,
        high=100.0,
    ),
    ParameterSpec(
        "target.switch_time",
        1.0,
        "... for this many seconds (image stamps) without a break to take over.",
        "live",
        low=0.0,
        high=60.0,
    ),
    ParameterSpec(
        "target.frame",
        "face_target",
        "TF frame of the primary face (<frame_prefix><target.frame>); empty: none.",
        "live",
    ),
    ParameterSpec("diagnostics_period", 1.0, "Seconds between /diagnostics messages.", "startup", low=0.1, high=60.0),
    # Smoothing
    ParameterSpec(
        "smoothing", False, "One-Euro smoothing of head pose and metric landmarks over image stamps.", "live"
    ),
    ParameterSpec(
        "smoothing_min_cutoff",
        1.0,
        "One-Euro minimum cutoff frequency (Hz): lower = steadier.",
        "live",
        low=0.01,
        high=100.0,
    ),
    ParameterSpec(
        "smoothing_beta",
        0.05,
        "One-Euro speed coefficient: higher = less lag in fast motion.",
        "live",
        low=0.0,
        high=100.0,
    ),
)
SPECS = {spec.name: spec for spec in PARAMETERS}


def check_frame_prefix(parameter: Parameter) -> str | None:
    """The reason `frame_prefix` cannot prefix TF frame ids, or None (an extra_check for declare_parameters)."""
    if parameter.name != "frame_prefix" or not isinstance(parameter.value, str):
        return None
    value = parameter.value
    if len(value) > MAX_FRAME_PREFIX or not _FRAME_PREFIX.fullmatch(value):
        return (
            f"frame_prefix must be letters, digits and '_' in parts joined by '/' (no leading '/', no spaces or "
            f"control characters, at most {MAX_FRAME_PREFIX} characters), got '{shorten(value, 60)}'"
        )
    return None


# Pass as qos_overriding_options= to every create_subscription / create_publisher: declares the entity's
# qos_overrides.<topic>.<publisher|subscription>.{history,depth,reliability} parameters.
QOS_OVERRIDES = QoSOverridingOptions.with_default_policies()


def camera_input_qos(depth: int) -> QoSProfile:
    """Default QoS of the image and camera_info subscriptions: best effort, which matches reliable publishers
    (REP-2003 drivers publish reliable, SystemDefaultsQoS) and best-effort ones alike. A new profile per call:
    rclpy writes each entity's qos_overrides into the profile it is given."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT)


def parameter_checker(
    specs: Iterable[ParameterSpec], extra_check: Callable[[Parameter], str | None] | None = None
) -> Callable[[list[Parameter]], SetParametersResult]:
    """An on-set-parameters callback rejecting wrong types and values outside the choices, with a reason.

    Ranges and read-only are enforced by rclpy from the descriptors; `extra_check` returns a reason or None.
    """
    by_name = {spec.name: spec for spec in specs}

    def check(parameters: list[Parameter]) -> SetParametersResult:
        for parameter in parameters:
            spec = by_name.get(parameter.name)
            if spec is None:
                continue
            if type(parameter.value) is not type(spec.default):
                return SetParametersResult(
                    successful=False,
                    reason=(f"{parameter.name} must be a {type(spec.default).__name__}, got {parameter.value!r}"),
                )
            if spec.choices and parameter.value not in spec.choices:
                return SetParametersResult(
                    successful=False,
                    reason=(f"{parameter.name} must be one of {', '.join(spec.choices)}; got '{parameter.value}'"),
                )
            reason = extra_check(parameter) if extra_check else None
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    return check


def declare_parameters(
    node: Node,
    specs: Iterable[ParameterSpec],
    extra_check: Callable[[Parameter], str | None] | None = None,
    check_declared: bool = True,
) -> Callable[[list[Parameter]], SetParametersResult]:
    """Declare `specs` on `node`, validated from the start: a bad value given at launch fails the declaration
    (rclpy's InvalidParameterValueException, with the reason) instead of reaching the pipeline. With
    check_declared=False the given values are declared as they are (ranges aside, which rclpy enforces) and
    only later changes are checked: a lifecycle node checks them when it is configured. Returns the checker,
    for callbacks that must validate before acting."""
    specs = tuple(specs)
    if check_declared:
        check_params_files(node.get_fully_qualified_name(), specs, sys.argv)
    check = parameter_checker(specs, extra_check)
    if check_declared:
        node.add_on_set_parameters_callback(check)
    for spec in specs:
        node.declare_parameter(spec.name, spec.default, spec.descriptor())
    if not check_declared:
        node.add_on_set_parameters_callback(check)
    return check


def check_params_files(node_name: str, specs: Iterable[ParameterSpec], argv: Sequence[str]) -> None:
    """Raise ParamsFileError for a wrongly typed value of one of `specs` in a `--params-file` of `argv`.

    rcl merges several params files and drops, without a word, a later file's value whose type differs
    from an earlier file's: so `max_num_faces: "two"` in an override file would leave the node running with
    the value of the first file. Reading the files here reports it like any other bad value at startup.
    """
    types = {spec.name: type(spec.default) for spec in specs}
    for path in _params_files(argv):
        try:
            content = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError):
            continue  # rcl reports unreadable files itself
        for pattern, section in (content or {}).items() if isinstance(content, dict) else ():
            values = section.get("ros__parameters") if isinstance(section, dict) else None
            if not isinstance(values, dict) or not _matches_node(str(pattern), node_name):
                continue
            for name, value in _flattened(values):
                if name in types and type(value) is not types[name]:
                    raise ParamsFileError(
                        f"{name} must be a {types[name].__name__}, got {shorten(repr(value), 60)} "
                        f"(params file {path}, section '{pattern}')"
                    )


def _params_files(argv: Sequence[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--params-file"]


def _matches_node(pattern: str, node_name: str) -> bool:
    """rcl's node name matching in params files: '/**' any node, '*' one name part, no leading '/' needed."""
    regex = re.escape("/" + pattern.lstrip("/")).replace(r"/\*\*", "(/[^/]+)*").replace(r"\*", "[^/]+")
    return re.fullmatch(regex, node_name) is not None


def _flattened(values: dict, prefix: str = "") -> Iterable[tuple[str, Any]]:
    """('markers.mesh', True) for the nested YAML form markers: {mesh: true}."""
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flattened(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
