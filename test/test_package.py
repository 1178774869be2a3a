"""The package's foundation: imports, the core/ROS split, package metadata and the test data."""

from __future__ import annotations

import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

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
        "skip = {'facemesh_ros.msg', 'facemesh_ros.ros', 'facemesh_ros.tools'}\n"
        "for m in pkgutil.walk_packages(facemesh_ros.__path__, 'facemesh_ros.'):\n"
        "    private = m.name.rsplit('.', 1)[1].startswith('_')\n"
        "    if not private and not any(m.name == s or m.name.startswith(s + '.') for s in skip):\n"
        "        __import__(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'rclpy' or n.split('.')[0].endswith('_msgs'))\n"
        "print(','.join(bad))\n"
    )
    assert run_fresh_python(code) == "", "the core imports ROS modules"


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` statement of the file names (relative ones skipped)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def is_ros(module: str) -> bool:
    top = module.split(".")[0]
    return (
        top in {"rclpy", "ament_index_python", "rosidl_runtime_py"}
        or top.endswith("_msgs")
        or module == "facemesh_ros.msg"
    )


def test_no_core_source_imports_ros() -> None:
    """Statically, so a ROS import on a path the import test does not run is found too."""
    package = REPO_ROOT / "facemesh_ros"
    core = [p for p in package.rglob("*.py") if not {"ros", "tools"} & set(p.relative_to(package).parts)]
    assert len(core) > 20
    offenders = {str(p.relative_to(REPO_ROOT)): sorted(filter(is_ros, imported_modules(p))) for p in core}
    assert {name: mods for name, mods in offenders.items() if mods} == {}
    # the check sees ROS imports where they are
    assert "rclpy.lifecycle" in imported_modules(REPO_ROOT / "facemesh_ros" / "ros" / "node.py")
    assert any(map(is_ros, imported_modules(REPO_ROOT / "facemesh_ros" / "ros" / "messages.py")))


# The README's architecture table, top to bottom: a module may import only from its own row and those above.
LAYERS = (
    ("types", "model_paths"),
    ("geometry",),
    ("roi", "track", "connections"),
    ("image", "inference"),
    ("blendshapes",),
    ("detect", "landmarks", "landmarks_v2", "far", "face_mesh"),
    ("tasks",),
    ("interaction",),
    ("drawing",),
    ("effects",),
    ("simulation",),
    ("ros",),
    ("tools",),
)


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "facemesh_ros" or len(parts) < 2:
        return None
    return next((index for index, names in enumerate(LAYERS) if parts[1] in names), None)


def test_modules_import_only_from_their_layer_and_the_ones_above() -> None:
    package = REPO_ROOT / "facemesh_ros"
    sources = {
        p: "facemesh_ros." + ".".join(p.relative_to(package).with_suffix("").parts) for p in package.rglob("*.py")
    }
    placed = {mod.removesuffix(".__init__") for mod in sources.values() if layer_of(mod) is not None}
    assert {m.split(".")[1] for m in placed} == {name for names in LAYERS for name in names}  # every room placed
    upward = [
        f"{module} -> {imported}"
        for path, module in sources.items()
        if (layer := layer_of(module)) is not None
        for imported in imported_modules(path)
        if (target := layer_of(imported)) is not None and target > layer
    ]
    assert upward == []
    assert layer_of("facemesh_ros.ros.node") > layer_of("facemesh_ros.face_mesh")  # the check orders the rows


# module -> what importing it must not load. The pure pipeline parts stay numpy-only; drawing, the ROS
# message/marker builders, the effect node (it never runs a model) and the player need no inference runtime;
# only the recorder needs mcap.
HEAVY = ("onnxruntime", "mcap", "cv2", "facemesh_ros.detect", "facemesh_ros.inference")
LIGHT_IMPORTS = {
    "facemesh_ros.types": HEAVY,
    "facemesh_ros.interaction.facs": HEAVY,
    "facemesh_ros.blendshapes": HEAVY,  # the names and landmark indices; the model loads on first use
    "facemesh_ros.tasks.smoothing": HEAVY,
    "facemesh_ros.model_paths": HEAVY,
    "facemesh_ros.roi": HEAVY,
    "facemesh_ros.track": HEAVY,
    "facemesh_ros.interaction.primary_face": HEAVY,
    "facemesh_ros.interaction.head_tracking": HEAVY,
    "facemesh_ros.interaction.hri": ("onnxruntime", "mcap", "facemesh_ros.inference"),
    "facemesh_ros.connections": ("onnxruntime", "mcap", "facemesh_ros.inference"),
    "facemesh_ros.drawing": ("onnxruntime", "mcap", "facemesh_ros.inference"),
    "facemesh_ros.drawing.annotate": ("onnxruntime", "mcap", "facemesh_ros.inference"),
    "facemesh_ros.geometry": ("onnxruntime", "mcap", "facemesh_ros.inference"),
    "facemesh_ros.ros.messages": ("onnxruntime", "mcap"),
    "facemesh_ros.ros.markers": ("onnxruntime", "mcap"),
    "facemesh_ros.ros.effect_node": ("onnxruntime", "mcap"),
    "facemesh_ros.tools.player": ("onnxruntime", "mcap"),
}


@pytest.mark.parametrize("module", sorted(LIGHT_IMPORTS))
def test_cheap_modules_do_not_load_heavy_ones(module: str) -> None:
    forbidden = LIGHT_IMPORTS[module]
    code = f"import sys, {module}\nprint(','.join(m for m in {forbidden!r} if m in sys.modules))\n"
    assert run_fresh_python(code) == "", f"importing {module} loaded these"


def test_package_xml_declares_the_runtime_dependencies() -> None:
    deps = {e.text for e in _package_xml().iter() if e.tag.endswith("depend")}
    for key in (
        "rclpy",
        "sensor_msgs",
        "geometry_msgs",
        "tf2_msgs",
        "visualization_msgs",
        "diagnostic_msgs",
        "hri_msgs",
        "std_srvs",
        "lifecycle_msgs",
        "trajectory_msgs",
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


def test_every_test_module_that_imports_ros_is_left_out_of_the_jazzy_stack_leg() -> None:
    """The Jazzy-stack leg has no ROS: a module importing rclpy or messages must be in ROS_TEST_MODULES."""
    import re

    from conftest import ROS_TEST_MODULES

    ros_import = re.compile(
        r"^\s*(import rclpy|from rclpy|from \w+_msgs|from facemesh_ros\.(ros|tools|msg)|"
        r"from (node_harness|sample_messages) import)",
        re.M,
    )
    needs_ros = {path.name for path in (REPO_ROOT / "test").glob("test_*.py") if ros_import.search(path.read_text())}
    assert needs_ros <= ROS_TEST_MODULES, sorted(needs_ros - ROS_TEST_MODULES)
