"""The camera input of a node (face_mesh, face_effect): image and camera_info subscriptions and the Camera.

Reads the CAMERA_INPUT_PARAMETERS at construction (image_transport is a startup parameter; QoS: best effort,
changed by the subscriptions' qos_overrides parameters);
image_is_rectified and default_vertical_fov_deg are live, so the caller passes them per frame.
"""

from __future__ import annotations

from collections.abc import Callable

from rclpy.node import Node
from rclpy.subscription import Subscription
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from facemesh_ros.geometry import Camera
from facemesh_ros.ros.camera_model import CameraModel
from facemesh_ros.ros.parameters import QOS_OVERRIDES, camera_input_qos


class CameraInput:
    """`image` (sensor_msgs/Image) or `image/compressed` (CompressedImage) plus `camera_info`."""

    def __init__(self, node: Node, depth: int) -> None:
        self._node = node
        compressed = node.get_parameter("image_transport").value == "compressed"
        self.image_type: type = CompressedImage if compressed else Image
        self.image_topic = "image/compressed" if compressed else "image"
        self._depth = depth
        self._model = CameraModel(node.get_logger())
        self._subscriptions = [
            node.create_subscription(
                CameraInfo,
                "camera_info",
                self._model.update,
                camera_input_qos(depth),
                qos_overriding_options=QOS_OVERRIDES,
            )
        ]

    def subscribe_images(self, callback: Callable[..., None]) -> Subscription:
        """Subscribe `callback` to the images (the caller may destroy the subscription, or destroy()); a
        callback of two arguments gets the rmw message info (sequence numbers, timestamps) too, as rclpy does."""
        subscription = self._node.create_subscription(
            self.image_type,
            self.image_topic,
            callback,
            camera_input_qos(self._depth),
            qos_overriding_options=QOS_OVERRIDES,
        )
        self._subscriptions.append(subscription)
        return subscription

    def destroy(self) -> None:
        """Leave the camera topics: destroy the camera_info and image subscriptions."""
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions.clear()

    def camera(self, width: int, height: int, rectified: bool, default_fov_deg: float) -> Camera:
        """The camera of a width x height frame: the latest valid camera_info, else the default FOV camera."""
        return self._model.camera(width, height, rectified, default_fov_deg)
