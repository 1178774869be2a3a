"""Face geometry pipeline: synthetic ground truth through real cameras, MediaPipe parity, frame conventions,
degenerate input.

Synthetic landmarks: the canonical face at a known pose (MediaPipe metric space, cm) is projected through a
camera with OpenCV (cv2.projectPoints / cv2.fisheye.projectPoints, distortion included) into MediaPipe-style
normalized landmarks: x = (u + 1/2) / W, y = (v + 1/2) / H (pixel centres at integers in OpenCV, image edges
at 0 and 1 in MediaPipe), and z = (Z - mean Z) fx / (mean Z W) + any constant: the landmark model's z is a
depth offset in horizontal pixels of the crop (z' = z roi.w, in image-width units), i.e. depth offset times
the weak-perspective scale fx / distance, over W. On such data the pipeline is exact.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import transforms3d
from scipy.spatial.transform import Rotation

from facemesh_ros.geometry import (
    SELLION_INDEX,
    Camera,
    FaceGeometry,
    FailureReason,
    GeometryError,
    default_canonical_face_model,
    estimate_face_geometry,
)
from facemesh_ros.geometry.reference import mediapipe_reference
from facemesh_ros.model_paths import models_dir

MODEL = default_canonical_face_model()
OPTICAL = np.array([1.0, -1.0, -1.0])
DISTORTION = (-0.28, 0.09, 0.0012, -0.0007, -0.012)
FISHEYE = (0.05, -0.01, 0.002, -0.0005)
RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173]
LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398]


def iris_points() -> np.ndarray:
    """(10, 3) canonical-space stand-ins for the 10 iris landmarks: centre + 4 edge points per eye."""
    offsets = np.array([[0, 0, 0.3], [0.6, 0, 0.2], [0, 0.6, 0.2], [-0.6, 0, 0.2], [0, -0.6, 0.2]])
    return np.concatenate([MODEL.vertices[eye].mean(axis=0) + offsets for eye in (RIGHT_EYE, LEFT_EYE)])


def face_points(rotation: np.ndarray, translation: np.ndarray, irises: bool = False) -> np.ndarray:
    """The canonical face (plus irises) posed in MediaPipe metric space (cm)."""
    points = np.concatenate([MODEL.vertices, iris_points()]) if irises else MODEL.vertices
    return points @ rotation.T + translation


def project(points_mp: np.ndarray, camera: Camera, z_constant: float = 0.0) -> np.ndarray:
    """MediaPipe metric points (cm) -> MediaPipe-style normalized landmarks seen by `camera` (OpenCV)."""
    optical = points_mp * OPTICAL / 100.0
    zero = np.zeros(3)
    coeffs = np.asarray(camera.distortion, dtype=np.float64)
    if camera.distortion_model == "equidistant":
        pixels, _ = cv2.fisheye.projectPoints(optical.reshape(-1, 1, 3), zero, zero, camera.matrix, coeffs)
    else:
        pixels, _ = cv2.projectPoints(optical, zero, zero, camera.matrix, coeffs if coeffs.size else None)
    pixels = pixels.reshape(-1, 2)
    depth = optical[:, 2]
    mean_depth = depth[:468].mean()
    z = (depth - mean_depth) * camera.fx / (mean_depth * camera.width) + z_constant
    return np.column_stack(((pixels[:, 0] + 0.5) / camera.width, (pixels[:, 1] + 0.5) / camera.height, z))


def pose_at(yaw: float, pitch: float, roll: float, distance_m: float, direction_deg=(0.0, 0.0)):
    """Rotation (canonical -> MediaPipe camera) and translation (cm) of a face `distance_m` away, its origin
    seen `direction_deg` (right, up) off the optical axis; yaw/pitch/roll about the face's up/left/forward."""
    rotation = Rotation.from_euler("YXZ", [yaw, pitch, roll], degrees=True).as_matrix()
    right, up = np.radians(direction_deg)
    direction = np.array([math.tan(right), math.tan(up), -1.0])
    translation = direction / np.linalg.norm(direction) * distance_m * 100.0
    return rotation, translation


def rotation_error_deg(estimated: np.ndarray, expected: np.ndarray) -> float:
    return float(np.degrees(Rotation.from_matrix(estimated @ expected.T).magnitude()))


def assert_recovers(geometry: FaceGeometry | None, rotation: np.ndarray, translation: np.ndarray) -> None:
    assert geometry is not None
    distance = np.linalg.norm(translation)
    assert np.linalg.norm(geometry.pose.translation - translation) <= 1e-3 * distance
    assert rotation_error_deg(geometry.pose.rotation, rotation) <= 0.1
    assert geometry.pose.scale == pytest.approx(1.0, abs=1e-4)


ROBOT_CAMERA = Camera.from_intrinsics(905.3, 948.7, 700.2, 331.9, 1280, 720)  # off-centre, non-square
RAW_CAMERA = Camera.from_intrinsics(905.3, 948.7, 700.2, 331.9, 1280, 720, distortion=DISTORTION)
FISHEYE_CAMERA = Camera.from_intrinsics(
    620.0, 615.0, 655.0, 372.0, 1280, 720, distortion=FISHEYE, distortion_model="equidistant"
)
MEDIAPIPE_CAMERA = Camera.from_fov(63.0, 640, 480)
CAMERAS = {"robot": ROBOT_CAMERA, "raw": RAW_CAMERA, "fisheye": FISHEYE_CAMERA, "mediapipe": MEDIAPIPE_CAMERA}
EXTREME_POSES = [
    (0, 0, 0, 1.0, (0, 0)),
    (60, 0, 0, 0.3, (5, -3)),
    (-60, 0, 0, 3.0, (-10, 6)),
    (0, 60, 0, 0.5, (0, 8)),
    (0, -60, 0, 2.0, (12, 0)),
    (0, 0, 60, 0.3, (-4, -4)),
    (0, 0, -60, 3.0, (8, 5)),
    (60, 60, 60, 0.3, (3, 3)),
    (-60, -60, -60, 3.0, (-12, -7)),
    (45, -30, 20, 1.2, (15, 8)),
]


@pytest.mark.parametrize("camera_name", sorted(CAMERAS))
@pytest.mark.parametrize(("yaw", "pitch", "roll", "distance", "direction"), EXTREME_POSES)
def test_recovers_known_pose(camera_name, yaw, pitch, roll, distance, direction):
    camera = CAMERAS[camera_name]
    rotation, translation = pose_at(yaw, pitch, roll, distance, direction)
    landmarks = project(face_points(rotation, translation), camera, z_constant=0.013)
    geometry = estimate_face_geometry(landmarks, camera, raise_on_failure=True)
    assert_recovers(geometry, rotation, translation)
    error = np.abs(geometry.metric_landmarks - face_points(rotation, translation)).max()
    assert error < 1e-3 * distance * 100


def test_recovers_random_poses_through_distorted_camera():
    rng = np.random.default_rng(5)
    for _ in range(100):
        yaw, pitch, roll = rng.uniform(-60, 60, 3)
        distance = rng.uniform(0.3, 3.0)
        rotation, translation = pose_at(yaw, pitch, roll, distance, rng.uniform(-15, 15, 2))
        geometry = estimate_face_geometry(project(face_points(rotation, translation), RAW_CAMERA), RAW_CAMERA)
        assert_recovers(geometry, rotation, translation)


def test_ros_outputs_are_the_sellion_pose_in_metres():
    rotation, translation = pose_at(25, -10, 5, 0.8, (6, -2))
    geometry = estimate_face_geometry(project(face_points(rotation, translation), ROBOT_CAMERA), ROBOT_CAMERA)
    sellion_optical = face_points(rotation, translation)[SELLION_INDEX] * OPTICAL / 100.0
    np.testing.assert_allclose(geometry.position, sellion_optical, atol=1e-9)
    np.testing.assert_allclose(geometry.face_to_optical[:3, 3], sellion_optical, atol=1e-9)
    assert geometry.distance == pytest.approx(np.linalg.norm(sellion_optical))
    np.testing.assert_allclose(geometry.metric_landmarks_optical, geometry.metric_landmarks * OPTICAL / 100.0)
    assert geometry.metric_landmarks_optical[:, 2].min() > 0  # in front of the camera


def test_478_landmarks_keep_the_irises():
    rotation, translation = pose_at(-20, 15, -10, 0.6, (-5, 4))
    points = face_points(rotation, translation, irises=True)
    geometry = estimate_face_geometry(project(points, RAW_CAMERA), RAW_CAMERA)
    assert_recovers(geometry, rotation, translation)
    assert geometry.metric_landmarks.shape == (478, 3)
    assert geometry.mesh_vertices.shape == (468, 3)
    np.testing.assert_allclose(geometry.metric_landmarks[468:], points[468:], atol=1e-6)
    # The fit uses the 468 mesh points only: the irises do not change the pose.
    mesh_only = estimate_face_geometry(project(points[:468], RAW_CAMERA), RAW_CAMERA)
    np.testing.assert_allclose(geometry.pose_matrix, mesh_only.pose_matrix, atol=1e-9)


def test_runtime_mesh_is_the_face_shape_in_canonical_space():
    rotation, translation = pose_at(30, 10, 0, 0.7)
    deformed = MODEL.vertices.copy()
    jaw = [17, 84, 181, 91, 146, 61, 314, 405, 321, 375, 291, 152, 148, 176, 149, 150, 377, 400, 378, 379]
    deformed[jaw, 1] -= 1.5  # open the mouth: none of these points is a Procrustes basis point
    assert not np.any(MODEL.procrustes_weights[jaw])
    landmarks = project(deformed @ rotation.T + translation, ROBOT_CAMERA)
    geometry = estimate_face_geometry(landmarks, ROBOT_CAMERA)
    assert_recovers(geometry, rotation, translation)
    np.testing.assert_allclose(geometry.mesh_vertices, deformed, atol=1e-6)
    assert geometry.mesh_uvs.shape == (468, 2)
    assert geometry.mesh_triangles.shape == (898, 3)


def test_z_offset_does_not_matter():
    rotation, translation = pose_at(10, 20, 30, 1.5, (3, 3))
    points = face_points(rotation, translation)
    a = estimate_face_geometry(project(points, ROBOT_CAMERA, z_constant=0.0), ROBOT_CAMERA)
    b = estimate_face_geometry(project(points, ROBOT_CAMERA, z_constant=-0.2), ROBOT_CAMERA)
    np.testing.assert_allclose(a.pose_matrix, b.pose_matrix, atol=1e-9)


# --- parity with MediaPipe's formulas (63 deg camera) -------------------------------------------------------


def test_default_camera_reproduces_mediapipe_frustum_by_hand():
    # 640x480, 63 deg: h_n = 2 tan(31.5 deg) = 1.2256016, w_n = 4/3 h_n = 1.6341354 (computed by hand).
    landmarks = np.array([[0.75, 0.25, 0.1], [0.5, 0.5, 0.0], [0.0, 1.0, -0.2]])
    near_plane = MEDIAPIPE_CAMERA.to_near_plane(landmarks)
    expected = [
        [0.25 * 1.6341354, 0.25 * 1.2256016, 0.1 * 1.6341354],
        [0, 0, 0],
        [-0.5 * 1.6341354, -0.5 * 1.2256016, -0.2 * 1.6341354],
    ]
    np.testing.assert_allclose(near_plane, expected, atol=2e-6)
    assert MEDIAPIPE_CAMERA.fx == MEDIAPIPE_CAMERA.fy == pytest.approx(480 / 1.2256016, rel=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_default_camera_equals_mediapipe_formulas(seed):
    rng = np.random.default_rng(seed)
    rotation, translation = pose_at(*rng.uniform(-40, 40, 3), rng.uniform(0.3, 1.5), rng.uniform(-10, 10, 2))
    landmarks = project(face_points(rotation, translation), MEDIAPIPE_CAMERA)
    landmarks += rng.normal(0, 0.002, landmarks.shape)  # like real output: not a perfect perspective face
    geometry = estimate_face_geometry(landmarks, MEDIAPIPE_CAMERA)
    pose, metric = mediapipe_reference(landmarks, 640, 480)
    np.testing.assert_allclose(geometry.pose_matrix, pose, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(geometry.metric_landmarks, metric, rtol=1e-9, atol=1e-9)
    mesh = (np.linalg.inv(pose) @ np.vstack([metric.T, np.ones(468)]))[:3].T
    np.testing.assert_allclose(geometry.mesh_vertices, mesh, atol=1e-9)


def mediapipe_parity_cases() -> list[np.ndarray]:
    """Six landmark sets for the 640x480 63 deg camera: three exact perspective faces, three with noise."""
    rng = np.random.default_rng(11)
    cases = []
    for i in range(6):
        rotation, translation = pose_at(*rng.uniform(-45, 45, 3), rng.uniform(0.3, 2.0), rng.uniform(-10, 10, 2))
        landmarks = project(face_points(rotation, translation), MEDIAPIPE_CAMERA)
        cases.append(landmarks + rng.normal(0, 0.002, landmarks.shape) if i >= 3 else landmarks)
    return cases


# Poses (first 3 rows) that MediaPipe's own C++ FaceGeometryPipelineCalculator (mediapipe==0.10.21, run once
# in .venv-ref with MEDIAPIPE_GRAPH_SCRIPT below) returned for parity cases 0 (exact) and 3 (noisy).
MEDIAPIPE_CPP_POSES = {
    0: [
        [0.824088, -0.131879, -0.550897, -4.228544],
        [0.158759, 0.987317, 0.001134, 5.155509],
        [0.543761, -0.088394, 0.834572, -34.233795],
    ],
    3: [
        [0.670347, -0.575239, 0.468759, 1.216312],
        [0.681977, 0.726577, -0.083636, -0.329994],
        [-0.292479, 0.375748, 0.879358, -64.106598],
    ],
}


@pytest.mark.parametrize("case", sorted(MEDIAPIPE_CPP_POSES))
def test_default_camera_equals_mediapipe_cpp_pinned(case):
    geometry = estimate_face_geometry(mediapipe_parity_cases()[case], MEDIAPIPE_CAMERA)
    expected = np.array(MEDIAPIPE_CPP_POSES[case])
    np.testing.assert_allclose(geometry.pose_matrix[:3, :3], expected[:, :3], atol=2e-5)  # float32
    np.testing.assert_allclose(geometry.pose_matrix[:3, 3], expected[:, 3], atol=2e-3)  # cm


# Reference only: builds the geometry metadata from the canonical model and runs MediaPipe's C++ calculators.
MEDIAPIPE_GRAPH_SCRIPT = r'''
import sys
import numpy as np
from google.protobuf import text_format
from mediapipe.framework import calculator_pb2
from mediapipe.framework.formats import landmark_pb2
from mediapipe.python import packet_creator, packet_getter
from mediapipe.python._framework_bindings import calculator_graph, image_frame
from mediapipe.tasks.cc.vision.face_geometry.calculators import env_generator_calculator_pb2  # noqa: F401
from mediapipe.tasks.cc.vision.face_geometry.calculators import geometry_pipeline_calculator_pb2  # noqa: F401
from mediapipe.tasks.cc.vision.face_geometry.proto import face_geometry_pb2  # noqa: F401
from mediapipe.modules.face_geometry.protos import geometry_pipeline_metadata_pb2 as gm, mesh_3d_pb2

model_path, metadata_path, landmarks_path, out_path = sys.argv[1:]
model = np.load(model_path)
metadata = gm.GeometryPipelineMetadata(input_source=gm.FACE_LANDMARK_PIPELINE)
mesh = metadata.canonical_mesh
mesh.vertex_type, mesh.primitive_type = mesh_3d_pb2.Mesh3d.VERTEX_PT, mesh_3d_pb2.Mesh3d.TRIANGLE
mesh.vertex_buffer.extend(np.concatenate([model["vertices"], model["uvs"]], 1).ravel().tolist())
mesh.index_buffer.extend(model["triangles"].ravel().tolist())
for i in np.flatnonzero(model["procrustes_weights"]):
    metadata.procrustes_landmark_basis.add(landmark_id=int(i), weight=float(model["procrustes_weights"][i]))
open(metadata_path, "wb").write(metadata.SerializeToString())
ns = "mediapipe.tasks.vision.face_geometry."
graph_text = f"""
input_stream: "image" input_stream: "landmarks" output_stream: "geometry"
node {{ calculator: "{ns}FaceGeometryEnvGeneratorCalculator" output_side_packet: "ENVIRONMENT:env"
  node_options {{ [type.googleapis.com/{ns}FaceGeometryEnvGeneratorCalculatorOptions] {{ environment {{
    origin_point_location: TOP_LEFT_CORNER
    perspective_camera {{ vertical_fov_degrees: 63.0 near: 1.0 far: 10000.0 }} }} }} }} }}
node {{ calculator: "ImagePropertiesCalculator" input_stream: "IMAGE:image" output_stream: "SIZE:size" }}
node {{ calculator: "{ns}FaceGeometryPipelineCalculator" input_side_packet: "ENVIRONMENT:env"
  input_stream: "IMAGE_SIZE:size" input_stream: "FACE_LANDMARKS:landmarks" output_stream: "FACE_GEOMETRY:geometry"
  node_options {{ [type.googleapis.com/{ns}FaceGeometryPipelineCalculatorOptions] {{
    metadata_file {{ file_name: "{metadata_path}" }} }} }} }}
"""
data = np.load(landmarks_path)
config = text_format.Parse(graph_text, calculator_pb2.CalculatorGraphConfig())
graph = calculator_graph.CalculatorGraph(graph_config=config)
poses = []
graph.observe_output_stream("geometry", lambda stream, packet: poses.append(
    np.array(packet_getter.get_proto(packet).pose_transform_matrix.packed_data).reshape(4, 4).T))
graph.start_run()
image = image_frame.ImageFrame(image_format=image_frame.ImageFormat.SRGB,
                               data=np.zeros((int(data["height"]), int(data["width"]), 3), np.uint8))
for t, points in enumerate(data["landmarks"]):
    landmarks = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in points:
        landmarks.landmark.add(x=x, y=y, z=z)
    graph.add_packet_to_input_stream("image", packet_creator.create_image_frame(image).at(t))
    graph.add_packet_to_input_stream("landmarks", packet_creator.create_proto(landmarks).at(t))
graph.close()
np.save(out_path, np.array(poses))
'''


def test_default_camera_equals_mediapipe_cpp_live(tmp_path):
    """Runs MediaPipe's C++ geometry calculators in the reference env (.venv-ref) when it is installed."""
    reference_python = Path(__file__).resolve().parents[1] / ".venv-ref" / "bin" / "python"
    if not reference_python.exists():
        pytest.skip("reference env .venv-ref (mediapipe==0.10.21) not installed")
    cases = mediapipe_parity_cases()
    np.savez(tmp_path / "landmarks.npz", landmarks=np.array(cases), width=640, height=480)
    script = tmp_path / "mediapipe_geometry.py"
    script.write_text(MEDIAPIPE_GRAPH_SCRIPT)
    model_path = models_dir() / "canonical_face_model.npz"
    subprocess.run(
        [
            str(reference_python),
            str(script),
            str(model_path),
            str(tmp_path / "metadata.binarypb"),
            str(tmp_path / "landmarks.npz"),
            str(tmp_path / "poses.npy"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    poses = np.load(tmp_path / "poses.npy")
    assert poses.shape == (6, 4, 4)
    for landmarks, pose in zip(cases, poses, strict=True):
        ours = estimate_face_geometry(landmarks, MEDIAPIPE_CAMERA).pose_matrix
        np.testing.assert_allclose(ours[:3, :3], pose[:3, :3], atol=2e-5)  # MediaPipe: float32
        np.testing.assert_allclose(ours[:3, 3], pose[:3, 3], atol=2e-3)  # cm


def test_frontal_face_at_image_centre_is_identity_pose():
    translation = np.array([0.0, 0.0, -60.0])
    geometry = estimate_face_geometry(project(face_points(np.eye(3), translation), MEDIAPIPE_CAMERA), MEDIAPIPE_CAMERA)
    expected = np.eye(4)
    expected[:3, 3] = translation
    np.testing.assert_allclose(geometry.pose_matrix, expected, atol=1e-9)


# --- frame conventions --------------------------------------------------------------------------------------


def geometry_at(yaw: float, pitch: float, roll: float = 0.0, direction=(0.0, 0.0)) -> FaceGeometry:
    rotation, translation = pose_at(yaw, pitch, roll, 1.0, direction)
    return estimate_face_geometry(project(face_points(rotation, translation), ROBOT_CAMERA), ROBOT_CAMERA)


def test_face_looking_at_camera_has_x_towards_camera_and_z_up():
    axes = geometry_at(0, 0).face_to_optical[:3, :3]
    np.testing.assert_allclose(axes[:, 0], [0, 0, -1], atol=1e-9)  # x out of the face = -optical z
    np.testing.assert_allclose(axes[:, 2], [0, -1, 0], atol=1e-9)  # z to the scalp = -optical y (up)
    np.testing.assert_allclose(axes[:, 1], [1, 0, 0], atol=1e-9)  # y to the subject's left = image right


def test_head_turns_and_nods_move_the_face_x_axis_the_right_way():
    # The subject turns to their left (image right, +optical x) by 30 deg.
    np.testing.assert_allclose(geometry_at(30, 0).face_to_optical[:3, 0], [0.5, 0, -math.sqrt(3) / 2], atol=1e-9)
    # The subject lifts the chin by 30 deg: the face looks up (-optical y).
    np.testing.assert_allclose(geometry_at(0, -30).face_to_optical[:3, 0], [0, -0.5, -math.sqrt(3) / 2], atol=1e-9)


def test_quaternions_are_xyzw_of_the_frame_rotations():
    geometry = geometry_at(35, -20, 15, (4, -6))
    for quaternion, transform in (
        (geometry.orientation, geometry.face_to_optical),
        (geometry.gaze_orientation, geometry.gaze_to_optical),
    ):
        assert np.linalg.norm(quaternion) == pytest.approx(1.0)
        x, y, z, w = quaternion
        matrix = transforms3d.quaternions.quat2mat([w, x, y, z])
        np.testing.assert_allclose(matrix, transform[:3, :3], atol=1e-9)


def test_gaze_frame_is_optical_convention_along_the_face_forward_axis():
    geometry = geometry_at(-25, 10, 40)
    face, gaze = geometry.face_to_optical, geometry.gaze_to_optical
    np.testing.assert_allclose(gaze[:3, 2], face[:3, 0], atol=1e-12)  # z forward
    np.testing.assert_allclose(gaze[:3, 1], -face[:3, 2], atol=1e-12)  # y down
    np.testing.assert_allclose(gaze[:3, 0], -face[:3, 1], atol=1e-12)  # x to the subject's right
    np.testing.assert_allclose(geometry.gaze_position, geometry.position)
    assert np.linalg.det(gaze[:3, :3]) == pytest.approx(1.0)


# --- degenerate input ---------------------------------------------------------------------------------------


def frontal_landmarks() -> np.ndarray:
    return project(face_points(np.eye(3), np.array([0.0, 0.0, -60.0])), ROBOT_CAMERA)


def failure_reason(landmarks, camera=ROBOT_CAMERA) -> FailureReason:
    assert estimate_face_geometry(landmarks, camera) is None
    with pytest.raises(GeometryError) as error:
        estimate_face_geometry(landmarks, camera, raise_on_failure=True)
    assert str(error.value).startswith(error.value.reason.value)
    return error.value.reason


def test_identical_landmarks_are_too_compact():
    assert failure_reason(np.full((468, 3), 0.5)) is FailureReason.TOO_COMPACT


def test_collinear_landmarks_are_degenerate():
    t = np.linspace(0.2, 0.8, 468)
    assert failure_reason(np.column_stack((t, 0.3 + 0.5 * t, np.zeros(468)))) is FailureReason.DEGENERATE
    assert failure_reason(np.column_stack((t, 1 - t, 0.1 * t))) is FailureReason.DEGENERATE


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_landmarks(bad):
    landmarks = frontal_landmarks()
    landmarks[100, 2] = bad
    assert failure_reason(landmarks) is FailureReason.NON_FINITE


@pytest.mark.parametrize("shape", [(68, 3), (468, 2), (468,), (477, 3), (1, 468, 3)])
def test_wrong_shapes(shape):
    assert failure_reason(np.full(shape, 0.5)) is FailureReason.BAD_SHAPE


def test_non_numeric_landmarks():
    assert failure_reason([["a", "b", "c"]] * 468) is FailureReason.BAD_SHAPE


def test_absurd_depths_put_points_behind_the_camera():
    landmarks = frontal_landmarks()
    landmarks[:, 2] *= 200.0
    assert failure_reason(landmarks) is FailureReason.BEHIND_CAMERA


def test_not_a_camera():
    assert failure_reason(frontal_landmarks(), camera=object()) is FailureReason.INVALID_CAMERA


def test_random_input_never_gives_nan():
    rng = np.random.default_rng(0)
    failures = 0
    for trial in range(300):
        landmarks = rng.uniform(0, 1, (478 if trial % 2 else 468, 3)) * rng.uniform(1e-4, 1.0)
        landmarks[:, 2] = (landmarks[:, 2] - 0.5 * landmarks[:, 2].mean()) * (3.0 if trial % 3 else 0.1)
        geometry = estimate_face_geometry(landmarks, RAW_CAMERA)
        failures += geometry is None
        if geometry is not None:
            for array in (
                geometry.pose_matrix,
                geometry.orientation,
                geometry.gaze_orientation,
                geometry.position,
                geometry.metric_landmarks,
                geometry.mesh_vertices,
            ):
                assert np.all(np.isfinite(array))
            assert np.linalg.norm(geometry.orientation) == pytest.approx(1.0)
    assert 0 < failures < 300  # both outcomes exercised


def test_invalid_camera_info_gives_no_camera_and_a_clear_reason():
    with pytest.raises(GeometryError, match="uncalibrated") as error:
        Camera.from_intrinsics(0, 0, 0, 0, 640, 480)
    assert error.value.reason is FailureReason.INVALID_CAMERA
