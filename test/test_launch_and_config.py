"""The launch file's declarations, the parameters file and the RViz config, read as files.

test_launch.py runs the launch file for real; these tests pin down that it declares the documented
arguments, starts the installed executables with the YAML file, and that the YAML and RViz config agree with
the node's declared parameters and topics.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from facemesh_ros.ros.parameters import CAMERA_INPUT_PARAMETERS, PARAMETERS

REPO = Path(__file__).resolve().parent.parent
LAUNCH = REPO / "launch" / "face_mesh.launch.py"


def _launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def _calls(tree: ast.Module, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name
    ]


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_launch_file_declares_the_documented_arguments() -> None:
    tree = _launch_tree()
    declared = {call.args[0].value for call in _calls(tree, "DeclareLaunchArgument")}
    assert declared == {
        "image",
        "camera_info",
        "params_file",
        "namespace",
        "image_transport",
        "ros4hri",
        "rviz",
        "effect",
        "frame_prefix",
        "use_sim_time",
        "paint_texture",
        "object_mesh",
        "object_texture",
        "camera_frame",
    }
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)


def test_launch_file_starts_the_installed_executable_with_the_yaml() -> None:
    tree = _launch_tree()
    nodes = {_keyword(call, "executable").value: call for call in _calls(tree, "Node")}
    assert set(nodes) == {"face_mesh_node", "face_effect_node", "rviz2"}
    face_mesh = nodes["face_mesh_node"]
    assert _keyword(face_mesh, "package").value == "facemesh_ros"
    assert _keyword(face_mesh, "name").value == "face_mesh"
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert "nodes/face_mesh_node" in cmake and "nodes/face_effect_node" in cmake
    assert "launch" in cmake and "rviz" in cmake
    assert "face_mesh.yaml" in LAUNCH.read_text() and "face_mesh.rviz" in LAUNCH.read_text()


def test_yaml_sets_every_declared_parameter_with_its_default() -> None:
    config = yaml.safe_load((REPO / "config" / "face_mesh.yaml").read_text())
    shared = config["/**"]["ros__parameters"]
    assert set(shared) == {spec.name for spec in CAMERA_INPUT_PARAMETERS}  # face_effect reads them too
    values = {**shared, **config["/**/face_mesh"]["ros__parameters"]}
    assert set(values) == {spec.name for spec in PARAMETERS}
    for spec in PARAMETERS:
        assert values[spec.name] == spec.default and type(values[spec.name]) is type(spec.default), spec.name


def test_rviz_config_shows_the_node_topics() -> None:
    rviz = yaml.safe_load((REPO / "rviz" / "face_mesh.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"] if "Topic" in d}
    assert topics == {"/face_mesh/markers", "/face_mesh/annotated"}
    classes = {d["Class"] for d in rviz["Visualization Manager"]["Displays"]}
    assert {"rviz_default_plugins/TF", "rviz_default_plugins/MarkerArray", "rviz_default_plugins/Image"} <= classes
