"""Detection pieces: anchors, decode, weighted NMS, letterbox, ROIs and the MediaPipe-exact resampling."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
from face_mesh_reference import read_rgb

from facemesh_ros.detect import (
    DETECTORS,
    Detections,
    FaceDetector,
    decode_boxes,
    remove_letterbox,
    ssd_anchor_centers,
    weighted_nms,
)
from facemesh_ros.image import box_points, fixed_point_maps, native_warp_is_exact, rect_inverse, resample, warp_rect
from facemesh_ros.roi import associate_rois, normalize_radians, roi_iou, rois_from_detections


def test_anchor_layout() -> None:
    short = ssd_anchor_centers(128, DETECTORS["short"].strides, DETECTORS["short"].anchors_per_layer)
    full = ssd_anchor_centers(192, DETECTORS["full"].strides, DETECTORS["full"].anchors_per_layer)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # 16x16 cells x 2 anchors, then 8x8 cells x 6 anchors; order y, x, anchor
    np.testing.assert_allclose(short[0], short[1])
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[32], [0.5 / 16, 1.5 / 16])
    np.testing.assert_allclose(short[512:518], [[0.5 / 8, 0.5 / 8]] * 6)
    np.testing.assert_allclose(short[-1], [7.5 / 8, 7.5 / 8])
    np.testing.assert_allclose(full[1], [1.5 / 48, 0.5 / 48])


def test_decode_is_linear_in_the_anchor_and_thresholds_the_score() -> None:
    anchors = np.array([[0.25, 0.5], [0.75, 0.5]], np.float32)
    raw = np.zeros((2, 16), np.float32)
    raw[0, :4] = [12.8, -6.4, 25.6, 38.4]  # dx, dy, w, h in 128-pixel units
    raw[0, 4:6] = [1.28, 2.56]
    logits = np.array([2.0, -2.0], np.float32)  # sigmoid 0.88 and 0.12
    detections = decode_boxes(raw, logits, anchors, 128, 0.5)
    assert len(detections) == 1
    np.testing.assert_allclose(detections.boxes[0], [0.35 - 0.1, 0.45 - 0.15, 0.2, 0.3], atol=1e-6)
    np.testing.assert_allclose(detections.keypoints[0, 0], [0.26, 0.52], atol=1e-6)
    np.testing.assert_allclose(detections.scores, [1 / (1 + np.exp(-2.0))], rtol=1e-6)
    raw[0, 2] = -1.0  # negative width: dropped like MediaPipe
    assert len(decode_boxes(raw, logits, anchors, 128, 0.5)) == 0


def test_weighted_nms_merges_overlaps_into_the_score_weighted_mean() -> None:
    boxes = np.array([[0.1, 0.1, 0.2, 0.2], [0.12, 0.1, 0.2, 0.2], [0.6, 0.6, 0.2, 0.2]], np.float32)
    keypoints = np.zeros((3, 6, 2), np.float32)
    keypoints[:, 0] = [[0.15, 0.15], [0.17, 0.15], [0.7, 0.7]]
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    merged = weighted_nms(Detections(boxes, keypoints, scores))
    assert len(merged) == 2
    np.testing.assert_allclose(merged.scores, [0.9, 0.7])
    expected_x = (0.12 * 0.9 + 0.1 * 0.6) / 1.5
    np.testing.assert_allclose(merged.boxes[0], [expected_x, 0.1, 0.2, 0.2], atol=1e-6)
    np.testing.assert_allclose(merged.keypoints[0, 0], [(0.17 * 0.9 + 0.15 * 0.6) / 1.5, 0.15], atol=1e-6)
    np.testing.assert_allclose(merged.boxes[1], boxes[2])
    assert len(weighted_nms(Detections.empty())) == 0


def test_letterbox_removal_maps_the_padded_square_back() -> None:
    # 200 x 100 image: the 200-pixel square has 50 padding rows above; tensor y 0.25 -> image y 0
    detections = Detections(
        np.array([[0.0, 0.25, 1.0, 0.5]], np.float32), np.full((1, 6, 2), 0.5, np.float32), np.ones(1, np.float32)
    )
    image = remove_letterbox(detections, 200, 100)
    np.testing.assert_allclose(image.boxes[0], [0.0, 0.0, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(image.keypoints[0, 0], [0.5, 0.5], atol=1e-6)


def test_detection_roi_is_a_rotated_square_of_1_5_times_the_long_side() -> None:
    keypoints = np.zeros((1, 6, 2), np.float32)
    keypoints[0, 0], keypoints[0, 1] = [0.4, 0.5], [0.6, 0.5 + 0.2 * 640 / 480]  # eyes at 45 degrees
    detections = Detections(np.array([[0.3, 0.4, 0.2, 0.2]], np.float32), keypoints, np.ones(1, np.float32))
    roi = rois_from_detections(detections, 640, 480)[0]
    long_side = max(0.2 * 640, 0.2 * 480) * 1.5
    np.testing.assert_allclose(roi[:4], [0.4, 0.5, long_side / 640, long_side / 480], rtol=1e-6)
    assert roi[4] == pytest.approx(np.pi / 4, abs=1e-5)  # clockwise on screen (y down)
    np.testing.assert_allclose(normalize_radians(np.array([np.pi, 3 * np.pi / 2])), [-np.pi, -np.pi / 2])


def test_association_keeps_previous_rois_over_overlapping_detections() -> None:
    detections = np.array([[0.5, 0.5, 0.2, 0.2, 0.0], [0.1, 0.1, 0.1, 0.1, 0.0]], np.float32)
    previous = np.array([[0.51, 0.5, 0.2, 0.2, 0.3]], np.float32)
    assert roi_iou(detections[0], previous)[0] > 0.5
    rois, origin = associate_rois(detections, previous)
    assert origin.tolist() == [-1, 0]
    np.testing.assert_array_equal(rois, [detections[1], previous[0]])
    far = np.array([[0.9, 0.9, 0.1, 0.1, 0.0]], np.float32)
    assert associate_rois(detections, far)[1].tolist() == [-1, -1, 0]


# Crops of tongue.jpg made with OpenCV 4.11's warpPerspective (MediaPipe's path: cv::boxPoints,
# getPerspectiveTransform, INTER_LINEAR), md5 of the uint8 output; cases from default_rng(1).
def _cases() -> list[tuple[float, float, float, float, int, int]]:
    rng = np.random.default_rng(1)
    cases = []
    for k in range(30):
        cx, cy = rng.uniform(0, 940, 2)
        side, angle, size = rng.uniform(50, 1500), rng.uniform(-3.2, 3.2), [192, 128][k % 2]
        if k < 3:
            angle, cx, cy, side = 0.0, 470.0, 470.0, 940.0 + k
        cases.append((cx, cy, side, angle, size, cv2.BORDER_REPLICATE if k % 3 else cv2.BORDER_CONSTANT))
    return cases


OPENCV4_MD5 = {0: "e79611", 1: "ad6ecb", 2: "423e89", 5: "0e6add", 12: "f7b46e", 28: "0163b6", 29: "378a0c"}


@pytest.mark.parametrize("case", sorted(OPENCV4_MD5))
def test_rotated_crop_is_bit_exact_with_opencv4(case: int) -> None:
    cx, cy, side, angle, size, border = _cases()[case]
    crop = warp_rect(read_rgb("tongue.jpg"), cx, cy, side, side * 0.9, angle, size, border)
    assert hashlib.md5(crop.tobytes()).hexdigest()[:6] == OPENCV4_MD5[case]


def test_numpy_maps_and_the_native_warp_give_the_same_crops() -> None:
    """resample() takes OpenCV 4's warpPerspective where it matches; the numpy maps (OpenCV 5's path) must agree."""
    image = read_rgb("tongue.jpg")
    rng = np.random.default_rng(7)
    for _ in range(300):
        cx, cy = rng.uniform(-100, 1040, 2)
        side, angle, size = rng.uniform(8, 1500), rng.uniform(-3.2, 3.2), int(rng.choice([128, 192, 256]))
        inverse = rect_inverse(cx, cy, side, side * rng.uniform(0.8, 1.2), angle, size)
        border = int(rng.choice([cv2.BORDER_REPLICATE, cv2.BORDER_CONSTANT]))
        coords, fractions = fixed_point_maps(inverse, size, size)
        expected = cv2.remap(image, coords, fractions, cv2.INTER_LINEAR, borderMode=border, borderValue=0)
        np.testing.assert_array_equal(resample(image, inverse, size, border), expected)
    if int(cv2.__version__.split(".")[0]) == 4:  # OpenCV 4 samples as MediaPipe: its own warp must be in use
        assert native_warp_is_exact()


def test_box_points_follow_opencv4_float32_rounding() -> None:
    corners = box_points(300.3, 411.7, 523.1, 523.1, np.radians(37.123))
    # OpenCV 4.11 cv2.boxPoints gives 361.008056640625 for this y (OpenCV 5: 361.0080871582031)
    assert corners.dtype == np.float32 and corners[2, 1] == np.float32(361.008056640625)


def test_short_and_full_detectors_on_real_images() -> None:
    short, full = FaceDetector("short", 0.5, "cpu"), FaceDetector("full", 0.5, "cpu")
    faces = short.detect(read_rgb("lenna.png"))
    assert len(faces) == 1 and faces.scores[0] > 0.8
    box = faces.boxes[0]
    eyes = faces.keypoints[0, :2]
    assert np.all((eyes >= box[:2]) & (eyes <= box[:2] + box[2:]))
    assert eyes[0, 0] < eyes[1, 0]  # subject's right eye is on the image's left
    assert len(full.detect(read_rgb("t1.jpg"))) >= 4 and len(short.detect(read_rgb("t1.jpg"))) == 0
    with pytest.raises(ValueError, match="detector must be one of"):
        FaceDetector("medium")
