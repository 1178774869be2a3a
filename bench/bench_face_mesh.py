#!/usr/bin/env python3
"""Per-frame time of FaceMesh next to MediaPipe's own (legacy solution API, mediapipe==0.10.21, .venv-ref).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/bench_face_mesh.py [--frames 60] [--refine]
        [--threads N]

Rows: static mode on a 1920x1080 two-face photo (breakingbad.jpg), tracking mode with one face at 720p and
1080p (virtual camera over lenna.png). Both sides get the same frames; MediaPipe runs in a subprocess of the
reference venv, one case at a time, so they never compete for the 2 cores. Median and mean per frame are
printed with the ratio ours / MediaPipe (<= 1.0 means as fast or faster). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from facemesh_ros.simulation.virtual_camera import VirtualCamera  # noqa: E402

REFERENCE_PYTHON = REPO / ".venv-ref" / "bin" / "python"
CASES = {
    "static 1080p, 2 faces": {"photo": "breakingbad.jpg", "static": True, "max_num_faces": 2, "size": None},
    "tracking 720p, 1 face": {"photo": "lenna.png", "static": False, "max_num_faces": 1, "size": [1280, 720]},
    "tracking 1080p, 1 face": {"photo": "lenna.png", "static": False, "max_num_faces": 1, "size": [1920, 1080]},
}


def case_frames(case: dict, count: int) -> list[np.ndarray]:
    bgr = cv2.imread(str(REPO / "test" / "data" / case["photo"]), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit("test images missing: run .venv/bin/python scripts/fetch_test_data.py")
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    if case["size"] is None:
        return [rgb] * count
    camera = VirtualCamera(
        rgb, size=tuple(case["size"]), num_frames=count, pan=0.03, zoom_range=(1.0, 1.3), roll_deg=10.0
    )
    return [frame.image for frame in camera]


def time_frames(process, frames: list[np.ndarray], warmup: int = 5) -> tuple[list[float], list[int]]:
    for frame in frames[:warmup]:
        process(frame)
    times, faces = [], []
    for frame in frames:
        start = time.perf_counter()
        faces.append(process(frame))
        times.append((time.perf_counter() - start) * 1000.0)
    return times, faces


def run_ours(case: dict, frames: list[np.ndarray], threads: int | None, refine: bool) -> tuple[list[float], list[int]]:
    from facemesh_ros.face_mesh import FaceMesh

    with FaceMesh(
        static_image_mode=case["static"],
        max_num_faces=case["max_num_faces"],
        device="cpu",
        num_threads=threads,
        refine_landmarks=refine,
    ) as mesh:
        return time_frames(lambda frame: mesh.process(frame).num_faces, frames)


def run_mediapipe(case: dict, frames: list[np.ndarray], refine: bool) -> tuple[list[float], list[int]]:
    from mediapipe.python.solutions.face_mesh import FaceMesh

    with FaceMesh(
        static_image_mode=case["static"], max_num_faces=case["max_num_faces"], refine_landmarks=refine
    ) as mesh:
        return time_frames(lambda frame: len(mesh.process(frame).multi_face_landmarks or []), frames)


def reference_subprocess(name: str, count: int, refine: bool) -> tuple[list[float], list[int]]:
    if not REFERENCE_PYTHON.is_file():
        raise SystemExit(f"{REFERENCE_PYTHON} missing (the MediaPipe reference venv)")
    output = subprocess.run(
        [str(REFERENCE_PYTHON), __file__, "--mediapipe-case", name, "--frames", str(count)]
        + (["--refine"] if refine else []),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result["times"], result["faces"]


def summary(times: list[float]) -> tuple[float, float]:
    return float(np.median(times)), float(np.mean(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument(
        "--threads", type=int, default=None, help="landmark-model threads of ours (default: FaceMesh's, min(2, CPUs))"
    )
    parser.add_argument("--refine", action="store_true", help="refine_landmarks=True (478) on both sides")
    parser.add_argument("--mediapipe-case", help=argparse.SUPPRESS)  # internal: run in .venv-ref
    args = parser.parse_args()
    if args.mediapipe_case:
        case = CASES[args.mediapipe_case]
        times, faces = run_mediapipe(case, case_frames(case, args.frames), args.refine)
        print(json.dumps({"times": times, "faces": faces}))
        return
    print(f"{'case':<24} {'ours median/mean ms':>20} {'MediaPipe median/mean ms':>25} {'ratio':>6}  faces ours/MP")
    for name, case in CASES.items():
        ours_times, ours_faces = run_ours(case, case_frames(case, args.frames), args.threads, args.refine)
        mp_times, mp_faces = reference_subprocess(name, args.frames, args.refine)
        ours, ref = summary(ours_times), summary(mp_times)
        print(
            f"{name:<24} {ours[0]:>10.2f} / {ours[1]:<7.2f} {ref[0]:>14.2f} / {ref[1]:<8.2f} "
            f"{ours[0] / ref[0]:>6.2f}  {sum(ours_faces)}/{sum(mp_faces)}"
        )


if __name__ == "__main__":
    main()
