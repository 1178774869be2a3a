"""Camera: intrinsics, MediaPipe's default camera, camera_info (duck-typed), undistortion, invalid input."""

from __future__ import annotations

import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from facemesh_ros.geometry import Camera, FailureReason, GeometryError

K = [905.3, 0.0, 700.2, 0.0, 948.7, 331.9, 0.0, 0.0, 1.0]
P = [880.0, 0.0, 690.5, 0.0, 0.0, 921.0, 340.25, 0.0, 0.0, 0.0, 1.0, 0.0]
D = [-0.28, 0.09, 0.0012, -0.0007, -0.012]


def camera_info(**overrides) -> SimpleNamespace:
    fields = {
        "width": 1280,
        "height": 720,
        "k": list(K),
        "p": list(P),
        "d": list(D),
        "distortion_model": "plumb_bob",
        "binning_x": 0,
        "binning_y": 0,
        "roi": SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0),
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def invalid(callable_, *args, **kwargs) -> str:
    with pytest.raises(GeometryError) as error:
        callable_(*args, **kwargs)
    assert error.value.reason is FailureReason.INVALID_CAMERA
    return str(error.value)


def test_from_fov_is_mediapipe_camera():
    camera = Camera.from_fov(63.0, 640, 480)
    focal = 480 / (2 * math.tan(math.radians(31.5)))
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == pytest.approx((focal, focal, 319.5, 239.5))
    assert not camera.has_distortion


def test_from_intrinsics_keeps_values():
    camera = Camera.from_intrinsics(np.float32(500.5), 510, 320, 241.5, np.int64(640), 480.0, distortion=D)
    assert (camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height) == (
        500.5,
        510.0,
        320.0,
        241.5,
        640,
        480,
    )
    assert camera.distortion == pytest.approx(tuple(D))
    assert camera.has_distortion
    np.testing.assert_array_equal(camera.matrix, [[500.5, 0, 320], [0, 510, 241.5], [0, 0, 1]])


def test_zero_distortion_is_no_distortion():
    assert not Camera.from_intrinsics(500, 500, 320, 240, 640, 480, distortion=[0, 0, 0, 0, 0]).has_distortion


@pytest.mark.parametrize("as_type", [list, np.array])
def test_camera_info_raw_uses_k_and_d(as_type):
    camera = Camera.from_camera_info(camera_info(k=as_type(K), d=as_type(D)), rectified=False)
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (905.3, 948.7, 700.2, 331.9)
    assert camera.distortion == pytest.approx(tuple(D))
    assert (camera.width, camera.height) == (1280, 720)


def test_camera_info_rectified_uses_p_and_no_distortion():
    camera = Camera.from_camera_info(camera_info(), rectified=True)
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (880.0, 921.0, 690.5, 340.25)
    assert not camera.has_distortion


def test_camera_info_needs_an_explicit_rectified_choice():
    with pytest.raises(TypeError):
        Camera.from_camera_info(camera_info())  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="image_rect"):
        Camera.from_camera_info(camera_info(), rectified="yes")  # type: ignore[arg-type]


def test_ros1_style_uppercase_fields():
    msg = SimpleNamespace(width=640, height=480, K=K, D=None, P=P, distortion_model="")
    camera = Camera.from_camera_info(msg, rectified=False)
    assert camera.fx == 905.3
    assert not camera.has_distortion


def test_real_sensor_msgs_camera_info():
    camera_info_type = pytest.importorskip("sensor_msgs.msg").CameraInfo
    msg = camera_info_type(width=1280, height=720, k=K, p=P, d=D, distortion_model="rational_polynomial")
    msg.d = [*D, 0.01, -0.002, 0.0003]
    raw = Camera.from_camera_info(msg, rectified=False)
    assert raw.distortion_model == "rational_polynomial"
    assert len(raw.distortion) == 8
    assert Camera.from_camera_info(msg, rectified=True).fx == 880.0
    assert "uncalibrated" in invalid(Camera.from_camera_info, camera_info_type(), rectified=False)


@pytest.mark.parametrize("model", ["plumb_bob", "equidistant"])
def test_undistortion_inverts_opencv_projection(model):
    coeffs = D if model == "plumb_bob" else [0.05, -0.01, 0.002, -0.0005]
    camera = Camera.from_intrinsics(905.3, 948.7, 700.2, 331.9, 1280, 720, coeffs, distortion_model=model)
    rng = np.random.default_rng(1)
    rays = np.column_stack((rng.uniform(-0.6, 0.6, (50, 2)), np.ones(50)))
    zero = np.zeros(3)
    if model == "equidistant":
        pixels, _ = cv2.fisheye.projectPoints(rays.reshape(-1, 1, 3), zero, zero, camera.matrix, np.array(coeffs))
    else:
        pixels, _ = cv2.projectPoints(rays, zero, zero, camera.matrix, np.array(coeffs))
    pixels = pixels.reshape(-1, 2)
    landmarks = np.column_stack(((pixels + 0.5) / (1280, 720), np.full(50, 0.01)))
    near = camera.to_near_plane(landmarks)
    np.testing.assert_allclose(near[:, 0], rays[:, 0], atol=1e-9)
    np.testing.assert_allclose(near[:, 1], -rays[:, 1], atol=1e-9)  # MediaPipe's y is up
    np.testing.assert_allclose(near[:, 2], 0.01 * 1280 / 905.3)


@pytest.mark.parametrize("model", ["none", "plumb_bob", "equidistant"])
def test_optical_to_pixels_is_the_inverse_of_to_near_plane(model):
    coeffs = {"none": None, "plumb_bob": D, "equidistant": [0.05, -0.01, 0.002, -0.0005]}[model]
    camera = Camera.from_intrinsics(
        905.3,
        948.7,
        700.2,
        331.9,
        1280,
        720,
        coeffs,
        distortion_model="equidistant" if model == "equidistant" else "plumb_bob",
    )
    rng = np.random.default_rng(2)
    pixels = rng.uniform((100, 60), (1180, 660), (40, 2))
    landmarks = np.column_stack(((pixels + 0.5) / (1280, 720), np.zeros(40)))
    near = camera.to_near_plane(landmarks)
    depth = rng.uniform(0.3, 4.0, (40, 1))  # any point on the pixel's ray, in the optical frame (y down)
    optical = np.column_stack((near[:, 0], -near[:, 1], np.ones(40))) * depth
    np.testing.assert_allclose(camera.optical_to_pixels(optical), pixels, atol=1e-6)
    if model != "none":  # the lens moves the points: the undistorted projection would be off
        ideal = optical[:, :2] / optical[:, 2:] * (camera.fx, camera.fy) + (camera.cx, camera.cy)
        assert np.abs(ideal - pixels).max() > 1.0


def test_near_plane_for_non_square_off_centre_camera():
    camera = Camera.from_intrinsics(800, 1000, 300, 200, 640, 480)
    u, v = 500.0, 100.0
    near = camera.to_near_plane(np.array([[(u + 0.5) / 640, (v + 0.5) / 480, 0.05]]))
    np.testing.assert_allclose(near, [[(u - 300) / 800, -(v - 200) / 1000, 0.05 * 640 / 800]])


@pytest.mark.parametrize(("fx", "fy"), [(0, 500), (500, 0), (-1, 500), (np.nan, 500), (500, np.inf)])
def test_bad_focal_lengths(fx, fy):
    invalid(Camera.from_intrinsics, fx, fy, 320, 240, 640, 480)


@pytest.mark.parametrize(("cx", "cy"), [(np.nan, 240), (320, -np.inf)])
def test_bad_principal_point(cx, cy):
    assert "finite" in invalid(Camera.from_intrinsics, 500, 500, cx, cy, 640, 480)


@pytest.mark.parametrize(("width", "height"), [(0, 480), (640, -1), (640.5, 480), (None, 480), (True, 480)])
def test_bad_image_size(width, height):
    invalid(Camera.from_intrinsics, 500, 500, 320, 240, width, height)


@pytest.mark.parametrize("fov", [0, 180, -10, np.nan, "wide"])
def test_bad_fov(fov):
    invalid(Camera.from_fov, fov, 640, 480)


def test_bad_distortion():
    three = [0.1, 0.2, 0.3]
    assert "4, 5, 8, 12 or 14" in invalid(Camera.from_intrinsics, 500, 500, 320, 240, 640, 480, three)
    assert "finite" in invalid(Camera.from_intrinsics, 500, 500, 320, 240, 640, 480, [np.nan, 0, 0, 0, 0])
    assert "4 coefficients" in invalid(
        Camera.from_intrinsics, 500, 500, 320, 240, 640, 480, D, distortion_model="equidistant"
    )
    assert "unsupported" in invalid(
        Camera.from_intrinsics, 500, 500, 320, 240, 640, 480, D, distortion_model="kannala_brandt_42"
    )


@pytest.mark.parametrize(
    ("overrides", "rectified", "message"),
    [
        ({"k": [0.0] * 9}, False, "uncalibrated"),
        ({"p": [0.0] * 12}, True, "uncalibrated"),
        ({"k": [np.nan, *K[1:]]}, False, "finite"),
        ({"p": [*P[:5], np.nan, *P[6:]]}, True, "finite"),
        ({"width": 0}, False, "width"),
        ({"height": 0}, True, "height"),
        ({"k": K[:6]}, False, "9 numbers"),
        ({"k": [905.3, 2.0, *K[2:]]}, False, "skew"),
        ({"roi": SimpleNamespace(x_offset=10, y_offset=0, width=600, height=400)}, True, "rectified=True"),
        ({"roi": SimpleNamespace(x_offset=-10, y_offset=0, width=600, height=400)}, False, "region of interest"),
        ({"binning_x": 4000}, False, "width"),
    ],
)
def test_invalid_camera_info(overrides, rectified, message):
    assert message in invalid(Camera.from_camera_info, camera_info(**overrides), rectified=rectified)


@pytest.mark.parametrize(
    ("binning", "roi"), [((2, 2), (0, 0, 0, 0)), ((1, 1), (100, 40, 800, 600)), ((2, 4), (100, 40, 800, 600))]
)
def test_binned_and_cropped_raw_images(binning, roi):
    msg = camera_info(
        binning_x=binning[0],
        binning_y=binning[1],
        roi=SimpleNamespace(x_offset=roi[0], y_offset=roi[1], width=roi[2], height=roi[3]),
    )
    camera = Camera.from_camera_info(msg, rectified=False)
    full_size = (roi[2], roi[3]) if roi[2] else (1280, 720)
    assert (camera.width, camera.height) == (full_size[0] // binning[0], full_size[1] // binning[1])
    rng = np.random.default_rng(2)
    rays = np.column_stack((rng.uniform(-0.3, 0.3, (40, 2)), np.ones(40)))
    zero = np.zeros(3)
    full, _ = cv2.projectPoints(rays, zero, zero, np.reshape(K, (3, 3)), np.array(D))
    # full-resolution pixel -> pixel of the binned, cropped image -> normalized landmark
    image = (full.reshape(-1, 2) + 0.5 - roi[:2]) / binning - 0.5
    landmarks = np.column_stack(((image + 0.5) / (camera.width, camera.height), np.full(40, 0.02)))
    near = camera.to_near_plane(landmarks)
    np.testing.assert_allclose(near[:, 0], rays[:, 0], atol=1e-9)
    np.testing.assert_allclose(near[:, 1], -rays[:, 1], atol=1e-9)
    # z W is in pixels of the binned image: binning[0] full-resolution pixels each
    np.testing.assert_allclose(near[:, 2], 0.02 * camera.width * binning[0] / K[0])


def test_full_image_roi_is_fine():
    msg = camera_info(roi=SimpleNamespace(x_offset=0, y_offset=0, width=1280, height=720), binning_x=1)
    assert Camera.from_camera_info(msg, rectified=True).width == 1280


def test_camera_is_immutable():
    camera = Camera.from_fov(63, 640, 480)
    with pytest.raises(AttributeError):
        camera.fx = 1.0  # type: ignore[misc]
