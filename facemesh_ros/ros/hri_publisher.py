"""ROS4HRI (REP-155) face topics, as hri_face_detect publishes them, and their lifetimes.

Every frame: /humans/faces/tracked (hri_msgs/IdsList, the image's header; empty when no face is seen). Per
face, created when the face appears and destroyed when it is lost (so `ros2 topic list` and pyhri's
per-face subscriptions follow the faces): /humans/faces/<id>/roi (NormalizedRegionOfInterest2D),
/cropped and /aligned (sensor_msgs/Image, 128 x 128 bgr8), /landmarks (FacialLandmarks), and with blendshapes
(model v2, output_blendshapes) /facs (FacialActionUnits, approximated from the blendshapes). Face ids and the
landmark mapping: facemesh_ros.interaction.hri; the action units: facemesh_ros.interaction.facs. No /expression:
a categorical emotion from facial movements would be a guess (README, ROS4HRI).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hri_msgs.msg import (
    FacialActionUnits,
    FacialLandmarks,
    IdsList,
    NormalizedPointOfInterest2D,
    NormalizedRegionOfInterest2D,
)
from rclpy.node import Node
from rclpy.publisher import Publisher
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from facemesh_ros.interaction.facs import facial_action_units
from facemesh_ros.interaction.hri import aligned_face, cropped_face, facial_landmarks, normalized_roi
from facemesh_ros.ros.image_codec import image_from_pixels

TRACKED_TOPIC = "/humans/faces/tracked"
FACE_TOPIC_ROOT = "/humans/faces"
FACE_SUBTOPICS = {"roi": NormalizedRegionOfInterest2D, "cropped": Image, "aligned": Image, "landmarks": FacialLandmarks}
FACS_SUBTOPIC = "facs"
QOS_DEPTH = 1  # the newest value is what counts, as for the node's other outputs


def ids_list(header: Header, face_ids: Sequence[str]) -> IdsList:
    """/humans/faces/tracked: the ids of the faces in the image of `header`."""
    return IdsList(header=header, ids=list(face_ids))


def roi_msg(header: Header, landmarks: np.ndarray, confidence: float) -> NormalizedRegionOfInterest2D:
    """A face's /roi: the normalized box of its landmarks, with its presence score as the confidence."""
    xmin, ymin, xmax, ymax = normalized_roi(landmarks)
    return NormalizedRegionOfInterest2D(header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=confidence)


def landmarks_msg(header: Header, landmarks: np.ndarray, width: int, height: int) -> FacialLandmarks:
    """A face's /landmarks: the 70 points of hri_msgs/FacialLandmarks (facemesh_ros.interaction.hri)."""
    points = facial_landmarks(landmarks)
    msg = FacialLandmarks(header=header, width=width, height=height)
    msg.landmarks = [NormalizedPointOfInterest2D(x=x, y=y, c=1.0) for x, y in points.tolist()]
    return msg


def facs_msg(header: Header, blendshapes: np.ndarray, presence: float) -> FacialActionUnits:
    """A face's /facs: action units approximated from its 52 blendshape scores (facemesh_ros.interaction.facs)."""
    intensity, confidence = facial_action_units(blendshapes, presence)
    return FacialActionUnits(header=header, intensity=intensity.tolist(), confidence=confidence.tolist())


class HriFacePublisher:
    """Publishes one frame's faces on the ROS4HRI topics of `node`, creating and destroying per-face topics
    (/facs exists while the frames come with blendshapes: output_blendshapes can be switched live)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._tracked = node.create_publisher(IdsList, TRACKED_TOPIC, QOS_DEPTH)
        self._faces: dict[str, dict[str, Publisher]] = {}

    @property
    def face_ids(self) -> list[str]:
        return sorted(self._faces)

    def publish(
        self,
        header: Header,
        rgb: np.ndarray,
        face_ids: Sequence[str],
        landmarks: np.ndarray,
        scores: np.ndarray,
        blendshapes: np.ndarray | None = None,
    ) -> None:
        """One frame: `face_ids` (F,), `landmarks` (F, N, 3) normalized, `scores` (F,), `rgb` the image,
        `blendshapes` (F, 52) or None."""
        for gone in set(self._faces) - set(face_ids):
            self._remove(gone)
        height, width = rgb.shape[:2]
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        per_face = zip(face_ids, landmarks, scores, _per_face(blendshapes, len(face_ids)), strict=True)
        for face_id, points, score, face_blendshapes in per_face:
            topics = self._faces.get(face_id) or self._add(face_id)
            topics["roi"].publish(roi_msg(header, points, float(score)))
            topics["landmarks"].publish(landmarks_msg(header, points, width, height))
            topics["cropped"].publish(image_from_pixels(header, cropped_face(bgr, points), "bgr8"))
            topics["aligned"].publish(image_from_pixels(header, aligned_face(bgr, points), "bgr8"))
            self._publish_facs(face_id, header, face_blendshapes, float(score))
        self._tracked.publish(ids_list(header, face_ids))

    def clear(self, header: Header) -> None:
        """Every face is gone (tracking reset, node deactivated): remove their topics, announce no faces."""
        for face_id in list(self._faces):
            self._remove(face_id)
        self._tracked.publish(ids_list(header, []))

    def destroy(self) -> None:
        for face_id in list(self._faces):
            self._remove(face_id)
        self._node.destroy_publisher(self._tracked)

    def _add(self, face_id: str) -> dict[str, Publisher]:
        topics = {
            name: self._node.create_publisher(msg_type, f"{FACE_TOPIC_ROOT}/{face_id}/{name}", QOS_DEPTH)
            for name, msg_type in FACE_SUBTOPICS.items()
        }
        self._faces[face_id] = topics
        return topics

    def _publish_facs(self, face_id: str, header: Header, blendshapes: np.ndarray | None, presence: float) -> None:
        topics = self._faces[face_id]
        if blendshapes is None:
            if FACS_SUBTOPIC in topics:
                self._node.destroy_publisher(topics.pop(FACS_SUBTOPIC))
            return
        if FACS_SUBTOPIC not in topics:
            topic = f"{FACE_TOPIC_ROOT}/{face_id}/{FACS_SUBTOPIC}"
            topics[FACS_SUBTOPIC] = self._node.create_publisher(FacialActionUnits, topic, QOS_DEPTH)
        topics[FACS_SUBTOPIC].publish(facs_msg(header, blendshapes, presence))

    def _remove(self, face_id: str) -> None:
        for publisher in self._faces.pop(face_id).values():
            self._node.destroy_publisher(publisher)


def _per_face(blendshapes: np.ndarray | None, count: int) -> Sequence[np.ndarray | None]:
    return [None] * count if blendshapes is None else list(blendshapes)
