"""The package's foundation: imports, the core/ROS split, package metadata and the test data."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))
import fetch_test_data  # noqa: E402


def test_package_and_messages_import_from_one_install() -> None:
    import facemesh_ros
    import facemesh_ros.msg

    assert facemesh_ros.__version__ == _package_xml().findtext("version")
    assert {"FaceMesh", "FaceMeshArray"} <= set(dir(facemesh_ros.msg))


def test_tf2_msgs_matches_the_ros_definition() -> None:
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    message = TFMessage(transforms=[TransformStamped()])
    assert message.get_fields_and_field_types() == {"transforms": "sequence<geometry_msgs/TransformStamped>"}


def test_library_core_imports_no_ros() -> None:
    """The core must run in a plain Python without ROS: importing it must not pull rclpy or any *_msgs."""
    code = (
        "import pkgutil, sys, facemesh_ros\n"
        "skip = {'facemesh_ros.msg', 'facemesh_ros.ros'}\n"
        "for m in pkgutil.walk_packages(facemesh_ros.__path__, 'facemesh_ros.'):\n"
        "    private = m.name.rsplit('.', 1)[1].startswith('_')\n"
        "    if not private and not any(m.name == s or m.name.startswith(s + '.') for s in skip):\n"
        "        __import__(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'rclpy' or n.split('.')[0].endswith('_msgs'))\n"
        "print(','.join(bad))\n"
    )
    assert run_fresh_python(code) == "", "the core imports ROS modules"


def test_package_xml_declares_the_runtime_dependencies() -> None:
    deps = {e.text for e in _package_xml().iter() if e.tag.endswith("depend")}
    for key in (
        "rclpy",
        "sensor_msgs",
        "geometry_msgs",
        "tf2_msgs",
        "visualization_msgs",
        "diagnostic_msgs",
        "launch_ros",
        "python3-numpy",
        "python3-opencv",
        "python3-transforms3d",
        "rosidl_default_generators",
        "ament_cmake_python",
    ):
        assert key in deps, key


def test_package_xml_onnxruntime_key_follows_the_gpu_choice() -> None:
    from catkin_pkg.package import parse_package

    package = parse_package(REPO_ROOT / "package.xml")
    for environment, key in (
        ({}, "python3-onnxruntime-pip"),
        ({"FACEMESH_ROS_ONNXRUNTIME": "cpu"}, "python3-onnxruntime-pip"),
        ({"FACEMESH_ROS_ONNXRUNTIME": "gpu"}, "python3-onnxruntime-gpu-pip"),
    ):
        package.evaluate_conditions(environment)
        keys = {d.name for d in package.exec_depends if d.evaluated_condition}
        assert {k for k in keys if "onnxruntime" in k} == {key}, environment
        assert "mcap-ros2-support" in keys


def test_every_test_image_is_present_and_unchanged(test_data_dir: Path) -> None:
    for _requirement, (_args, members) in fetch_test_data.SOURCES.items():
        assert fetch_test_data.have_all(test_data_dir, members)
    image = cv2.imread(str(test_data_dir / "t1.jpg"))
    assert image is not None and image.ndim == 3 and image.dtype == np.uint8


def test_fetch_notices_a_changed_file(tmp_path: Path, test_data_dir: Path) -> None:
    members = fetch_test_data.SOURCES["scikit-image==0.26.0"][1]
    for member in members:
        name = Path(member).name
        (tmp_path / name).write_bytes((test_data_dir / name).read_bytes())
    assert fetch_test_data.have_all(tmp_path, members)
    (tmp_path / "coffee.png").write_bytes(b"not a png")
    assert not fetch_test_data.have_all(tmp_path, members)


def run_fresh_python(code: str) -> str:
    """Run `code` in a new interpreter (nothing imported yet) and return what it printed."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _package_xml() -> ET.Element:
    return ET.parse(REPO_ROOT / "package.xml").getroot()


def test_public_api_is_mediapipe_shaped_and_loads_lazily() -> None:
    code = (
        "import sys, facemesh_ros, facemesh_ros.msg\n"
        "assert 'onnxruntime' not in sys.modules and 'cv2' not in sys.modules, 'messages pulled the pipeline'\n"
        "from facemesh_ros import FaceMesh, FACEMESH_TESSELATION, DrawingSpec, draw_landmarks\n"
        "assert len(FACEMESH_TESSELATION) == 1365 and callable(draw_landmarks)\n"
        "print(FaceMesh.__module__)\n"
    )
    assert run_fresh_python(code) == "facemesh_ros.face_mesh"
