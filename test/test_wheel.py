"""The pip distribution (setup.py): a wheel built from the sources, installed into a new venv without ROS.

The venv gets the wheel and the same numpy / OpenCV / onnxruntime versions as the interpreter running the
test (so on the Jazzy-stack leg: numpy 1.26, OpenCV 4.6), from pip's cache or the registry. In it, the
README's MediaPipe-style example runs unchanged on a real photo, and FaceMesh's landmarks match MediaPipe's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from face_mesh_reference import MEAN_LIMIT, iod_errors, load_fixture, match_faces

REPO = Path(__file__).resolve().parent.parent
WHEEL_SOURCES = ("setup.py", "pyproject.toml", "package.xml", "README.md", "facemesh_ros", "models")
PHOTO = "astronaut.png"

PARITY = """
import json, sys, time
started = time.perf_counter()
from facemesh_ros import FaceMesh
import cv2, facemesh_ros
image = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)
with FaceMesh(static_image_mode=True, max_num_faces=10, refine_landmarks=True, device="cpu") as mesh:
    result = mesh.process(image)
print(json.dumps({"file": facemesh_ros.__file__, "landmarks": result.landmarks.tolist(),
                  "size": [image.shape[1], image.shape[0]], "ros": "rclpy" in sys.modules}))
"""


@pytest.fixture(scope="module")
def wheel_venv() -> tuple[Path, Path]:
    """(wheel, the venv's python), built from a copy of only the files setup.py needs.

    Kept in .cache/ under a hash of those files and of the dependency versions: a rerun with nothing changed
    reuses them (the venv was new for exactly this wheel); any change builds both anew.
    """
    constraints = "".join(
        f"{name}=={version(name)}\n" for name in ("numpy", "opencv-python-headless", "onnxruntime", "transforms3d")
    )
    key = _sources_hash(constraints + sys.version)
    root = REPO / ".cache" / f"wheel-test-py{sys.version_info.major}.{sys.version_info.minor}"
    python = root / "venv" / "bin" / "python"
    if (root / "key").is_file() and (root / "key").read_text() == key:
        return next((root / "dist").glob("facemesh_ros-*.whl")), python
    shutil.rmtree(root, ignore_errors=True)
    source = root / "source"
    source.mkdir(parents=True)
    for name in WHEEL_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    pip = ["-m", "pip", "--disable-pip-version-check", "-q"]
    _run([sys.executable, *pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)])
    (wheel,) = (root / "dist").glob("facemesh_ros-*.whl")
    _run([sys.executable, "-m", "venv", str(root / "venv")])
    (root / "constraints.txt").write_text(constraints)
    _run([str(python), *pip, "install", "-c", str(root / "constraints.txt"), str(wheel)])
    (root / "key").write_text(key)
    return wheel, python


def _sources_hash(extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for name in WHEEL_SOURCES:
        paths = sorted(p for p in (REPO / name).rglob("*") if p.is_file()) if (REPO / name).is_dir() else [REPO / name]
        for path in paths:
            if "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_wheel_holds_the_library_and_models_but_no_ros_layer(wheel_venv: tuple[Path, Path]) -> None:
    wheel, _ = wheel_venv
    names = set(zipfile.ZipFile(wheel).namelist())
    models = {line.split()[1] for line in (REPO / "models" / "SHA256SUMS").read_text().splitlines()}
    assert {f"facemesh_ros/models/{name}" for name in models} <= names
    assert "facemesh_ros/face_mesh.py" in names and "facemesh_ros/effects/assets/glasses.obj" in names
    assert not any(name.startswith(("facemesh_ros/ros/", "facemesh_ros/tools/", "facemesh_ros/msg/")) for name in names)


def test_readme_example_runs_unchanged_in_the_fresh_venv(wheel_venv, test_data_dir: Path, tmp_path: Path) -> None:
    _, python = wheel_venv
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    (example,) = [block for block in blocks if "import facemesh_ros as mp_face_mesh" in block]
    (tmp_path / "example.py").write_text(example)
    out = _run([str(python), "example.py", str(test_data_dir / PHOTO), str(test_data_dir / "coffee.png")], cwd=tmp_path)
    assert out.count("nose tip:") == 1  # one face in the astronaut photo, none in the coffee cup
    assert (tmp_path / "annotated_image0.png").is_file() and not (tmp_path / "annotated_image1.png").exists()


def test_face_mesh_from_the_wheel_matches_mediapipe(wheel_venv, test_data_dir: Path, tmp_path: Path) -> None:
    _, python = wheel_venv
    out = json.loads(_run([str(python), "-c", PARITY, str(test_data_dir / PHOTO)], cwd=tmp_path))
    assert Path(out["file"]).is_relative_to(python.parent.parent), "facemesh_ros did not come from the wheel"
    assert out["ros"] is False
    reference = load_fixture("mediapipe_static.npz")[f"478/{PHOTO}"]
    ours = np.array(out["landmarks"], np.float32)
    assert ours.shape == reference.shape
    errors = iod_errors(match_faces(ours, reference), reference, tuple(out["size"]))
    assert errors.max() < MEAN_LIMIT, errors


def _run(command: list[str], cwd: Path | None = None) -> str:
    """Run outside the project's environment: no ROS paths, no checkout on sys.path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV")
    }
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command[:4]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
