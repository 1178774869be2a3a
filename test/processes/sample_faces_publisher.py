"""A separate process that publishes sample FaceMeshArray and TFMessage messages over real DDS.

Used by test_messages.py: the messages cross a process boundary through Fast DDS, as between real nodes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sample_messages import sample_face_array, sample_tf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--best-effort", action="store_true")
    args = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node("sample_faces_publisher")
    reliability = ReliabilityPolicy.BEST_EFFORT if args.best_effort else ReliabilityPolicy.RELIABLE
    faces_pub = node.create_publisher(
        type(sample_face_array(0)), "faces", QoSProfile(depth=10, reliability=reliability)
    )
    tf_pub = node.create_publisher(TFMessage, "/tf", 100)
    counter = iter(range(1_000_000))

    def publish() -> None:
        seq = next(counter)
        faces_pub.publish(sample_face_array(seq))
        tf_pub.publish(sample_tf(seq))

    node.create_timer(0.05, publish)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
