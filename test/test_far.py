"""Far-range detection: small real faces pasted on real face-free photos, tiles, merging, upright retry."""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np
import pytest
from face_mesh_reference import DATA, read_rgb

from facemesh_ros import far
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.far import (
    FRAMES_PER_PASS,
    TILE_OVERLAP,
    TILE_SIDE,
    FarDetector,
    RejectedPatches,
    accept_far_faces,
    retry_upright,
    tile_layout,
    whole_frame,
)
from facemesh_ros.landmarks import LandmarkModel
from facemesh_ros.roi import rois_from_detections
from facemesh_ros.simulation.far_scenes import (
    BACKGROUNDS,
    COUNTABLE_FACES,
    background,
    match,
    mesh_boxes,
    paste_face,
    scene,
    source_faces,
)
from facemesh_ros.types import Detections


@pytest.fixture(scope="module")
def far_static():
    with FaceMesh(static_image_mode=True, max_num_faces=10, detector="far", device="cpu") as mesh:
        yield mesh


@pytest.fixture(scope="module")
def faces():
    boxes = {}
    with FaceMesh(static_image_mode=True, max_num_faces=10, detector="full", device="cpu") as full:
        for photo in ("Tom_Hanks_54745.png", "astronaut.png", "breakingbad.jpg", "lenna.png", "t1.jpg", "tongue.jpg"):
            rgb = read_rgb(photo)
            boxes[photo] = mesh_boxes(full.process(rgb).landmarks, rgb.shape[1], rgb.shape[0])
    return source_faces(DATA, boxes)


def found(mesh: FaceMesh, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    return mesh_boxes(mesh.process(rgb).landmarks, rgb.shape[1], rgb.shape[0])


@pytest.mark.parametrize(("width", "height"), [(640, 480), (1280, 720), (1920, 1080), (300, 200)])
def test_tiles_cover_the_frame_with_the_overlap(width: int, height: int) -> None:
    tiles = tile_layout(width, height)
    if max(width, height) <= TILE_SIDE:
        assert tiles == []
        return
    covered = np.zeros((height, width), np.int32)
    for tile in tiles:
        assert 0 <= tile.x0 and tile.x0 + tile.side <= width and 0 <= tile.y0 and tile.y0 + tile.side <= height
        covered[tile.y0 : tile.y0 + tile.side, tile.x0 : tile.x0 + tile.side] += 1
        assert tile.inner == (tile.x0 > 0, tile.y0 > 0, tile.x0 + tile.side < width, tile.y0 + tile.side < height)
    assert covered.min() >= 1
    # neighbours share at least TILE_OVERLAP pixels, so any face up to that size lies wholly in one tile
    for starts in ({t.x0 for t in tiles}, {t.y0 for t in tiles}):
        assert all(b - a <= tiles[0].side - TILE_OVERLAP for a, b in pairwise(sorted(starts)))


def test_every_countable_face_of_the_photos_and_none_on_face_free_photos(far_static) -> None:
    for photo, count in COUNTABLE_FACES.items():
        assert far_static.process(read_rgb(photo)).num_faces == count, photo
    for photo in BACKGROUNDS:
        assert far_static.process(read_rgb(photo)).num_faces == 0, photo


def test_far_finds_small_real_faces_that_short_and_full_miss(far_static, faces) -> None:
    rng = np.random.default_rng(2)
    with (
        FaceMesh(static_image_mode=True, max_num_faces=10, detector="short", device="cpu") as short,
        FaceMesh(static_image_mode=True, max_num_faces=10, detector="full", device="cpu") as full,
    ):
        totals = {"far": [0, 0], "short": [0, 0], "full": [0, 0]}
        for _ in range(3):
            rgb, truth = scene(rng, DATA, faces, 32, 4, 1280, 720)
            for name, mesh in (("far", far_static), ("short", short), ("full", full)):
                hits, false = match(found(mesh, rgb), truth)
                totals[name][0] += hits
                totals[name][1] += false
    assert totals["far"][0] >= 10 and totals["far"][1] == 0, totals  # of 12
    assert totals["short"][0] == 0 and totals["full"][0] <= 2, totals


def test_a_face_on_a_tile_border_is_found_once_and_whole(faces) -> None:
    width, height = 1280, 720
    tiles = tile_layout(width, height)
    border = tiles[1].x0 + TILE_SIDE  # right edge of the second tile, inside the third
    y_center = tiles[0].side * 0.5
    rgb = background(np.random.default_rng(4), DATA, width, height)
    face = next(f for f in faces if f.photo.name == "astronaut.png")
    truth = paste_face(rgb, face, 60, (border, y_center))
    detector = FarDetector(0.5, "cpu")
    near = truth[0] - 60, truth[1] - 60, truth[2] + 60, truth[3] + 60

    def on_face(found: Detections) -> np.ndarray:
        centers = (found.boxes[:, :2] + found.boxes[:, 2:] / 2) * [width, height]
        inside = (centers >= near[:2]) & (centers <= near[2:])
        return found.boxes[inside.all(axis=1)] * [width, height, width, height]

    # the tile that cuts the face in half drops what it sees of it
    assert len(on_face(detector.run(rgb, [tiles[1]]))) == 0
    (box,) = on_face(detector.detect(rgb))  # one detection of the face: no half-face beside the whole one
    assert box[0] < border < box[0] + box[2] and 0.5 < box[2] / (truth[2] - truth[0]) < 1.5
    with FaceMesh(static_image_mode=True, max_num_faces=5, detector="far", device="cpu") as mesh:
        assert match(found(mesh, rgb), [truth]) == (1, 0)


def test_video_finds_a_newcomer_within_the_round_robin(faces) -> None:
    width, height = 1280, 720
    rgb = background(np.random.default_rng(8), DATA, width, height)
    face = next(f for f in faces if f.photo.name == "astronaut.png")
    paste_face(rgb, face, 32, (1000, 500))
    bound = 2 * FRAMES_PER_PASS * len(tile_layout(width, height))
    with (
        FaceMesh(max_num_faces=2, detector="far", device="cpu") as far,
        FaceMesh(max_num_faces=2, detector="short", device="cpu") as short,
    ):
        first = next((index for index in range(bound) if far.process(rgb).num_faces == 1), None)
        assert first is not None and first > 0  # not by the whole-frame pass: by its tile
        assert all(far.process(rgb).num_faces == 1 for _ in range(5))  # then tracked
        assert all(short.process(rgb).num_faces == 0 for _ in range(3))


def test_a_small_face_with_an_implausible_keypoint_roll_is_retried_upright(faces) -> None:
    width, height = 640, 480
    rgb = background(np.random.default_rng(9), DATA, width, height)
    truth = paste_face(rgb, next(f for f in faces if f.photo.name == "lenna.png"), 32, (320, 240))
    cx, cy = (truth[0] + truth[2]) / 2, (truth[1] + truth[3]) / 2
    side = (truth[2] - truth[0]) * 0.8
    box = np.array([[(cx - side / 2) / width, (cy - side / 2) / height, side / width, side / height]], np.float32)
    # eye keypoints placed as a 32 px face's noisy ones can be: the right -> left eye vector at 70 degrees
    eyes = np.array([[[cx - 2, cy - 5], [cx + 1, cy + 3]]]) / [width, height]
    keypoints = np.zeros((1, 6, 2), np.float32)
    keypoints[:, :2] = eyes
    rois = rois_from_detections(Detections(box, keypoints, np.ones(1, np.float32)), width, height)
    model = LandmarkModel(False, "cpu")
    landmarks, presence = model.run(rgb, rois)
    assert presence[0] < 0.5  # mis-rotated: rejected
    new_rois, new_landmarks, new_presence = retry_upright(model, rgb, rois, np.array([True]), landmarks, presence, 0.5)
    assert new_rois[0, 4] == 0.0 and new_presence[0] > 0.5
    assert match(mesh_boxes(new_landmarks, width, height), [truth]) == (1, 0)
    # a tracked face (not new) or a confident one is left alone
    kept = retry_upright(model, rgb, rois, np.array([False]), landmarks, presence, 0.5)
    assert kept[0][0, 4] == rois[0, 4] and kept[2][0] == presence[0]


def test_whole_frame_square_is_centred_letterbox() -> None:
    square = whole_frame(1280, 720)
    assert (square.x0, square.y0, square.side) == (0, -280, 1280)


def test_two_detections_of_one_face_give_one_mesh_and_max_faces_caps_new_ones(faces) -> None:
    width, height = 640, 480
    rgb = background(np.random.default_rng(10), DATA, width, height)
    truths = [
        paste_face(rgb, next(f for f in faces if f.photo.name == photo), 90, center)
        for photo, center in (("lenna.png", (180, 240)), ("astronaut.png", (460, 240)))
    ]
    rois = []
    for x0, y0, x1, y1 in truths:
        side = (x1 - x0) * 1.3
        rois.append([(x0 + x1) / 2 / width, (y0 + y1) / 2 / height, side / width, side / height, 0.0])
    # the first face twice (as from two passes, slightly apart), then the second face
    rois = np.array([rois[0], [rois[0][0] + 0.01, *rois[0][1:]], rois[1]], np.float32)
    model = LandmarkModel(False, "cpu")
    landmarks, presence = model.run(rgb, rois)
    assert np.all(presence > 0.5)
    new = np.full(3, -1)
    *_, accepted, _ = accept_far_faces(model, rgb, rois, new, landmarks, presence, 0.5, 10)
    assert accepted.sum() == 2 and accepted[2] and accepted[:2].sum() == 1
    *_, capped, _ = accept_far_faces(model, rgb, rois, new, landmarks, presence, 0.5, 1)
    assert capped.sum() == 1 and presence[capped][0] == presence[accepted].max()
    # a tracked face keeps its place over new ones
    tracked = np.array([-1, -1, 7])
    *_, first, _ = accept_far_faces(model, rgb, rois, tracked, landmarks, presence, 0.5, 1)
    assert first.tolist() == [False, False, True]
    # a mesh twice the size around the first face (as from a too large detection box) is no second face
    center = landmarks[0, :, :2].mean(axis=0)
    around = landmarks[:1].copy()
    around[0, :, :2] = center + 2.0 * (landmarks[0, :, :2] - center)
    two = np.concatenate([landmarks[:1], around])
    *_, single, _ = accept_far_faces(model, rgb, rois[:2], np.array([4, 5]), two, np.float32([0.9, 0.95]), 0.5, 10)
    assert single.tolist() == [False, True]


def test_a_face_like_headlight_passes_one_landmark_check_but_not_the_second_look(monkeypatch) -> None:
    photo = read_rgb("motorcycle_left.png")  # headlight between two mirrors, no face
    monkeypatch.setattr(far, "TILE_SCORE_FACTOR", 1.0)  # the tiles' detections this case was found with
    rgb = cv2.resize(photo, None, fx=1.3, fy=1.3)
    with FaceMesh(static_image_mode=True, max_num_faces=5, detector="far", device="cpu") as mesh:
        assert mesh.process(rgb).num_faces == 0
        monkeypatch.setattr(far, "CONFIRM_PRESENCE", 0.0)  # without the second look it is taken for a face
        assert mesh.process(rgb).num_faces == 1


def test_a_rejected_patch_is_skipped_while_unchanged_and_checked_again_when_it_changes(faces) -> None:
    rgb = background(np.random.default_rng(12), DATA, 640, 480)
    roi = np.array([[0.5, 0.5, 0.1, 0.13, 0.3]], np.float32)
    new, tracked = np.array([-1]), np.array([3])
    memory = RejectedPatches()
    assert not memory.unchanged(rgb, roi, new).any()  # nothing remembered yet
    memory.remember(rgb, roi)
    assert memory.unchanged(rgb, roi, new).tolist() == [True]
    assert memory.unchanged(rgb, roi, tracked).tolist() == [False]  # tracked faces are never skipped
    assert memory.unchanged(rgb, roi + np.float32([[0.2, 0, 0, 0, 0]]), new).tolist() == [False]  # elsewhere
    noisy = np.clip(rgb + np.random.default_rng(1).normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
    assert memory.unchanged(noisy, roi, new).tolist() == [True]  # camera noise is no change
    with_face = rgb.copy()
    paste_face(with_face, next(f for f in faces if f.photo.name == "astronaut.png"), 50, (320, 240))
    assert memory.unchanged(with_face, roi, new).tolist() == [False]  # someone stepped in
    for _ in range(far.REJECTED_PATCH_FRAMES):
        memory.unchanged(rgb, roi[:0], new[:0])
    assert memory.unchanged(rgb, roi, new).tolist() == [False] and len(memory) == 0  # expired


def test_video_checks_a_face_like_patch_of_the_scenery_once_and_still_finds_a_face_there(faces) -> None:
    """This room has a patch the full-range model scores as a face on many passes; the landmark check
    rejects it. In video it is checked once, not on every pass; a face pasted on that spot is found."""
    room = background(np.random.default_rng(12), DATA, 640, 480)
    with FaceMesh(max_num_faces=2, detector="far", device="cpu") as mesh:
        checked = []
        run = mesh._landmarks.run
        mesh._landmarks.run = lambda rgb, rois: (checked.append(len(rois)), run(rgb, rois))[1]
        assert all(mesh.process(room).num_faces == 0 for _ in range(60))
        remembered = mesh._rejected._rois.copy()
        frames_checking = sum(count > 0 for count in checked)
        assert len(remembered) >= 1 and 1 <= frames_checking <= 3 * len(remembered)
        with FaceMesh(max_num_faces=2, detector="far", device="cpu", static_image_mode=True) as static:
            assert static.process(room).num_faces == 0  # the patch really is no face to the pipeline
        cx, cy, side = remembered[0, 0] * 640, remembered[0, 1] * 480, remembered[0, 2] * 640
        person = room.copy()
        paste_face(person, next(f for f in faces if f.photo.name == "astronaut.png"), side / 1.5, (cx, cy))
        bound = 2 * FRAMES_PER_PASS * len(tile_layout(640, 480))
        assert any(mesh.process(person).num_faces == 1 for _ in range(bound))


def test_video_passes_every_second_frame_and_the_whole_frame_at_once_after_a_lost_face(faces) -> None:
    rgb = background(np.random.default_rng(3), DATA, 1280, 720)
    paste_face(rgb, next(f for f in faces if f.photo.name == "astronaut.png"), 160, (640, 380))
    detector = FarDetector(device="cpu", spread_over_frames=True)

    def sees_the_face() -> bool:
        boxes = detector.detect_step(rgb).boxes
        centers = boxes[:, :2] + boxes[:, 2:] / 2
        return bool(np.any(np.all(np.abs(centers - [0.5, 380 / 720]) < 0.05, axis=1)))

    # whole frame, -, tile 0, -, whole frame, -, tile 1, -, whole frame: only the whole frame sees this big face
    assert [sees_the_face() for _ in range(9)] == [True, False, False, False, True, False, False, False, True]
    detector.look_again()
    assert sees_the_face()  # out of turn: the whole frame
    assert [sees_the_face() for _ in range(4)] == [False, False, False, True]  # the round robin goes on
