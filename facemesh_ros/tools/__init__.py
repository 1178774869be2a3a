"""ROS 2 tools around the nodes, for demos and recordings; the nodes never import them.

player         player_node: publishes Image + CameraInfo from the built-in sequence, a video, a folder
               or a camera
recorder       an MCAP recorder (`python -m facemesh_ros.tools.recorder`), since rosbag2 is not on PyPI
message_types  ROS message classes and full .msg definitions by type name (needs no mcap)
"""
