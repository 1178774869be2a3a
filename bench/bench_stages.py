#!/usr/bin/env python3
"""Where a FaceMesh.process() call spends its time: the pipeline's stages, one after the other, per row.

    PYTHONPATH=. .venv/bin/python bench/bench_stages.py [--frames 120] [--cases NAME ...] [--refine]

The rows are bench_face_mesh.py's (the table of issue 17). For each row the pipeline is replayed stage by
stage from the library's own pieces, sequentially, on the row's frames (the tracking state evolves as in
process()): colour conversion, letterbox, detector inference, decode + weighted NMS, ROIs (detection ROIs,
association), crops, landmark inference, landmark decode + projection, tracking update, result objects (the
per-landmark Python objects built when multi_face_landmarks is read). Printed: the median ms per frame of
each stage (counting frames where it did not run as 0), the pure inference time (detector + landmark model),
the sum of the stages, and process() itself timed on the same frames (which overlaps the detector with the
landmark model on a second core when a face is tracked). Ours only; no reference. The machine load is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from bench_face_mesh import CASES, case_frames  # noqa: E402

from facemesh_ros.detect import detection_input  # noqa: E402
from facemesh_ros.face_mesh import FaceMesh, _usable_rois  # noqa: E402
from facemesh_ros.image import as_rgb_uint8  # noqa: E402
from facemesh_ros.inference import scores_from_logits  # noqa: E402
from facemesh_ros.landmarks import INPUT_SIZE, crop_rois, project_to_image, refine_with_attention  # noqa: E402
from facemesh_ros.roi import rois_from_detections  # noqa: E402
from facemesh_ros.types import NUM_MESH_LANDMARKS, Detections, NormalizedLandmarkList  # noqa: E402

STAGES = (
    "colour",
    "letterbox",
    "detector inference",
    "decode + NMS",
    "ROIs + association",
    "crops",
    "landmark inference",
    "landmark decode",
    "tracking update",
    "result objects",
)


class StageClock:
    """Accumulates per-frame time of each stage."""

    def __init__(self) -> None:
        self.frame: dict[str, float] = {}
        self.frames: list[dict[str, float]] = []
        self._start = 0.0

    def start(self) -> None:
        self._start = time.perf_counter()

    def stop(self, stage: str) -> None:
        now = time.perf_counter()
        self.frame[stage] = self.frame.get(stage, 0.0) + (now - self._start) * 1e3
        self._start = now

    def next_frame(self) -> None:
        self.frames.append(self.frame)
        self.frame = {}

    def median(self, stage: str) -> float:
        return float(np.median([frame.get(stage, 0.0) for frame in self.frames]))


def replay(mesh: FaceMesh, image: np.ndarray, clock: StageClock) -> None:
    """One process() call, stage by stage, sequential (no overlap), with the same state changes."""
    detector, landmark_model, tracker = mesh._detector, mesh._landmarks, mesh._tracker
    assert detector is not None and landmark_model is not None
    clock.start()
    rgb = as_rgb_uint8(image)
    height, width = rgb.shape[:2]
    clock.stop("colour")
    detections = Detections.empty()
    if mesh._detection_due():
        tensor = detection_input(rgb, detector.spec.input_size)
        clock.stop("letterbox")
        outputs = detector.model.run(tensor)
        clock.stop("detector inference")
        detections = detector.decode(outputs, width, height).top(mesh.max_num_faces)
        clock.stop("decode + NMS")
    rois, ids = tracker.merge(rois_from_detections(detections, width, height))
    usable = _usable_rois(rois, width, height)
    rois, ids = rois[usable], ids[usable]
    clock.stop("ROIs + association")
    if len(rois):
        crops = crop_rois(rgb, rois)
        clock.stop("crops")
        outputs = landmark_model.model.run(crops)
        clock.stop("landmark inference")
        if landmark_model.refine:
            points = refine_with_attention(outputs)
        else:
            points = outputs["landmarks"].reshape(len(rois), NUM_MESH_LANDMARKS, 3) / np.float32(INPUT_SIZE)
        presence = scores_from_logits(outputs["face_flag"].reshape(-1)).astype(np.float32)
        landmarks = project_to_image(points, rois)
    else:
        landmarks, presence = np.zeros((0, landmark_model.num_landmarks, 3), np.float32), np.zeros(0, np.float32)
    accepted = presence > mesh.min_tracking_confidence
    landmarks = landmarks[accepted]
    clock.stop("landmark decode")
    tracker.update(landmarks, ids[accepted], width, height)
    clock.stop("tracking update")
    [NormalizedLandmarkList(face) for face in landmarks]
    clock.stop("result objects")
    clock.next_frame()


def time_process(mesh: FaceMesh, frames: list[np.ndarray]) -> float:
    """Median ms of process() with the landmarks read (multi_face_landmarks), as an application does."""
    times = []
    for frame in frames:
        start = time.perf_counter()
        _ = mesh.process(frame).multi_face_landmarks  # the per-landmark objects are built when read
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES), metavar="CASE")
    parser.add_argument("--refine", action="store_true")
    args = parser.parse_args()
    names = list(args.cases)
    clocks, process_ms, loads = {}, {}, {}
    for name in names:
        case = CASES[name]
        frames = case_frames(case, args.frames)
        options = {"static_image_mode": case["static"], "max_num_faces": case["faces"], "refine_landmarks": args.refine}
        load_before = os.getloadavg()[0]
        with FaceMesh(**options, device="cpu") as mesh:
            for frame in frames[:10]:
                replay(mesh, frame, StageClock())
            mesh.reset()
            clock = StageClock()
            for frame in frames:
                replay(mesh, frame, clock)
        with FaceMesh(**options, device="cpu") as mesh:
            time_process(mesh, frames[:10])
            mesh.reset()
            process_ms[name] = time_process(mesh, frames)
        clocks[name], loads[name] = clock, (load_before, os.getloadavg()[0])
    width = 12
    rows = "; ".join(f"[{i}] {n}" for i, n in enumerate(names))
    print(f"median ms per frame, {args.frames} frames per row; rows: {rows}")
    print(f"{'stage':<22}" + "".join(f"{f'[{i}]':>{width}}" for i in range(len(names))))
    for stage in STAGES:
        print(f"{stage:<22}" + "".join(f"{clocks[n].median(stage):>{width}.3f}" for n in names))
    inference = [clocks[n].median("detector inference") + clocks[n].median("landmark inference") for n in names]
    total = [float(np.median([sum(f.values()) for f in clocks[n].frames])) for n in names]
    print(f"{'pure inference':<22}" + "".join(f"{v:>{width}.3f}" for v in inference))
    print(f"{'sum of stages':<22}" + "".join(f"{v:>{width}.3f}" for v in total))
    print(f"{'process() (overlap)':<22}" + "".join(f"{process_ms[n]:>{width}.3f}" for n in names))
    print(f"{'load 1-min':<22}" + "".join(f"{f'{loads[n][0]:.1f}-{loads[n][1]:.1f}':>{width}}" for n in names))


if __name__ == "__main__":
    main()
