"""A small MCAP recorder: `python -m facemesh_ros.ros.recorder --ros-args -p output:=run.mcap`.

rosbag2 (`ros2 bag record`) is not on PyPI, so the demo records with the `mcap` library instead, in the
layout rosbag2's MCAP storage writes: profile "ros2", one schema per type named like "sensor_msgs/msg/Image"
with encoding "ros2msg" whose text is the type's real .msg definition followed by every nested type's
(80 '=' then "MSG: pkg/msg/Type"), channels with message encoding "cdr", and the messages' CDR bytes exactly as
they came off DDS (raw subscriptions: nothing is deserialized or re-encoded). `ros2 bag play`, Foxglove and
mcap-ros2-support read such files.

Topics are subscribed when they appear in the ROS graph, with the QoS their publishers offer (best effort if
any publisher is best effort, so camera topics are heard), as rosbag2 does. Messages are written by a
separate thread, so a compressing writer never stalls the DDS callbacks.

Raw images hardly compress (a 640x480 rgb8 frame is 0.9 MB; 200 frames of input and annotated output make
0.3 GB). With `images:=jpeg` (the default) every sensor_msgs/Image topic is stored the way image_transport's
compressed plugin publishes it: sensor_msgs/CompressedImage on `<topic>/compressed`, same header, format
"<encoding>; jpeg compressed bgr8" (~20x smaller). `images:=raw` keeps them bit-exact.
"""

from __future__ import annotations

import importlib
import queue
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import rclpy
from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from mcap.writer import CompressionType, Writer
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

from facemesh_ros.ros.image_codec import ImageDecodeError, image_to_rgb
from facemesh_ros.ros.parameters import ParameterSpec, declare_parameters
from facemesh_ros.ros.spin import run_node

DEFAULT_TOPICS = ["/image", "/camera_info", "/face_mesh/faces", "/face_mesh/markers", "/face_mesh/annotated",
                  "/tf", "/diagnostics"]
DEFINITION_DELIMITER = "=" * 80
PRIMITIVE_TYPES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
                   "uint32", "int64", "uint64", "string", "wstring"}
COMPRESSIONS = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}
IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
JPEG_QUALITY = 90
DISCOVERY_PERIOD_S = 0.1
QUEUE_DEPTH = 100  # per topic: DDS keeps up to this many unread messages for the recorder


class DefinitionError(LookupError):
    """A message type whose .msg definition cannot be found."""


def message_class(type_name: str) -> type:
    """'sensor_msgs/msg/Image' -> the generated Python class."""
    package, kind, name = _split_type(type_name)
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def _split_type(type_name: str) -> tuple[str, str, str]:
    parts = type_name.split("/")
    if len(parts) == 2:
        return parts[0], "msg", parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise DefinitionError(f"not a ROS message type name: '{type_name}'")


def msg_file_text(type_name: str) -> str:
    """The installed .msg file of a type (share/<package>/msg/<Type>.msg)."""
    package, kind, name = _split_type(type_name)
    try:
        path = Path(get_package_share_directory(package)) / kind / f"{name}.msg"
    except PackageNotFoundError as error:
        raise DefinitionError(f"package '{package}' of {type_name} is not installed (AMENT_PREFIX_PATH)") from error
    if not path.is_file():
        raise DefinitionError(f"no message definition for {type_name} at {path}")
    return path.read_text()


def nested_types(text: str, package: str) -> list[str]:
    """The non-primitive field types of a .msg text, as 'pkg/msg/Type', in order of appearance."""
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        field_type = line.split()[0]  # fields and constants alike; constants are always primitive
        base = re.sub(r"\[.*\]$", "", field_type)  # arrays: T[], T[3], T[<=3]
        base = re.sub(r"<=\d+$", "", base)  # bounded strings: string<=10
        if base in PRIMITIVE_TYPES:
            continue
        if base.count("/") == 1:
            owner, name = base.split("/")
            found.append(f"{owner}/msg/{name}")
        elif "/" in base:
            found.append(base)
        else:
            found.append(f"{package}/msg/{base}")
    return found


def full_definition(type_name: str) -> str:
    """The complete ros2msg definition: the type's .msg text, then every nested type's, each once."""
    package = _split_type(type_name)[0]
    top = msg_file_text(type_name)
    parts = [top.rstrip("\n")]
    seen = {type_name}
    pending = nested_types(top, package)
    while pending:
        nested = pending.pop(0)
        if nested in seen:
            continue
        seen.add(nested)
        text = msg_file_text(nested)
        parts.append(f"{DEFINITION_DELIMITER}\nMSG: {nested}\n{text.rstrip(chr(10))}")
        pending += nested_types(text, _split_type(nested)[0])
    return "\n".join(parts) + "\n"


def publishers_qos(node: Node, topic: str, depth: int) -> QoSProfile | None:
    """A QoS that hears every current publisher of `topic` (None while there is none)."""
    infos = node.get_publishers_info_by_topic(topic)
    if not infos:
        return None
    reliable = all(info.qos_profile.reliability == ReliabilityPolicy.RELIABLE for info in infos)
    latched = all(info.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for info in infos)
    return QoSProfile(depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def jpeg_compressed(cdr: bytes) -> bytes:
    """A serialized sensor_msgs/Image -> a serialized CompressedImage (jpeg), as image_transport would send."""
    image = deserialize_message(cdr, Image)
    bgr = cv2.cvtColor(image_to_rgb(image), cv2.COLOR_RGB2BGR)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ImageDecodeError("jpeg", "OpenCV could not encode the image as jpeg")
    compressed = CompressedImage(header=image.header, format=f"{image.encoding}; jpeg compressed bgr8")
    compressed.data = jpeg.tobytes()
    return serialize_message(compressed)


class McapSink:
    """Thread-safe MCAP writer of CDR messages; one schema per type, one channel per recorded topic."""

    def __init__(self, path: Path, compression: str = "zstd", jpeg_images: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.jpeg_images = jpeg_images
        self._file = open(path, "wb")
        self._writer = Writer(self._file, compression=COMPRESSIONS[compression])
        self._writer.start(profile="ros2", library="facemesh_ros recorder (mcap python)")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, tuple[int, bool]] = {}  # topic -> (channel id, transcode to jpeg)
        self._sequence: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # by recorded channel topic
        self.errors = 0
        self._queue: queue.SimpleQueue[tuple[str, int, bytes] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="mcap_writer", daemon=True)
        self._thread.start()

    def add_channel(self, topic: str, type_name: str) -> str:
        """Register `topic` (before its first message); returns the topic it is recorded under."""
        transcode = self.jpeg_images and type_name == IMAGE_TYPE
        recorded_topic, recorded_type = (f"{topic}/compressed", COMPRESSED_TYPE) if transcode else (topic, type_name)
        if recorded_type not in self._schemas:
            self._schemas[recorded_type] = self._writer.register_schema(
                name=recorded_type, encoding="ros2msg", data=full_definition(recorded_type).encode())
        channel = self._writer.register_channel(topic=recorded_topic, message_encoding="cdr",
                                                schema_id=self._schemas[recorded_type])
        self._channels[topic] = (channel, transcode)
        return recorded_topic

    def put(self, topic: str, data: bytes, receive_ns: int) -> None:
        self._queue.put((topic, receive_ns, data))

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            topic, receive_ns, data = item
            channel, transcode = self._channels[topic]
            if transcode:
                try:
                    data = jpeg_compressed(data)
                except ImageDecodeError:
                    self.errors += 1
                    continue
            self._sequence[topic] += 1
            self._writer.add_message(channel, log_time=receive_ns, data=data, publish_time=receive_ns,
                                     sequence=self._sequence[topic])
            self.counts[topic] += 1

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.finish()
        self._file.close()


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("output", "recording.mcap", "Path of the MCAP file to write (its folder is created).", "startup"),
    ParameterSpec("topics", DEFAULT_TOPICS, "Topics to record; each is subscribed as soon as a publisher of it "
                  "appears.", "startup"),
    ParameterSpec("compression", "zstd", "Chunk compression.", "startup", tuple(COMPRESSIONS)),
    ParameterSpec("images", "jpeg", "sensor_msgs/Image topics: 'jpeg' = stored as CompressedImage on "
                  "<topic>/compressed (like image_transport), 'raw' = as received", "startup", ("jpeg", "raw")),
)


class RecorderNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("mcap_recorder", **kwargs)
        declare_parameters(self, PARAMETERS)
        compression, images = self.get_parameter("compression").value, self.get_parameter("images").value
        self.sink = McapSink(Path(self.get_parameter("output").value), compression, jpeg_images=images == "jpeg")
        self._wanted = [self.resolve_topic_name(t) for t in self.get_parameter("topics").value]
        self._subscribed: set[str] = set()
        self.create_timer(DISCOVERY_PERIOD_S, self._discover)
        self.get_logger().info(f"recording {', '.join(self._wanted)} to {self.sink.path}")

    def _discover(self) -> None:
        types = dict(self.get_topic_names_and_types())
        for topic in self._wanted:
            if topic in self._subscribed or topic not in types:
                continue
            qos = publishers_qos(self, topic, QUEUE_DEPTH)
            if qos is None:
                continue
            type_name = types[topic][0]
            try:
                msg_type = message_class(type_name)
                recorded_as = self.sink.add_channel(topic, type_name)
            except (ImportError, AttributeError, DefinitionError) as error:
                self.get_logger().error(f"cannot record {topic} ({type_name}): {error}")
                self._subscribed.add(topic)
                continue
            self.create_subscription(msg_type, topic, lambda data, t=topic: self.sink.put(t, data, time.time_ns()),
                                     qos, raw=True)
            self._subscribed.add(topic)
            reliability = "reliable" if qos.reliability == ReliabilityPolicy.RELIABLE else "best effort"
            self.get_logger().info(f"recording {topic} [{type_name}] ({reliability})"
                                   + (f" as {recorded_as} (jpeg)" if recorded_as != topic else ""))

    def stop(self) -> None:
        self.sink.close()
        counts = ", ".join(f"{topic}: {count}" for topic, count in sorted(self.sink.counts.items()))
        errors = f"; {self.sink.errors} image(s) could not be converted" if self.sink.errors else ""
        # not the node's logger: after Ctrl-C its /rosout publisher is gone
        summary = f"wrote {self.sink.path} ({counts or 'no messages'}{errors})"
        rclpy.logging.get_logger("mcap_recorder.exit").info(summary)


def main(args: list[str] | None = None) -> None:
    run_node(RecorderNode, "mcap_recorder", args, fatal_errors=(ValueError, OSError))


if __name__ == "__main__":
    main()
