"""Start the face_mesh node: `ros2 launch facemesh_ros face_mesh.launch.py image:=/camera/image_raw`.

`ros2 launch facemesh_ros face_mesh.launch.py --show-args` lists the arguments. Every argument is checked
before any node starts, so a bad value (or a missing rviz2 or effect file) ends the launch with a message
naming the argument, and never leaves a half-started graph behind.
"""

import os

from ament_index_python.packages import PackageNotFoundError, get_package_prefix, get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

EFFECTS = ("none", "glasses", "face_paint", "object")
BOOLEANS = ("true", "false")
# effect -> the launch arguments (same names as the face_effect node's parameters) it needs, and those it uses
EFFECT_FILES = {
    "glasses": ((), ()),
    "face_paint": ((), ("paint_texture",)),
    "object": (("object_mesh", "object_texture"), ()),
}


def generate_launch_description() -> LaunchDescription:
    """face_mesh_node with the package's parameters, optionally face_effect_node and RViz."""
    share = get_package_share_directory("facemesh_ros")
    arguments = [
        DeclareLaunchArgument(
            "image",
            default_value="/camera/image_raw",
            description="Image topic (with image_transport:=compressed, '<image>/compressed')",
        ),
        DeclareLaunchArgument(
            "camera_info", default_value="/camera/camera_info", description="CameraInfo topic of the same camera"
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=os.path.join(share, "config", "face_mesh.yaml"),
            description="YAML parameters file (sections '/**' and '/**/face_mesh')",
        ),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the nodes"),
        DeclareLaunchArgument(
            "image_transport",
            default_value="raw",
            choices=["raw", "compressed"],
            description="Subscribe sensor_msgs/Image (raw) or CompressedImage (compressed)",
        ),
        DeclareLaunchArgument(
            "frame_prefix",
            default_value="",
            description="Prefix of the face TF frames: <prefix>face_<id>, <prefix>gaze_<id>",
        ),
        DeclareLaunchArgument(
            "use_sim_time",
            default_value="false",
            choices=list(BOOLEANS),
            description="Use /clock (a bag or simulator) as the nodes' clock",
        ),
        DeclareLaunchArgument(
            "ros4hri",
            default_value="false",
            choices=list(BOOLEANS),
            description="ROS4HRI mode: REP-155 /humans/faces/... topics",
        ),
        DeclareLaunchArgument(
            "effect",
            default_value="none",
            choices=list(EFFECTS),
            description="Also start the face_effect node with this effect (publishes ~/image)",
        ),
        DeclareLaunchArgument(
            "paint_texture",
            default_value="",
            description="effect:=face_paint: PNG in the canonical face UV space (empty: built-in)",
        ),
        DeclareLaunchArgument("object_mesh", default_value="", description="effect:=object: the OBJ file"),
        DeclareLaunchArgument("object_texture", default_value="", description="effect:=object: its PNG texture"),
        DeclareLaunchArgument(
            "rviz",
            default_value="false",
            choices=list(BOOLEANS),
            description="Also start RViz (rviz2) showing TF, markers and the annotated image",
        ),
        DeclareLaunchArgument(
            "camera_frame",
            default_value="camera_optical_frame",
            description="RViz fixed frame: the camera's frame_id (the images' header)",
        ),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_nodes, args=[share])])


def _nodes(context: LaunchContext, share: str) -> list[Node]:
    """The nodes for the given arguments, after checking all of them (an exception here starts nothing)."""
    arg = {name: LaunchConfiguration(name).perform(context) for name in context.launch_configurations}
    _check_file("params_file", arg["params_file"])
    namespace = arg["namespace"].strip("/")
    image = arg["image"]
    # both nodes read the same camera, in the same namespace (face_effect reads face_mesh/faces there)
    same_camera = {
        "namespace": namespace,
        "remappings": [
            ("image", image),
            ("image/compressed", image + "/compressed"),
            ("camera_info", arg["camera_info"]),
        ],
        "output": "screen",
    }
    common = {"image_transport": arg["image_transport"], "use_sim_time": arg["use_sim_time"] == "true"}
    nodes = [
        Node(
            package="facemesh_ros",
            executable="face_mesh_node",
            name="face_mesh",
            parameters=[
                arg["params_file"],
                {**common, "frame_prefix": arg["frame_prefix"], "ros4hri": arg["ros4hri"] == "true"},
            ],
            **same_camera,
        )
    ]
    if arg["effect"] != "none":
        nodes.append(
            Node(
                package="facemesh_ros",
                executable="face_effect_node",
                name="face_effect",
                parameters=[
                    arg["params_file"],  # its /** section: the camera model face_mesh uses
                    {**common, "effect": arg["effect"], **_effect_files(arg)},
                ],
                **same_camera,
            )
        )
    if arg["rviz"] == "true":
        nodes.append(_rviz(share, namespace, arg["camera_frame"], arg["use_sim_time"] == "true"))
    return nodes


def _effect_files(arg: dict[str, str]) -> dict[str, str]:
    required, optional = EFFECT_FILES[arg["effect"]]
    for name in required:
        if not arg[name]:
            raise RuntimeError(
                f"effect:={arg['effect']} needs the launch argument {name}:=<file> (required: {', '.join(required)})"
            )
    files = {name: arg[name] for name in (*required, *optional) if arg[name]}
    for name, path in files.items():
        _check_file(name, path)
    return files


def _rviz(share: str, namespace: str, camera_frame: str, use_sim_time: bool) -> Node:
    try:
        get_package_prefix("rviz2")
    except PackageNotFoundError:
        raise RuntimeError(
            "rviz:=true but the package rviz2 is not installed (sudo apt install "
            "ros-jazzy-rviz2), or start without it: rviz:=false"
        ) from None
    # The config names the topics of /face_mesh; remap them to the node's namespace.
    prefix = f"/{namespace}" if namespace else ""
    topics = ("/face_mesh/markers", "/face_mesh/annotated")
    return Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", os.path.join(share, "rviz", "face_mesh.rviz"), "--fixed-frame", camera_frame],
        remappings=[(topic, prefix + topic) for topic in topics if prefix],
        parameters=[{"use_sim_time": use_sim_time}],
        output="screen",
    )


def _check_file(argument: str, path: str) -> None:
    if not os.path.isfile(path):
        raise RuntimeError(f"launch argument {argument}:={path}: no such file")
