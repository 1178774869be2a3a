"""What FaceMesh.process() accepts (converted) and rejects (clear ValueError); see facemesh_ros/image.py."""

from __future__ import annotations

import numpy as np
import pytest
from face_mesh_reference import read_rgb

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.image import as_rgb_uint8


@pytest.fixture(scope="module")
def mesh():
    with FaceMesh(static_image_mode=True, max_num_faces=2, device="cpu") as face_mesh:
        yield face_mesh


@pytest.fixture(scope="module")
def lenna() -> np.ndarray:
    return read_rgb("lenna.png")


def test_grayscale_is_replicated_to_rgb(mesh, lenna) -> None:
    gray = lenna.mean(axis=2).astype(np.uint8)
    rgb_gray = np.repeat(gray[:, :, None], 3, axis=2)
    expected = mesh.process(rgb_gray).landmarks
    assert len(expected) == 1
    np.testing.assert_array_equal(mesh.process(gray).landmarks, expected)
    np.testing.assert_array_equal(mesh.process(gray[:, :, None]).landmarks, expected)


def test_rgba_drops_alpha(mesh, lenna) -> None:
    rgba = np.concatenate([lenna, np.full((*lenna.shape[:2], 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(mesh.process(rgba).landmarks, mesh.process(lenna).landmarks)


def test_views_and_read_only_arrays_are_accepted_and_left_untouched(mesh, lenna) -> None:
    expected = mesh.process(lenna).landmarks
    padded = np.zeros((lenna.shape[0], lenna.shape[1] * 2, 3), np.uint8)
    padded[:, ::2] = lenna
    strided = padded[:, ::2]  # non-contiguous view of the same pixels
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(mesh.process(strided).landmarks, expected)
    frozen = lenna.copy()
    frozen.flags.writeable = False
    before = frozen.copy()
    np.testing.assert_array_equal(mesh.process(frozen).landmarks, expected)
    np.testing.assert_array_equal(frozen, before)
    bgr_view = lenna[:, :, ::-1]  # negative strides (e.g. a BGR->RGB flip)
    assert mesh.process(np.ascontiguousarray(bgr_view)).num_faces == mesh.process(bgr_view).num_faces


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (8000, 100, 3), (100, 8000, 3), (2, 5000, 3)])
def test_odd_sizes_are_processed(mesh, shape: tuple[int, ...]) -> None:
    image = np.full(shape, 128, np.uint8)
    result = mesh.process(image)
    assert result.multi_face_landmarks is None
    assert result.image_size == (shape[1], shape[0])


def test_tall_image_with_a_face_still_finds_it(mesh, lenna) -> None:
    # letterboxed with padding on the left and right; landmarks come back in the tall image's coordinates
    tall = np.zeros((lenna.shape[0] + 256, lenna.shape[1], 3), np.uint8)
    tall[128:-128] = lenna
    result = mesh.process(tall)
    assert result.num_faces == 1
    expected = mesh.process(lenna).landmarks[0]
    moved = expected[:, 1] * lenna.shape[0] + 128
    shift = np.abs(result.landmarks[0, :, 1] * tall.shape[0] - moved)
    assert shift.mean() < 2.0 and shift.max() < 6.0  # pixels (IOD ~100 px); the detection ROI differs a bit


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((10, 10, 3), np.float32), "dtype must be uint8"),
        (np.zeros((10, 10, 3), np.uint16), "dtype must be uint8"),
        (np.zeros((10, 10, 3), bool), "dtype must be uint8"),
        (np.zeros((10, 10, 2), np.uint8), "must be H x W x 3"),
        (np.zeros((10, 10, 5), np.uint8), "must be H x W x 3"),
        (np.zeros((2, 10, 10, 3), np.uint8), "must be H x W x 3"),
        (np.zeros(10, np.uint8), "must be H x W x 3"),
        (np.zeros((0, 10, 3), np.uint8), "image is empty"),
        (np.zeros((10, 0), np.uint8), "image is empty"),
        (np.zeros((1, 40000, 3), np.uint8), "sides must be <= 32767"),
        ([[0, 0, 0]], "must be a numpy.ndarray"),
        (None, "must be a numpy.ndarray"),
    ],
)
def test_bad_images_raise_clear_errors(mesh, image: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mesh.process(image)


def test_contiguous_rgb_is_not_copied(lenna) -> None:
    assert as_rgb_uint8(lenna) is lenna
