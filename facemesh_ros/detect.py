"""BlazeFace face detection as MediaPipe runs it: letterbox, SSD anchors, box decode, weighted NMS.

Coordinates are normalized to the image ([0, 1] across width and height). Keypoints (6 per face): 0 right
eye, 1 left eye, 2 nose tip, 3 mouth centre, 4 right ear tragion, 5 left ear tragion (subject's sides).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from facemesh_ros.image import rect_maps
from facemesh_ros.inference import OnnxModel, scores_from_logits
from facemesh_ros.types import DETECTOR_NAMES, NUM_KEYPOINTS, Detections


@dataclass(frozen=True)
class DetectorSpec:
    """Model file and anchor layout of one BlazeFace variant."""

    model: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 = aspect ratio 1.0 plus the interpolated scale, 1 = aspect ratio only


DETECTORS: dict[str, DetectorSpec] = {
    "short": DetectorSpec("face_detection_short_range.onnx", 128, (8, 16, 16, 16), 2),
    "full": DetectorSpec("face_detection_full_range.onnx", 192, (4,), 1),
}
NMS_IOU_THRESHOLD = 0.3
assert (*DETECTORS, "far") == DETECTOR_NAMES, "facemesh_ros.types.DETECTOR_NAMES lists every detector"


# MediaPipe does all of this in float32; its rounding is kept (float32 arrays, the same operation order)
# because tracking feeds every tiny difference of the first ROI into all later frames.
_F32 = np.float32


def ssd_anchor_centers(input_size: int, strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """Anchor centres (A, 2) in tensor-normalized x, y; consecutive layers with equal stride share a grid.

    All anchors have unit size (fixed_anchor_size), so only the centres matter.
    """
    centers = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 1
        while layer + same < len(strides) and strides[layer + same] == stride:
            same += 1
        cells = int(np.ceil(input_size / stride))
        grid = (np.arange(cells, dtype=np.float32) + _F32(0.5)) / _F32(cells)
        yy, xx = np.meshgrid(grid, grid, indexing="ij")
        cell_centers = np.stack([xx.ravel(), yy.ravel()], axis=1)
        centers.append(np.repeat(cell_centers, same * anchors_per_layer, axis=0))
        layer += same
    return np.concatenate(centers).astype(np.float32)


def padded_side(width: int, height: int) -> float:
    """Side of the square whole-image ROI (keep aspect ratio: the image is centred, the rest padded)."""
    return float(max(width, height))


_SIGNED_SCALE = _F32(2.0 / 255.0)  # MediaPipe's convertTo: value = pixel * float(2/255) - 1


@functools.lru_cache(maxsize=8)
def letterbox_maps(width: int, height: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps of the whole-image letterbox: they depend only on the image size (cached)."""
    side = padded_side(width, height)
    coords, fractions = rect_maps(width * 0.5, height * 0.5, side, side, 0.0, size)
    coords.flags.writeable = fractions.flags.writeable = False  # shared by every caller
    return coords, fractions


def detection_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """(1, size, size, 3) float32 tensor in [-1, 1]: bilinear letterbox resample, padding = -1."""
    height, width = rgb.shape[:2]
    coords, fractions = letterbox_maps(width, height, size)
    warped = cv2.remap(rgb, coords, fractions, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    tensor = np.multiply(warped, _SIGNED_SCALE, dtype=np.float32)
    tensor -= _F32(1.0)
    return tensor[None]


def decode_boxes(
    regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, size: int, min_score: float
) -> Detections:
    """Decode one image's raw outputs (A, 16) and (A,) into tensor-normalized detections above min_score."""
    scores = scores_from_logits(logits)
    keep = np.nonzero(scores.astype(np.float32) >= _F32(min_score))[0]
    raw = regressors[keep].astype(np.float32) / _F32(size)
    centers = anchors[keep]
    center = raw[:, 0:2] + centers
    half = raw[:, 2:4] / _F32(2.0)
    low, high = center - half, center + half
    boxes = np.concatenate([low, high - low], axis=1)
    keypoints = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + centers[:, None, :]
    valid = np.all(boxes[:, 2:4] >= 0, axis=1)  # also drops NaN sizes
    return Detections(boxes[valid], keypoints[valid], scores[keep][valid].astype(np.float32))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xmin, ymin, width, height box against (M, 4) boxes (0 where they do not intersect)."""
    low = np.maximum(box[:2], boxes[:, :2])
    high = np.minimum(box[:2] + box[2:], boxes[:, :2] + boxes[:, 2:])
    extent = high - low
    inter = np.where(np.all(extent > 0, axis=1), extent[:, 0] * extent[:, 1], _F32(0.0))
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, _F32(1.0)), _F32(0.0))


def weighted_nms(detections: Detections, iou_threshold: float = NMS_IOU_THRESHOLD) -> Detections:
    """MediaPipe's WEIGHTED non-max suppression.

    The best remaining box and every other box overlapping it with IoU > threshold are merged into their
    score-weighted mean (box corners and keypoints); the merged face keeps the best score.
    """
    order = np.argsort(-detections.scores, kind="stable")
    boxes, keypoints, scores = detections.boxes[order], detections.keypoints[order], detections.scores[order]
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    out_boxes, out_keypoints, out_scores = [], [], []
    remaining = np.arange(len(scores))
    while remaining.size:
        iou = box_iou(boxes[remaining[0]], boxes[remaining])
        members = remaining[iou > _F32(iou_threshold)]
        weights = scores[members]
        # sequential float32 sums (cumsum) as MediaPipe's loop
        total = np.cumsum(weights)[-1]
        corner_sum = np.cumsum(corners[members] * weights[:, None], axis=0)[-1]
        keypoint_sum = np.cumsum(keypoints[members] * weights[:, None, None], axis=0)[-1]
        out_boxes.append(np.concatenate([corner_sum[:2] / total, (corner_sum[2:] - corner_sum[:2]) / total]))
        out_keypoints.append(keypoint_sum / total)
        out_scores.append(scores[remaining[0]])
        remaining = remaining[iou <= _F32(iou_threshold)]
    if not out_scores:
        return Detections.empty()
    return Detections(
        np.array(out_boxes, np.float32), np.array(out_keypoints, np.float32), np.array(out_scores, np.float32)
    )


def remove_letterbox(detections: Detections, width: int, height: int) -> Detections:
    """Tensor-normalized -> image-normalized coordinates (undo the keep-aspect-ratio padding).

    x_image = x_tensor * (side * (1 / W)) + (W / 2 - side / 2) * (1 / W) per corner (MediaPipe's projection
    matrix, same float32 rounding), then the box is re-formed from the projected corners.
    """
    side = _F32(padded_side(width, height))
    inv_w, inv_h = _F32(1.0) / _F32(width), _F32(1.0) / _F32(height)
    scale = np.array([side * inv_w, side * inv_h], np.float32)
    offset = np.array(
        [(_F32(-0.5) * side + _F32(width * 0.5)) * inv_w, (_F32(-0.5) * side + _F32(height * 0.5)) * inv_h], np.float32
    )
    low = detections.boxes[:, :2] * scale + offset
    high = (detections.boxes[:, :2] + detections.boxes[:, 2:]) * scale + offset
    boxes = np.concatenate([low, high - low], axis=1).astype(np.float32)
    keypoints = (detections.keypoints * scale + offset).astype(np.float32)
    return Detections(boxes, keypoints, detections.scores)


class FaceDetector:
    """BlazeFace short-range (selfie distance, 128 px input) or full-range (up to ~5 m, 192 px input)."""

    def __init__(
        self, detector: str = "short", min_score: float = 0.5, device: str = "auto", threads: int | None = None
    ) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {sorted(DETECTORS)}, got {detector!r}")
        self.spec = DETECTORS[detector]
        self.min_score = float(min_score)
        self.model = OnnxModel(self.spec.model, device=device, threads=threads)
        spec = self.spec
        self.anchors = ssd_anchor_centers(spec.input_size, spec.strides, spec.anchors_per_layer)

    def detect(self, rgb: np.ndarray) -> Detections:
        """Faces in a uint8 RGB image, best score first, in image-normalized coordinates."""
        outputs = self.model.run(detection_input(rgb, self.spec.input_size))
        return self.decode(outputs, rgb.shape[1], rgb.shape[0])

    def decode(self, outputs: dict[str, np.ndarray], width: int, height: int) -> Detections:
        """The model's raw outputs for one width x height image -> merged, image-normalized detections."""
        raw = decode_boxes(
            outputs["regressors"][0],
            outputs["classificators"][0, :, 0],
            self.anchors,
            self.spec.input_size,
            self.min_score,
        )
        return remove_letterbox(weighted_nms(raw), width, height)
