"""The thin ROS 2 layer over the library core: image decoding, message building, markers, TF and the node.

Everything that imports rclpy or *_msgs lives here; facemesh_ros' other modules never do.
"""
