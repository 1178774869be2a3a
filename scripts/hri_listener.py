#!/usr/bin/env python3
"""A ROS4HRI consumer in the way pyhri/libhri read faces: /humans/faces/tracked says which faces exist; for each
new id it subscribes to /humans/faces/<id>/{roi,landmarks,cropped,aligned}, and drops those subscriptions when
the id leaves the list. Prints one JSON object a line: {"event": "appeared"|"disappeared", "id": ...} and
{"event": "face", "id", "roi", "landmarks", "cropped", "aligned"} once a face has sent all four.

    python scripts/hri_listener.py        (Ctrl-C ends it)
"""

from __future__ import annotations

import json
import sys

import rclpy
from hri_msgs.msg import FacialLandmarks, IdsList, NormalizedRegionOfInterest2D
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image

FACE_TOPICS = {"roi": NormalizedRegionOfInterest2D, "landmarks": FacialLandmarks, "cropped": Image, "aligned": Image}


def summary(name: str, msg: object) -> object:
    """What the consumer learned from one per-face message."""
    if name == "roi":
        return [round(v, 4) for v in (msg.xmin, msg.ymin, msg.xmax, msg.ymax, msg.c)]
    if name == "landmarks":
        return {"count": len(msg.landmarks), "sellion": [round(msg.landmarks[27].x, 4), round(msg.landmarks[27].y, 4)]}
    return [msg.width, msg.height, msg.encoding]


class HriListener(Node):
    def __init__(self) -> None:
        super().__init__("hri_listener")
        self.faces: dict[str, dict] = {}  # id -> {"subscriptions": [...], "seen": {topic: summary}, "reported"}
        self.create_subscription(IdsList, "/humans/faces/tracked", self.on_tracked, 10)

    def emit(self, **event: object) -> None:
        print(json.dumps(event), flush=True)

    def on_tracked(self, msg: IdsList) -> None:
        for face_id in set(self.faces) - set(msg.ids):
            for subscription in self.faces.pop(face_id)["subscriptions"]:
                self.destroy_subscription(subscription)
            self.emit(event="disappeared", id=face_id)
        for face_id in msg.ids:
            if face_id not in self.faces:
                self.faces[face_id] = {
                    "seen": {},
                    "reported": False,
                    "subscriptions": [
                        self.create_subscription(
                            msg_type,
                            f"/humans/faces/{face_id}/{name}",
                            lambda m, f=face_id, n=name: self.on_face(f, n, m),
                            10,
                        )
                        for name, msg_type in FACE_TOPICS.items()
                    ],
                }
                self.emit(event="appeared", id=face_id)

    def on_face(self, face_id: str, name: str, msg: object) -> None:
        face = self.faces.get(face_id)
        if face is None:
            return
        face["seen"][name] = summary(name, msg)
        if not face["reported"] and len(face["seen"]) == len(FACE_TOPICS):
            face["reported"] = True
            self.emit(event="face", id=face_id, **face["seen"])


def main() -> None:
    rclpy.init()
    node = HriListener()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
