"""Video (tracking) mode against MediaPipe 0.10.21 over virtual-camera sequences of real photos (fixtures).

Free-running tracking feeds each frame's landmarks into the next frame's crop, so any tiny difference
(onnxruntime vs MediaPipe's XNNPACK arithmetic, ~1e-6) is fed back and grows. MediaPipe does the same to
itself: with one pixel of frame 0 raised by one level, its own landmarks drift from its unperturbed run by
up to 3.7 % IOD (worst face) on breakingbad's turned face (fixture `self_error`). So:
- every step is checked exactly: our ROI from MediaPipe's landmarks and our landmarks from MediaPipe's ROI;
- free-running, the frontal lenna sequences must meet the issue's bar (mean <= 0.5 %, worst <= 1.5 %), and
  every sequence must stay within max(bar, 1.5 x MediaPipe's own one-pixel spread).
"""

from __future__ import annotations

import hashlib
from itertools import pairwise

import cv2
import numpy as np
import pytest
from face_mesh_reference import (
    MEAN_LIMIT,
    WORST_LIMIT,
    iod_errors,
    load_fixture,
    match_faces,
    read_rgb,
    sequence_camera,
)

from facemesh_ros.detect import FaceDetector
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.landmarks import LandmarkModel
from facemesh_ros.roi import associate_rois, rois_from_detections, rois_from_landmarks
from facemesh_ros.simulation.virtual_camera import VirtualCamera

TRACKING = load_fixture("mediapipe_tracking.npz")
SEQUENCES = sorted({key.split("/")[0] for key in TRACKING})
FREE_RUNNING = ("lenna", "lenna_detect_each_frame")
MODES = ("468", "478")


def frames(seq: str) -> list[np.ndarray]:
    camera, _ = sequence_camera(TRACKING, seq)
    images = [frame.image for frame in camera]
    digests = [hashlib.md5(image.tobytes()).hexdigest() for image in images]
    assert digests == [str(d) for d in TRACKING[f"{seq}/frame_md5"]], "virtual camera renders other frames"
    return images


@pytest.fixture(scope="module")
def sequence_frames() -> dict[str, list[np.ndarray]]:
    return {seq: frames(seq) for seq in SEQUENCES}


def run_tracking(seq: str, mode: str, images: list[np.ndarray]) -> list:
    _, config = sequence_camera(TRACKING, seq)
    limit = config["max_num_faces"]
    with FaceMesh(max_num_faces=limit, refine_landmarks=mode == "478", device="cpu") as mesh:
        return [mesh.process(image) for image in images]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seq", SEQUENCES)
def test_same_frames_have_faces_and_tracks_keep_ids(seq: str, mode: str, sequence_frames) -> None:
    results = run_tracking(seq, mode, sequence_frames[seq])
    counts = TRACKING[f"{seq}/{mode}/counts"]
    assert [r.num_faces for r in results] == counts.tolist()
    _, config = sequence_camera(TRACKING, seq)
    detected = [len(r.detection_scores) > 0 for r in results]
    if config["max_num_faces"] > counts.max():
        # fewer faces than allowed: the detector runs on every frame; where its ROI overlaps the tracked one
        # (IoU > 0.5) the tracked ROI wins and the id stays (in lenna_detect_each_frame the tracked ROI
        # drifts off the rolling face at frame 14, MediaPipe's too, and the detection starts a new track)
        assert all(detected)
        assert all(b.track_ids[0] in (a.track_ids[0], a.track_ids[0] + 1) for a, b in pairwise(results))
    else:
        assert detected == [True] + [False] * (len(results) - 1)  # ... otherwise only until all are tracked
        ids = {tuple(sorted(r.track_ids.tolist())) for r in results}
        assert len(ids) == 1, f"track ids changed during the sequence: {ids}"
    assert detected == TRACKING[f"{seq}/{mode}/detected"].tolist()
    errors = np.concatenate(
        [
            iod_errors(
                match_faces(r.landmarks, TRACKING[f"{seq}/{mode}/landmarks"][t, : r.num_faces]),
                TRACKING[f"{seq}/{mode}/landmarks"][t, : r.num_faces],
                r.image_size,
            )
            for t, r in enumerate(results)
        ]
    )
    self_mean, self_worst = TRACKING[f"{seq}/{mode}/self_error"].max(axis=0)
    strict = seq in FREE_RUNNING
    assert errors.mean() <= (MEAN_LIMIT if strict else max(MEAN_LIMIT, 1.5 * self_mean)), errors
    assert errors.max() <= (WORST_LIMIT if strict else max(WORST_LIMIT, 1.5 * self_worst)), errors


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seq", SEQUENCES)
def test_each_tracking_step_matches_mediapipe(seq: str, mode: str, sequence_frames) -> None:
    images = sequence_frames[seq]
    landmarks = TRACKING[f"{seq}/{mode}/landmarks"]
    counts = TRACKING[f"{seq}/{mode}/counts"]
    next_rois = TRACKING[f"{seq}/{mode}/next_rois"]
    detected = TRACKING[f"{seq}/{mode}/detected"]
    detection_rois = TRACKING[f"{seq}/{mode}/detection_rois"]
    _, config = sequence_camera(TRACKING, seq)
    height, width = images[0].shape[:2]
    model = LandmarkModel(refine=mode == "478", device="cpu")
    detector = FaceDetector("short", 0.5, "cpu")
    step_errors = []
    for t in range(len(images)):
        faces = landmarks[t, : counts[t]]
        # ROI for the next frame from MediaPipe's landmarks: same float32 arithmetic, same values
        ours = rois_from_landmarks(faces, width, height)
        np.testing.assert_allclose(ours, next_rois[t, : counts[t]], atol=2e-6)
        previous = next_rois[t - 1, : counts[t - 1]] if t else np.zeros((0, 5), np.float32)
        from_detector = np.zeros((0, 5), np.float32)
        if detected[t]:
            # our detector's ROIs on this frame, then the association with last frame's ROIs
            from_detector = rois_from_detections(detector.detect(images[t]).top(config["max_num_faces"]), width, height)
            expected = detection_rois[t][~np.isnan(detection_rois[t, :, 0])]
            np.testing.assert_allclose(from_detector, expected, atol=1e-4)
        rois, _ = associate_rois(from_detector, previous)
        predicted, presence = model.run(images[t], rois)
        predicted = predicted[presence > 0.5]
        assert len(predicted) == counts[t]
        step_errors.append(iod_errors(predicted, faces, (width, height)))
    errors = np.concatenate(step_errors)
    assert errors.max() <= 0.05, errors  # measured: worst 0.016 %, mean <= 0.0005 %


def test_reset_and_static_mode_detect_again(sequence_frames) -> None:
    images = sequence_frames["lenna"][:3]
    with FaceMesh(device="cpu") as mesh:
        first = mesh.process(images[0])
        second = mesh.process(images[1])
        mesh.reset()
        third = mesh.process(images[2])
    assert len(first.detection_scores) == 1 and len(second.detection_scores) == 0
    assert len(third.detection_scores) == 1
    assert third.track_ids[0] != first.track_ids[0]  # a new track after reset
    with FaceMesh(static_image_mode=True, device="cpu") as mesh:
        results = [mesh.process(image) for image in images]
    assert all(len(r.detection_scores) == 1 for r in results)


def test_lost_face_is_dropped_and_found_again(sequence_frames) -> None:
    face, blank = sequence_frames["lenna"][0], np.zeros_like(sequence_frames["lenna"][0])
    with FaceMesh(device="cpu") as mesh:
        found = mesh.process(face)
        lost = mesh.process(blank)
        again = mesh.process(face)
    assert found.num_faces == 1 and lost.num_faces == 0 and again.num_faces == 1
    assert len(again.detection_scores) == 1 and again.track_ids[0] != found.track_ids[0]


def test_virtual_camera_is_deterministic_and_reports_its_intrinsics() -> None:
    photo = read_rgb("astronaut.png")
    camera = VirtualCamera(photo, size=(320, 240), num_frames=8, target=(200.0, 150.0), zoom_range=(1.0, 2.0))
    first, again = camera.frame(0), camera.frame(0)
    np.testing.assert_array_equal(first.image, again.image)
    assert first.image.shape == (240, 320, 3) and first.image.dtype == np.uint8
    # frame 0: no pan, no roll, zoom 1 (photo height fills the frame): the frame centre shows the target
    assert first.center == (200.0, 150.0) and first.roll == 0.0 and first.zoom == 1.0
    scale = 240 / photo.shape[0]
    crop = cv2.resize(photo[150 - 20 : 150 + 20, 200 - 20 : 200 + 20], None, fx=scale, fy=scale)
    centre = first.image[
        120 - crop.shape[0] // 2 : 120 + crop.shape[0] // 2, 160 - crop.shape[1] // 2 : 160 + crop.shape[1] // 2
    ]
    assert np.abs(centre.astype(int) - crop[: centre.shape[0], : centre.shape[1]]).mean() < 12
    halfway = camera.frame(4)
    assert halfway.zoom == pytest.approx(2.0)
    assert halfway.intrinsics[0, 0] == pytest.approx(2.0 * first.intrinsics[0, 0])
    np.testing.assert_allclose(first.intrinsics[:2, 2], [160, 120])
    assert len(list(camera)) == 8
    with pytest.raises(ValueError, match="photo must be an H x W x 3 uint8"):
        VirtualCamera(photo[:, :, 0])
