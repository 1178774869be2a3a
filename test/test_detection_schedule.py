"""When the detector runs: beside the landmark model on a second thread, and every Nth frame (detection_interval).

The overlap must not change a single number (same frames, the same results as one step after the other);
detection_interval > 1 must skip the detector only while a face is tracked, and still find a newcomer.
"""

from __future__ import annotations

import numpy as np
import pytest
from face_mesh_reference import load_fixture, read_rgb, sequence_camera

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.simulation.virtual_camera import VirtualCamera

TRACKING = load_fixture("mediapipe_tracking.npz")
FULL = {"detector": "full", "device": "cpu"}


@pytest.fixture(scope="module")
def lenna_frames() -> list[np.ndarray]:
    camera, _ = sequence_camera(TRACKING, "lenna_detect_each_frame")  # one face, max_num_faces=2
    return [frame.image for frame in camera]


@pytest.fixture(scope="module")
def newcomer_frames() -> list[np.ndarray]:
    """Walter White in view; the camera pans until Jesse Pinkman comes in (frame 18 of these 60)."""
    camera = VirtualCamera(
        read_rgb("breakingbad.jpg"),
        size=(640, 480),
        num_frames=100,
        target=(1250.0, 330.0),
        pan=0.12,
        zoom_range=(1.6, 1.6),
        roll_deg=0.0,
    )
    return [frame.image for frame in camera][40:]  # from frame 40: one face, tracked


def run(frames: list[np.ndarray], **options) -> list:
    with FaceMesh(max_num_faces=2, device="cpu", **options) as mesh:
        return [mesh.process(frame) for frame in frames]


@pytest.mark.parametrize(
    ("frames", "refine"), [("lenna_frames", False), ("lenna_frames", True), ("newcomer_frames", False)]
)
def test_second_thread_gives_the_same_results_as_one_step_after_the_other(request, frames, refine) -> None:
    """Lenna (one face, max_num_faces=2): the detector beside the tracked face's landmark run on every frame;
    the newcomer clip: once both faces are tracked, one face's landmarks on each thread."""
    options = {"max_num_faces": 2, "refine_landmarks": refine, "device": "cpu"}
    faces_per_frame = []
    with FaceMesh(**options) as overlapped, FaceMesh(**options) as sequential:
        sequential._overlap = False
        for frame in request.getfixturevalue(frames):
            a, b = overlapped.process(frame), sequential.process(frame)
            np.testing.assert_array_equal(a.landmarks, b.landmarks)
            np.testing.assert_array_equal(a.presence, b.presence)
            np.testing.assert_array_equal(a.rois, b.rois)
            np.testing.assert_array_equal(a.track_ids, b.track_ids)
            np.testing.assert_array_equal(a.detection_boxes, b.detection_boxes)
            faces_per_frame.append((a.num_faces, len(a.detection_scores)))
        assert overlapped._worker_thread is not None and sequential._worker_thread is None
    if frames == "lenna_frames":
        assert faces_per_frame == [(1, 1)] * len(faces_per_frame)  # the detector ran on every frame
    else:
        assert (2, 0) in faces_per_frame  # two tracked faces, no detector: shared over the threads
    assert overlapped._worker_thread is None  # closed: the worker thread is shut down


def test_detection_interval_skips_the_detector_only_while_a_face_is_tracked(lenna_frames) -> None:
    every = run(lenna_frames)
    fourth = run(lenna_frames, detection_interval=4)
    assert all(len(r.detection_scores) for r in every)
    ran = [len(r.detection_scores) > 0 for r in fourth]
    expected, last_run = [], -4
    for index in range(len(fourth)):
        tracked = index > 0 and fourth[index - 1].num_faces > 0
        expected.append(not tracked or index - last_run >= 4)
        last_run = index if expected[-1] else last_run
    assert ran == expected and ran.count(False) >= len(ran) // 2
    assert sum(r.num_faces for r in fourth) >= len(fourth) - 2  # the face is kept (lost once at most)
    np.testing.assert_array_equal(fourth[0].landmarks, every[0].landmarks)
    # no face tracked: the detector runs on every frame whatever the interval
    empty = np.zeros((64, 64, 3), np.uint8)
    with FaceMesh(max_num_faces=2, device="cpu", detection_interval=4) as mesh:
        mesh.process(lenna_frames[0])
        mesh.reset()
        assert len(mesh.process(lenna_frames[1]).detection_scores) == 1
        assert mesh.process(empty).num_faces == 0
        assert len(mesh.process(lenna_frames[2]).detection_scores) == 1


def test_a_newcomer_is_found_within_the_detection_interval(newcomer_frames) -> None:
    def first_two_faces(results: list) -> int:
        return next(index for index, r in enumerate(results) if r.num_faces == 2)

    found = first_two_faces(run(newcomer_frames))
    assert 10 < found < 50  # one face first, then two
    for interval in (3, 8):
        for skip in range(interval):  # every phase of the detector's schedule against the entry frame
            delay = first_two_faces(run(newcomer_frames[skip:], detection_interval=interval)) + skip - found
            assert 0 <= delay < interval, (interval, skip, delay)


def test_bad_detection_interval_raises_and_a_good_one_still_works(lenna_frames) -> None:
    for value in (0, -1, 2.5, True, "2"):
        with pytest.raises(ValueError, match=r"detection_interval must be an integer >= 1, got"):
            FaceMesh(detection_interval=value)
    with FaceMesh(device="cpu", detection_interval=2) as mesh:
        assert mesh.detection_interval == 2 and mesh.process(lenna_frames[0]).num_faces == 1


def test_faces_shared_out_over_two_threads_match_one_batch() -> None:
    """Several faces: half run on the worker thread. Per-face results do not depend on the batch's other
    faces except for float rounding inside onnxruntime's kernels (~1e-9 of the image size)."""
    photo = read_rgb("t1.jpg")  # six people at a table, small faces: the full-range detector
    for refine in (False, True):
        with FaceMesh(static_image_mode=True, max_num_faces=10, refine_landmarks=refine, **FULL) as shared:
            with FaceMesh(static_image_mode=True, max_num_faces=10, refine_landmarks=refine, **FULL) as one:
                one._overlap = False
                a, b = shared.process(photo), one.process(photo)
        assert a.num_faces == b.num_faces >= 4
        np.testing.assert_allclose(a.landmarks, b.landmarks, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(a.rois, b.rois)
