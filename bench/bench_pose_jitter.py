#!/usr/bin/env python3
"""Frame-to-frame head-pose jitter in tracking mode on a still view of a real photo with sensor-like noise,
raw and with the One-Euro smoother. Run: source env.bash && python bench/bench_pose_jitter.py
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test"))
from test_geometry_real import noisy_still_frames, pose_jitter  # noqa: E402

from facemesh_ros.geometry import FaceGeometrySmoother  # noqa: E402


def main() -> None:
    print("astronaut.png, one still 640x480 virtual-camera view, 60 frames with Gaussian noise, 30 Hz stamps")
    print(f"{'noise sigma':>12}{'smoothing':>11}{'position RMS step (mm)':>25}{'rotation RMS step (deg)':>26}")
    for sigma in (1.0, 2.0, 4.0):
        frames, camera = noisy_still_frames(REPO / "test" / "data", 60, sigma)
        for smoother in (None, FaceGeometrySmoother()):
            position_mm, rotation_deg = pose_jitter(frames, camera, smoother)
            label = "off" if smoother is None else "One-Euro"
            print(f"{sigma:>12.1f}{label:>11}{position_mm:>25.2f}{rotation_deg:>26.3f}")


if __name__ == "__main__":
    main()
