"""Start the face_mesh node: `ros2 launch facemesh_ros face_mesh.launch.py image:=/camera/image_raw`.

Arguments: image and camera_info topics, params_file, namespace, image_transport, ros4hri, rviz, and effect (none,
glasses, face_paint) to also start the face_effect node on the same camera.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description() -> LaunchDescription:
    """face_mesh_node with the package's parameters, optionally RViz and face_effect_node."""
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
            description="YAML parameters file",
        ),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node"),
        DeclareLaunchArgument("image_transport", default_value="raw", description="raw or compressed"),
        DeclareLaunchArgument(
            "ros4hri", default_value="false", description="ROS4HRI mode: REP-155 /humans/faces/... topics"
        ),
        DeclareLaunchArgument("rviz", default_value="false", description="Also start RViz with the config"),
        DeclareLaunchArgument(
            "effect",
            default_value="none",
            description="none, or glasses / face_paint: also start face_effect (~/image)",
        ),
    ]
    image = LaunchConfiguration("image")
    # both nodes read the same camera, in the same namespace (face_effect reads face_mesh/faces there)
    same_camera = {
        "namespace": LaunchConfiguration("namespace"),
        "remappings": [
            ("image", image),
            ("image/compressed", [image, "/compressed"]),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
        "output": "screen",
    }
    face_mesh = Node(
        package="facemesh_ros",
        executable="face_mesh_node",
        name="face_mesh",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "image_transport": LaunchConfiguration("image_transport"),
                "ros4hri": ParameterValue(LaunchConfiguration("ros4hri"), value_type=bool),
            },
        ],
        **same_camera,
    )
    effect = LaunchConfiguration("effect")
    face_effect = Node(
        package="facemesh_ros",
        executable="face_effect_node",
        name="face_effect",
        parameters=[
            LaunchConfiguration("params_file"),  # its /** section: the same camera model as face_mesh
            {"effect": effect, "image_transport": LaunchConfiguration("image_transport")},
        ],
        condition=IfCondition(PythonExpression(["'", effect, "' != 'none'"])),
        **same_camera,
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", os.path.join(share, "rviz", "face_mesh.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, face_mesh, face_effect, rviz])
