"""Effect renderer cost per frame at 1280x720: glasses and face paint with one and three faces, without and
with 4x MSAA (AA column), on the GL renderer the machine has (llvmpipe on CPU machines). Each frame = upload
of the camera image, occluder and effect passes, read-back; `render_landmarks` adds the geometry solve.
Target: >= 30 fps with one face.

    cd /work/main && PYTHONPATH=/work/main .venv/bin/python bench/bench_effects.py [--frames 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from facemesh_ros.effects import EffectRenderer, face_paint_effect, glasses_effect
from facemesh_ros.geometry import Camera, default_canonical_face_model, estimate_face_geometry

WIDTH, HEIGHT = 1280, 720
POSES = (
    ((20.0, -5.0, 3.0), (0.0, 0.0, -50.0)),  # (yaw, pitch, roll) degrees, position cm
    ((-30.0, 10.0, -8.0), (-18.0, 3.0, -65.0)),
    ((35.0, 0.0, 10.0), (20.0, -4.0, -60.0)),
)


def synthetic_landmarks(
    camera: Camera, angles: tuple[float, float, float], position: tuple[float, float, float]
) -> np.ndarray:
    rotation = Rotation.from_euler("yxz", angles, degrees=True).as_matrix()
    points = default_canonical_face_model().vertices @ rotation.T + position
    depth = -points[:, 2]
    u = camera.cx + camera.fx * points[:, 0] / depth
    v = camera.cy - camera.fy * points[:, 1] / depth
    z = (depth - depth.mean()) / depth.mean() * camera.fx / camera.width
    return np.column_stack([(u + 0.5) / camera.width, (v + 0.5) / camera.height, z])


def time_ms(run: Callable[[], object], frames: int) -> np.ndarray:
    for _ in range(5):  # warm-up: shader compilation, buffer allocation
        run()
    times = np.empty(frames)
    for i in range(frames):
        start = time.perf_counter()
        run()
        times[i] = (time.perf_counter() - start) * 1000.0
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    camera = Camera.from_fov(63.0, WIDTH, HEIGHT)
    frame = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    landmarks = [synthetic_landmarks(camera, angles, position) for angles, position in POSES]
    geometries = [estimate_face_geometry(lm, camera) for lm in landmarks]
    print(f"frame {WIDTH}x{HEIGHT}, {args.frames} frames per row; fps = 1000 / median")
    with EffectRenderer(glasses_effect()) as renderer:
        print(f"OpenGL renderer: {renderer.renderer_name}")
    print(f"{'effect':<12}{'AA':>4}{'faces':>6}{'call':>18}{'median ms':>11}{'p95 ms':>9}{'fps':>8}")
    for samples in (0, 4):
        with EffectRenderer(glasses_effect(), samples=samples) as renderer:
            for effect in (glasses_effect(), face_paint_effect()):
                renderer.set_effect(effect)
                for count in (1, 3):
                    cases = (
                        ("render", lambda n=count: renderer.render(frame, camera, geometries[:n])),
                        ("render_landmarks", lambda n=count: renderer.render_landmarks(frame, camera, landmarks[:n])),
                    )
                    for call, run in cases:
                        times = time_ms(run, args.frames)
                        median = float(np.median(times))
                        print(
                            f"{effect.name:<12}{samples:>4}{count:>6}{call:>18}{median:>11.2f}"
                            f"{np.percentile(times, 95):>9.2f}{1000.0 / median:>8.0f}"
                        )
            if samples == 0:
                times = time_ms(lambda: renderer.render(frame, camera, []), args.frames)
                print(
                    f"{'(no faces)':<12}{0:>4}{0:>6}{'render':>18}{np.median(times):>11.2f}"
                    f"{np.percentile(times, 95):>9.2f}{1000.0 / np.median(times):>8.0f}   frame copy, no GL"
                )


if __name__ == "__main__":
    main()
