"""ROS4HRI views of real faces (facemesh_ros.interaction.hri): ids, the 70 landmarks against human annotations,
crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.interaction.hri import (
    LEFT_PUPIL,
    NUM_FACIAL_LANDMARKS,
    RIGHT_PUPIL,
    aligned_face,
    cropped_face,
    facial_landmarks,
    hri_face_id,
    normalized_roi,
    track_id_from_hri,
)


def read_pts(path) -> np.ndarray:
    """The 68 points of an iBUG .pts annotation file (pixels)."""
    body = path.read_text().split("{")[1].split("}")[0]
    return np.array(body.split(), float).reshape(-1, 2)


@pytest.fixture(scope="module")
def annotated_faces(test_data_dir):
    """(image, mesh landmarks, 68 annotated points) of the two photos with a human 68-point annotation:
    takeo (frontal) and breakingbad (the annotated face is Walt's, turned)."""
    faces = []
    with FaceMesh(static_image_mode=True, max_num_faces=2, refine_landmarks=True) as face_mesh:
        for image_name, pts_name in (("takeo.ppm", "takeo.pts"), ("breakingbad.jpg", "breakingbad.pts")):
            image = np.ascontiguousarray(cv2.imread(str(test_data_dir / image_name))[:, :, ::-1])
            truth = read_pts(test_data_dir / pts_name)
            height, width = image.shape[:2]
            result = face_mesh.process(image)
            # the mesh nearest to the annotated face
            mesh = min(result.landmarks, key=lambda m: np.abs(m[:, :2] * (width, height) - truth.mean(0)).sum())
            faces.append((image, mesh, truth))
    return faces


def test_ids_start_with_a_letter_and_map_back():
    assert hri_face_id(0) == "f0" and hri_face_id(42) == "f42"
    assert all(hri_face_id(i)[0].isalpha() for i in (0, 7, 123456))
    assert track_id_from_hri(hri_face_id(31)) == 31


@pytest.mark.parametrize("bad", ["", "7", "f", "fx1", "face_1", "g3"])
def test_foreign_ids_are_rejected(bad):
    with pytest.raises(ValueError, match="not a facemesh_ros face id"):
        track_id_from_hri(bad)


def test_negative_track_id_is_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        hri_face_id(-1)


def test_facial_landmarks_match_human_annotations(annotated_faces):
    """The mapped 68 points lie where people annotated them, relative to the inter-ocular distance."""
    groups = {
        "jaw": slice(0, 17),
        "brows": slice(17, 27),
        "nose": slice(27, 36),
        "eyes": slice(36, 48),
        "mouth": slice(48, 68),
    }
    for image, mesh, truth in annotated_faces:
        height, width = image.shape[:2]
        points = facial_landmarks(mesh)
        assert points.shape == (NUM_FACIAL_LANDMARKS, 2)
        error = np.linalg.norm(points[:68] * (width, height) - truth, axis=1)
        error /= np.linalg.norm(truth[36:42].mean(0) - truth[42:48].mean(0))
        per_group = {name: error[part].mean() for name, part in groups.items()}
        # the inner face is precise; the jaw of a turned face is the visible contour in dlib's convention,
        # fixed anatomical points in the mesh's: looser there
        assert max(per_group["eyes"], per_group["nose"], per_group["mouth"]) < 0.15, per_group
        assert per_group["brows"] < 0.2 and per_group["jaw"] < 0.35, per_group
        # the subject's right eye and right pupil are on the image's left
        assert points[RIGHT_PUPIL, 0] < points[LEFT_PUPIL, 0]
        right_eye, left_eye = truth[36:42].mean(0), truth[42:48].mean(0)
        pupils = points[[RIGHT_PUPIL, LEFT_PUPIL]] * (width, height)
        assert np.linalg.norm(pupils[0] - right_eye) < 0.15 * np.linalg.norm(right_eye - left_eye)
        assert np.linalg.norm(pupils[1] - left_eye) < 0.15 * np.linalg.norm(right_eye - left_eye)


def test_pupils_without_irises_are_eye_centres(annotated_faces):
    _, mesh, _ = annotated_faces[0]
    unrefined = facial_landmarks(mesh[:468])
    refined = facial_landmarks(mesh)
    np.testing.assert_array_equal(unrefined[:68], refined[:68])
    assert np.abs(unrefined[68:] - refined[68:]).max() < 0.01  # within a small fraction of the image


def test_too_few_landmarks_is_an_error():
    with pytest.raises(ValueError, match="468 or 478"):
        facial_landmarks(np.zeros((68, 3)))


def test_roi_is_normalized_and_clipped():
    landmarks = np.array([[-0.1, 0.2, 0.0], [0.5, 1.3, 0.0], [0.3, 0.4, 0.0]])
    assert normalized_roi(landmarks) == pytest.approx((0.0, 0.2, 0.5, 1.0))


def test_crops_are_128_square_and_show_the_face(annotated_faces):
    image, mesh, _ = annotated_faces[0]
    cropped, aligned = cropped_face(image, mesh), aligned_face(image, mesh)
    assert cropped.shape == aligned.shape == (128, 128, 3) and cropped.dtype == np.uint8
    # a face is found again in both crops (scaled up: the detector wants some context)
    with FaceMesh(static_image_mode=True) as face_mesh:
        for crop in (cropped, aligned):
            padded = cv2.copyMakeBorder(cv2.resize(crop, (256, 256)), 128, 128, 128, 128, cv2.BORDER_CONSTANT)
            assert face_mesh.process(padded).num_faces == 1


def test_aligned_face_has_level_eyes(annotated_faces):
    """On the turned face (Walt) the eyes are not level in the photo; in the aligned crop they are."""
    image, mesh, truth = annotated_faces[1]
    height, width = image.shape[:2]
    right_eye, left_eye = truth[36:42].mean(0), truth[42:48].mean(0)
    photo_angle = np.degrees(np.arctan2(*(left_eye - right_eye)[::-1]))
    # rotate the photo so the eyes are visibly tilted, then align
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 20.0, 1.0)
    rotated = cv2.warpAffine(image, rotation, (width, height))
    moved = mesh.copy()
    pixels = mesh[:, :2] * (width, height)
    moved[:, :2] = (pixels @ rotation[:, :2].T + rotation[:, 2]) / (width, height)
    aligned = aligned_face(rotated, moved)
    with FaceMesh(static_image_mode=True, refine_landmarks=True) as face_mesh:
        padded = cv2.copyMakeBorder(cv2.resize(aligned, (256, 256)), 128, 128, 128, 128, cv2.BORDER_CONSTANT)
        found = face_mesh.process(padded).landmarks
    assert len(found) == 1
    eyes = found[0][[468, 473], :2]
    angle = np.degrees(np.arctan2(*(eyes[1] - eyes[0])[::-1]))
    assert abs(angle) < 4.0, (angle, photo_angle)
