"""Far-range face detection ("far" detector): the full-range BlazeFace over a whole frame plus overlapping tiles.

MediaPipe's detectors see the frame letterboxed to 128 or 192 px, so a face 5 m from a 1280x720 camera
(~30 px) is ~4 px in the detector input, far below what the model finds (~12 px). Far mode keeps the
full-range model at its fixed 192 px input and gives it more pixels per face: besides the whole-frame
pass (large and medium faces) it runs on square tiles whose side is TILE_SIDE pixels of the frame.
Neighbouring tiles overlap by more than the largest face the whole-frame pass may miss, so every face lies
wholly inside some tile; detections touching a tile's inner edge (faces cut in half) are dropped, and what
survives of all passes is merged with MediaPipe's weighted non-max suppression. Tiles pass on detections
from a lower score (TILE_SCORE_FACTOR x min_score): most small faces the detector misses score just under the
threshold, and every new candidate must pass the landmark check and its second look anyway.

Tiles are downscaled by area averaging (cv2.INTER_AREA) rather than MediaPipe's bilinear sampling: small
faces keep their contrast instead of aliasing away.

In video the search is spread over frames: every FRAMES_PER_PASS-th frame runs one pass of a round robin
that alternates the whole-frame pass with the next tile. A full-range pass (192 px input) costs much more
than a short-range frame (128 px; bench/bench_far.py), so a pass on every frame would make an empty room far
dearer than with `short`. A face anywhere is found within 2 x FRAMES_PER_PASS x (number of tiles) frames, a
near one (whole-frame pass) within 2 x FRAMES_PER_PASS; when a tracked face is lost, the next frame runs the
whole-frame pass (look_again), so a face that jumped or a cut to other faces costs one frame, as in `short`.
Tiles show the landmark model face-like patches of the scenery (a poster, a pattern) again on each visit;
in video a candidate that the landmark check rejected is not checked again while its patch stays unchanged
(RejectedPatches).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facemesh_ros.detect import DETECTORS, FaceDetector, decode_boxes, weighted_nms
from facemesh_ros.landmarks import LandmarkModel
from facemesh_ros.landmarks_v2 import LandmarkModelV2
from facemesh_ros.roi import ASSOCIATION_IOU, roi_intersection, roi_iou, rois_from_landmarks
from facemesh_ros.types import Detections

TILE_SIDE = 224  # frame pixels per tile: 192 / 224 = 0.86 detector pixels per frame pixel (bench_far: recall)
TILE_OVERLAP = 112  # >= the largest face (plus margin) the whole-frame pass may miss at 1280 px
AREA_MIN_SCALE = 0.5  # detector / frame pixels from which downscaling averages areas (tiles, small frames)
EDGE_MARGIN = 0.02  # of the tile side: a box this close to an inner tile edge is treated as cut
FAR_EXTRA_CANDIDATES = 4  # detections beyond max_num_faces that the landmark model checks (tiles see more)
CONFIRM_PRESENCE = 0.98  # second-look presence a new face needs (see accept_far_faces)
TILE_SCORE_FACTOR = 0.8  # tiles keep detections from min_score x this: the landmark check and second look decide
UPRIGHT_RETRY_MAX_SIDE = 64.0  # ROI side (px) below which a rejected face is retried with rotation 0
UPRIGHT_RETRY_MIN_ROLL = np.radians(25.0)  # keypoint roll beyond which a small face's roll is suspect
FRAMES_PER_PASS = 2  # video: one detector pass every this many frames
THUMBNAIL_SIDE = 12  # RejectedPatches: a candidate's patch, area-averaged to this many pixels a side
UNCHANGED_PATCH_LEVEL = 4.0  # mean absolute difference (of 255) below which a patch counts as the same
REJECTED_PATCH_FRAMES = 90  # a rejected patch is checked again after this many frames at the latest
MAX_REJECTED_PATCHES = 32


@dataclass(frozen=True)
class Square:
    """A square window of the frame in pixels; inner edges are those not on the image border."""

    x0: int
    y0: int
    side: int
    inner: tuple[bool, bool, bool, bool]  # left, top, right, bottom edge lies inside the image


def _starts(length: int, side: int, overlap: int) -> list[int]:
    """Start offsets of windows of `side` covering [0, length) with at least `overlap` shared pixels."""
    if length <= side:
        return [0]
    count = int(np.ceil((length - overlap) / (side - overlap)))
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def tile_layout(width: int, height: int, side: int = TILE_SIDE, overlap: int = TILE_OVERLAP) -> list[Square]:
    """Overlapping tiles covering the frame; none when the whole frame is not larger than one tile."""
    if max(width, height) <= side:
        return []
    side = min(side, width, height)
    tiles = []
    for y0 in _starts(height, side, overlap):
        for x0 in _starts(width, side, overlap):
            tiles.append(Square(x0, y0, side, (x0 > 0, y0 > 0, x0 + side < width, y0 + side < height)))
    return tiles


def whole_frame(width: int, height: int) -> Square:
    """The letterbox square centred on the frame (MediaPipe's whole-image ROI)."""
    side = max(width, height)
    return Square((width - side) // 2, (height - side) // 2, side, (False, False, False, False))


def square_input(rgb: np.ndarray, square: Square, size: int) -> np.ndarray:
    """(size, size, 3) float32 in [-1, 1] of `square`, area-downscaled; outside the image is padding (-1)."""
    height, width = rgb.shape[:2]
    x0, y0 = max(square.x0, 0), max(square.y0, 0)
    x1, y1 = min(square.x0 + square.side, width), min(square.y0 + square.side, height)
    scale = size / square.side
    # only the image part is resized, straight into its place in the padded input
    left, top = round((x0 - square.x0) * scale), round((y0 - square.y0) * scale)
    right, bottom = round((x1 - square.x0) * scale), round((y1 - square.y0) * scale)
    # area averaging on tiles (small faces keep their contrast); bilinear on the whole frame, where area
    # resampling costs ~20x more and the faces that pass must find are large
    interpolation = cv2.INTER_AREA if AREA_MIN_SCALE <= scale < 1 else cv2.INTER_LINEAR
    part = cv2.resize(rgb[y0:y1, x0:x1], (right - left, bottom - top), interpolation=interpolation)
    tensor = np.full((size, size, 3), -1.0, np.float32)
    tensor[top:bottom, left:right] = part * np.float32(2.0 / 255.0) - np.float32(1.0)
    return tensor


def _cut_by_inner_edge(boxes: np.ndarray, square: Square) -> np.ndarray:
    """Per tensor-normalized box: True if it reaches within EDGE_MARGIN of an inner edge of the square."""
    low, high = boxes[:, :2], boxes[:, :2] + boxes[:, 2:]
    left, top, right, bottom = square.inner
    cut = np.zeros(len(boxes), bool)
    if left:
        cut |= low[:, 0] <= EDGE_MARGIN
    if top:
        cut |= low[:, 1] <= EDGE_MARGIN
    if right:
        cut |= high[:, 0] >= 1 - EDGE_MARGIN
    if bottom:
        cut |= high[:, 1] >= 1 - EDGE_MARGIN
    return cut


def _to_image(detections: Detections, square: Square, width: int, height: int) -> Detections:
    """Tensor-normalized detections of one square -> image-normalized."""
    scale = np.array([square.side / width, square.side / height], np.float32)
    offset = np.array([square.x0 / width, square.y0 / height], np.float32)
    boxes = np.concatenate([detections.boxes[:, :2] * scale + offset, detections.boxes[:, 2:] * scale], axis=1)
    return Detections(
        boxes.astype(np.float32), (detections.keypoints * scale + offset).astype(np.float32), detections.scores
    )


def concatenate(parts: list[Detections]) -> Detections:
    """The detections of several passes in one Detections (not merged)."""
    if not parts:
        return Detections.empty()
    return Detections(
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.keypoints for p in parts]),
        np.concatenate([p.scores for p in parts]),
    )


class FarDetector:
    """Whole-frame plus tiled full-range detection.

    spread_over_frames: False = detect() runs every pass on each frame (static images); True = each call
    runs the next pass of the round robin (video, see detect_step).
    """

    def __init__(
        self, min_score: float = 0.5, device: str = "auto", threads: int | None = None, spread_over_frames: bool = False
    ) -> None:
        self._detector = FaceDetector("full", min_score, device, threads)
        self.spec = DETECTORS["full"]
        self.spread_over_frames = spread_over_frames
        self._next_pass = 0
        self._frames = 0
        self._look_again = False

    @property
    def min_score(self) -> float:
        return self._detector.min_score

    @min_score.setter
    def min_score(self, value: float) -> None:
        self._detector.min_score = value

    def passes(self, width: int, height: int) -> list[Square]:
        """The whole-frame square, then the tiles."""
        return [whole_frame(width, height), *tile_layout(width, height, TILE_SIDE, TILE_OVERLAP)]

    def run(self, rgb: np.ndarray, squares: list[Square]) -> Detections:
        """Detections of the given squares in one batch, edge-cut ones dropped, merged, best first."""
        if not squares:
            return Detections.empty()
        height, width = rgb.shape[:2]
        size = self.spec.input_size
        batch = np.stack([square_input(rgb, square, size) for square in squares])
        outputs = self._detector.model.run(batch)
        parts = []
        for index, square in enumerate(squares):
            is_tile = any(square.inner)
            found = decode_boxes(
                outputs["regressors"][index],
                outputs["classificators"][index, :, 0],
                self._detector.anchors,
                size,
                self.min_score * TILE_SCORE_FACTOR if is_tile else self.min_score,
            )
            found = weighted_nms(found)
            keep = ~_cut_by_inner_edge(found.boxes, square)
            kept = Detections(found.boxes[keep], found.keypoints[keep], found.scores[keep])
            parts.append(_to_image(kept, square, width, height))
        return weighted_nms(concatenate(parts))

    def detect(self, rgb: np.ndarray) -> Detections:
        """Faces in a uint8 RGB image, best first: every pass, or the next one when spread over frames."""
        if self.spread_over_frames:
            return self.detect_step(rgb)
        return self.run(rgb, self.passes(rgb.shape[1], rgb.shape[0]))

    def look_again(self) -> None:
        """Make the next detect_step the whole-frame pass, whatever its turn (a tracked face was just lost)."""
        self._look_again = True

    def detect_step(self, rgb: np.ndarray) -> Detections:
        """Every FRAMES_PER_PASS-th call, one pass of the round robin whole frame, tile 0, whole frame, tile 1, ..."""
        height, width = rgb.shape[:2]
        whole, *tiles = self.passes(width, height)
        if self._look_again:
            self._look_again = False
            return self.run(rgb, [whole])
        self._frames += 1
        if (self._frames - 1) % FRAMES_PER_PASS:
            return Detections.empty()
        if not tiles:
            return self.run(rgb, [whole])
        step = self._next_pass % (2 * len(tiles))
        self._next_pass = step + 1
        return self.run(rgb, [whole if step % 2 == 0 else tiles[step // 2]])


def retry_upright(
    landmark_model: LandmarkModel | LandmarkModelV2,
    rgb: np.ndarray,
    rois: np.ndarray,
    is_new: np.ndarray,
    landmarks: np.ndarray,
    presence: np.ndarray,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second landmark run at rotation 0 for new faces that were rejected, small, with a large keypoint roll.

    On faces of 24-40 px the eye keypoints are a pixel or two apart, so the roll computed from them is often
    far off and the landmark model rejects the mis-rotated crop; upright, most of these faces pass.
    Returns rois, landmarks and presence with the retried faces replaced where the retry scored higher.
    """
    small = rois[:, 2] * rgb.shape[1] < UPRIGHT_RETRY_MAX_SIDE
    retry = np.nonzero(is_new & (presence <= threshold) & small & (np.abs(rois[:, 4]) > UPRIGHT_RETRY_MIN_ROLL))[0]
    if retry.size == 0:
        return rois, landmarks, presence
    upright = rois[retry].copy()
    upright[:, 4] = 0.0
    retried, retried_presence = landmark_model.run(rgb, upright)
    better = retried_presence > presence[retry]
    rois, landmarks, presence = rois.copy(), landmarks.copy(), presence.copy()
    rois[retry[better]] = upright[better]
    landmarks[retry[better]] = retried[better]
    presence[retry[better]] = retried_presence[better]
    return rois, landmarks, presence


def _overlap_of_smaller(roi: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Intersection of one ROI with each of (M, 5) ROIs over the smaller one's area (rotation ignored)."""
    return roi_intersection(roi, rois) / np.minimum(roi[2] * roi[3], rois[:, 2] * rois[:, 3])


def accept_far_faces(
    landmark_model: LandmarkModel | LandmarkModelV2,
    rgb: np.ndarray,
    rois: np.ndarray,
    ids: np.ndarray,
    landmarks: np.ndarray,
    presence: np.ndarray,
    threshold: float,
    max_faces: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The landmark check of far mode: upright retry, presence threshold, second look, one mesh per face.

    Far mode checks more detections than max_faces (a low-scoring real face must not lose its place to a
    false detection that the landmark model rejects), so the accepted ones are capped: tracked faces first,
    then new ones by presence. Detections of one face from two passes that weighted NMS did not merge give
    two meshes on it, sometimes one of twice the size around it; the later one is dropped (their mesh ROIs
    share more than ASSOCIATION_IOU of the smaller one).
    Second look: tiles show the landmark model many more face-sized patches than one letterboxed frame, and
    some face-like ones (a headlight between mirrors, a logo) pass once; a new face is kept only if the
    model, run again on the ROI its own landmarks give (next frame's tracking ROI), is near-certain
    (presence > CONFIRM_PRESENCE). Real faces almost always are; the face-like patches mostly are not.
    Returns rois, landmarks, presence, the accepted mask and the mask of new candidates that failed the check.
    """
    rois, landmarks, presence = retry_upright(landmark_model, rgb, rois, ids < 0, landmarks, presence, threshold)
    mesh_rois = rois_from_landmarks(landmarks, rgb.shape[1], rgb.shape[0])
    passed = presence > threshold
    new = np.nonzero(passed & (ids < 0))[0]
    if new.size:
        _, second_look = landmark_model.run(rgb, mesh_rois[new])
        passed[new] = second_look > CONFIRM_PRESENCE
    order = np.lexsort((-presence, ids < 0))  # tracked (ids >= 0) first, then by presence
    kept: list[int] = []
    for index in order[passed[order]]:
        if len(kept) == max_faces:
            break
        if not kept or _overlap_of_smaller(mesh_rois[index], mesh_rois[kept]).max() <= ASSOCIATION_IOU:
            kept.append(int(index))
    accepted = np.zeros(len(presence), bool)
    accepted[kept] = True
    return rois, landmarks, presence, accepted, (ids < 0) & ~passed


def _thumbnail(rgb: np.ndarray, roi: np.ndarray) -> np.ndarray | None:
    """The ROI's axis-aligned box area-averaged to THUMBNAIL_SIDE squared (float32), None if it leaves the image."""
    height, width = rgb.shape[:2]
    cx, cy, w, h = roi[0] * width, roi[1] * height, roi[2] * width, roi[3] * height
    x0, y0, x1, y1 = int(cx - w / 2), int(cy - h / 2), int(np.ceil(cx + w / 2)), int(np.ceil(cy + h / 2))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    size = (THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    return cv2.resize(rgb[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA).astype(np.float32)


class RejectedPatches:
    """New candidates the landmark check rejected, with their patch, so an unchanged one is not checked again.

    Video only: a candidate that overlaps a remembered one (ROI IoU > ASSOCIATION_IOU) is skipped while its
    patch differs from the remembered patch by less than UNCHANGED_PATCH_LEVEL; anything that moves or
    changes there (a person stepping in) is checked as usual. Entries expire after REJECTED_PATCH_FRAMES.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._rois = np.zeros((0, 5), np.float32)
        self._patches: list[np.ndarray] = []
        self._seen: list[int] = []  # the frame each patch was rejected on
        self._frame = 0

    def __len__(self) -> int:
        return len(self._patches)

    def unchanged(self, rgb: np.ndarray, rois: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Per ROI: True for a new candidate (id < 0) on a remembered rejected patch that has not changed."""
        self._frame += 1
        self._expire()
        known = np.zeros(len(rois), bool)
        if not self._patches:
            return known
        for index in np.nonzero(ids < 0)[0]:
            overlap = roi_iou(rois[index], self._rois)
            best = int(overlap.argmax())
            if overlap[best] <= ASSOCIATION_IOU:
                continue
            patch = _thumbnail(rgb, rois[index])
            if patch is not None and np.abs(patch - self._patches[best]).mean() < UNCHANGED_PATCH_LEVEL:
                known[index] = True
        return known

    def remember(self, rgb: np.ndarray, rois: np.ndarray) -> None:
        """Remember the patches of these rejected new candidates (the oldest go beyond MAX_REJECTED_PATCHES)."""
        for roi in rois:
            patch = _thumbnail(rgb, roi)
            if patch is None:
                continue
            self._rois = np.vstack([self._rois, roi[None].astype(np.float32)])[-MAX_REJECTED_PATCHES:]
            self._patches = [*self._patches, patch][-MAX_REJECTED_PATCHES:]
            self._seen = [*self._seen, self._frame][-MAX_REJECTED_PATCHES:]

    def _expire(self) -> None:
        fresh = [i for i, seen in enumerate(self._seen) if self._frame - seen < REJECTED_PATCH_FRAMES]
        if len(fresh) < len(self._seen):
            self._rois = self._rois[fresh]
            self._patches = [self._patches[i] for i in fresh]
            self._seen = [self._seen[i] for i in fresh]
