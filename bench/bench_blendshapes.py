"""Cost per face of the blendshape model and of the v2 landmark model, next to the legacy landmark models.

    PYTHONPATH=. .venv/bin/python bench/bench_blendshapes.py [--repeats 300]

1. Models alone, as the package runs them (OnnxModel, the package's threads: 2 for the landmark models, 1 for
   the blendshape model), on real inputs (the crops / points of lenna.png's face), batch 1 and 4, reported per
   face; the same .tflite files on TFLite + XNNPACK (1 thread) in .venv-ref for the ratio where it can run
   them (face_landmark_with_attention needs MediaPipe's custom ops: no TFLite figure).
2. Whole frames: FaceMesh legacy / legacy refine / v2 / v2 + blendshapes in static mode on lenna.png (detector
   included), median ms per frame.
Configurations are timed round-robin (bench_models.time_interleaved), so load from other processes spreads
over all of them; the machine is shared: compare within one run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
from bench_models import REF_PYTHON, TFLITE_DIR, run_tflite, time_interleaved

from facemesh_ros.blendshapes import blendshape_input
from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.inference import OnnxModel
from facemesh_ros.landmarks import crop_rois

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO / "test" / "data" / "lenna.png"
# onnx model -> (tflite file or None, crop size or None for the point input, onnxruntime threads)
MODELS = {
    "face_landmark": ("face_landmark.tflite", 192, None),
    "face_landmark_with_attention": (None, 192, None),
    "face_landmark_v2": ("face_landmarks_detector.tflite", 256, None),
    "face_blendshapes": ("face_blendshapes.tflite", None, 1),
}
PIPELINES = {
    "FaceMesh legacy (468)": {},
    "FaceMesh legacy refine_landmarks (478)": {"refine_landmarks": True},
    "FaceMesh model='v2' (478)": {"model": "v2"},
    "FaceMesh model='v2' + blendshapes": {"model": "v2", "output_blendshapes": True},
}


def face_inputs(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """One real input per model for lenna's face: the rotated crops, and the blendshape model's points."""
    with FaceMesh(static_image_mode=True, model="v2") as mesh:
        result = mesh.process(rgb)
    height, width = rgb.shape[:2]
    inputs = {name: crop_rois(rgb, result.rois, size) for name, (_, size, _) in MODELS.items() if size}
    inputs["face_blendshapes"] = blendshape_input(result.landmarks, width, height)
    return inputs


def model_rows(inputs: dict[str, np.ndarray], repeats: int, folder: Path) -> list[tuple[str, int, float, float]]:
    """(model, batch, onnxruntime ms per face, TFLite ms per face or nan)."""
    calls, jobs = {}, {}
    for name, (tflite_name, _, threads) in MODELS.items():
        model = OnnxModel(name, device="cpu", threads=threads)
        for batch in (1, 4):
            x = np.repeat(inputs[name], batch, axis=0)
            calls[(name, batch)] = lambda m=model, x=x: m.run(x)
            if tflite_name and (TFLITE_DIR / tflite_name).exists() and REF_PYTHON.exists() and batch == 1:
                np.save(folder / f"{name}.npy", x)
                jobs[f"{name}|1"] = (str(TFLITE_DIR / tflite_name), str(folder / f"{name}.npy"))
    onnx_ms = time_interleaved(calls, repeats)
    tflite_ms = run_tflite(jobs, repeats) if jobs else {}
    rows = []
    for (name, batch), ms in onnx_ms.items():
        reference = tflite_ms.get(f"{name}|1|1", float("nan")) if batch == 1 else float("nan")
        rows.append((name, batch, ms / batch, reference))
    return rows


def pipeline_rows(rgb: np.ndarray, repeats: int) -> dict[str, float]:
    meshes = {label: FaceMesh(static_image_mode=True, device="cpu", **options) for label, options in PIPELINES.items()}
    try:
        return time_interleaved({label: (lambda m=mesh: m.process(rgb)) for label, mesh in meshes.items()}, repeats)
    finally:
        for mesh in meshes.values():
            mesh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    rgb = np.ascontiguousarray(cv2.imread(str(IMAGE))[:, :, ::-1])
    with tempfile.TemporaryDirectory() as folder:
        rows = model_rows(face_inputs(rgb), args.repeats, Path(folder))
    legacy = next(ms for name, batch, ms, _ in rows if name == "face_landmark" and batch == 1)
    print(
        f"{'model':30s} {'N':>2s} {'ort ms/face':>12s} {'vs face_landmark':>17s} {'tflite ms':>10s} {'ort/tflite':>11s}"
    )
    for name, batch, ms, reference in rows:
        ratio = f"{ms / reference:10.2f}x" if np.isfinite(reference) else f"{'n/a':>11s}"
        tflite = f"{reference:10.3f}" if np.isfinite(reference) else f"{'n/a':>10s}"
        print(f"{name:30s} {batch:2d} {ms:12.3f} {ms / legacy:16.2f}x {tflite} {ratio}")
    print("(tflite: XNNPACK, 1 thread, batch 1, in .venv-ref; onnxruntime with the package's threads)")
    print()
    frames = pipeline_rows(rgb, max(args.repeats // 3, 30))
    base = frames["FaceMesh legacy (468)"]
    print(f"{'pipeline, static mode, lenna.png (1 face)':45s} {'ms/frame':>9s} {'vs legacy':>10s}")
    for label, ms in frames.items():
        print(f"{label:45s} {ms:9.3f} {ms / base:9.2f}x")


if __name__ == "__main__":
    main()
