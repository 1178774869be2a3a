"""A small MCAP recorder: `python -m facemesh_ros.tools.recorder --ros-args -p output:=run.mcap`.

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
0.3 GB). With `images:=jpeg` (the default) every sensor_msgs/Image topic in an 8-bit colour or mono encoding
is stored the way image_transport's compressed plugin publishes it: sensor_msgs/CompressedImage on
`<topic>/compressed`, same header, format "<encoding>; jpeg compressed bgr8" (~20x smaller). A topic in any
other encoding (16UC1 depth, 32FC1, bayer) is recorded raw: decided at its first message. `images:=raw` keeps
all of them bit-exact.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import rclpy
from mcap.writer import CompressionType, Writer
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

from facemesh_ros.ros.image_codec import SUPPORTED_ENCODINGS, ImageDecodeError, image_to_rgb
from facemesh_ros.ros.parameters import ParameterSpec, declare_parameters
from facemesh_ros.ros.spin import run_node
from facemesh_ros.tools.message_types import DefinitionError, full_definition, message_class

DEFAULT_TOPICS = [
    "/image",
    "/camera_info",
    "/face_mesh/faces",
    "/face_mesh/markers",
    "/face_mesh/annotated",
    "/tf",
    "/diagnostics",
]
COMPRESSIONS = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}
IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
JPEG_QUALITY = 90
DISCOVERY_PERIOD_S = 0.1
QUEUE_DEPTH = 100  # per topic: DDS keeps up to this many unread messages for the recorder
# Messages waiting for the writer thread; beyond this they are dropped (and counted) instead of filling the
# memory: ~3 s of the demo's traffic, ~150 MB of raw 640x480 images at most.
MAX_QUEUED = 500
ERROR_LOG_PERIOD_S = 5.0


def publishers_qos(node: Node, topic: str, depth: int) -> QoSProfile | None:
    """A QoS that hears every current publisher of `topic` (None while there is none)."""
    infos = node.get_publishers_info_by_topic(topic)
    if not infos:
        return None
    reliable = all(info.qos_profile.reliability == ReliabilityPolicy.RELIABLE for info in infos)
    latched = all(info.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for info in infos)
    return QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


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


@dataclass(frozen=True)
class _Registration:
    topic: str
    type_name: str
    definitions: dict[str, bytes]  # type name -> ros2msg definition, of every type the topic may be stored as
    maybe_jpeg: bool  # an Image topic in jpeg mode: raw or jpeg is decided at its first message


@dataclass(frozen=True)
class _Message:
    topic: str
    receive_ns: int
    data: bytes


class McapSink:
    """MCAP writer of CDR messages; one schema per type, one channel per recorded topic.

    add_channel() and put() may be called from any thread: they only queue work. The mcap Writer has no lock
    (registering a channel can finish a chunk), so one thread does every write: registrations and messages
    alike, in the order they were queued.
    """

    def __init__(
        self,
        path: Path,
        compression: str = "zstd",
        jpeg_images: bool = True,
        max_queued: int = MAX_QUEUED,
        logger: Any = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.jpeg_images = jpeg_images
        self._logger = logger if logger is not None else rclpy.logging.get_logger("mcap_sink")
        self._file = open(path, "wb")  # noqa: SIM115 (open for the sink's lifetime, closed by close())
        self._writer = Writer(self._file, compression=COMPRESSIONS[compression])
        self._writer.start(profile="ros2", library="facemesh_ros recorder (mcap python)")
        # writer thread only, from here on
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, tuple[int, str, bool]] = {}  # topic -> (channel id, recorded as, to jpeg)
        self._undecided: dict[str, _Registration] = {}  # image topics in jpeg mode before their first message
        self._sequence: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # by recorded channel topic
        self.failures: Counter[str] = Counter()  # messages not written, by exception type
        self.dropped = 0  # messages that found the queue full
        self._queue: queue.Queue[_Registration | _Message | None] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._drain, name="mcap_writer", daemon=True)
        self._thread.start()

    def add_channel(self, topic: str, type_name: str) -> None:
        """Register `topic` before its first message (raises DefinitionError for an unknown type)."""
        maybe_jpeg = self.jpeg_images and type_name == IMAGE_TYPE
        types = [type_name, COMPRESSED_TYPE] if maybe_jpeg else [type_name]
        definitions = {name: full_definition(name).encode() for name in types}
        self._queue.put(_Registration(topic, type_name, definitions, maybe_jpeg))  # waits for room: never dropped

    def put(self, topic: str, data: bytes, receive_ns: int) -> None:
        try:
            self._queue.put_nowait(_Message(topic, receive_ns, data))
        except queue.Full:
            self.dropped += 1

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if isinstance(item, _Registration):
                    self._register(item)
                else:
                    self._write(item)
            except Exception as error:  # one bad message, or a full disk, must not end the recording
                self.failures[type(error).__name__] += 1
                self._logger.warning(
                    f"could not record a message on {item.topic}: {type(error).__name__}: {error}",
                    throttle_duration_sec=ERROR_LOG_PERIOD_S,
                )

    def _register(self, item: _Registration) -> None:
        if item.maybe_jpeg:
            self._undecided[item.topic] = item
        else:
            self._add_channel(item.topic, item.topic, item.type_name, item.definitions[item.type_name], False)

    def _add_channel(self, topic: str, recorded_topic: str, type_name: str, definition: bytes, transcode: bool) -> None:
        if type_name not in self._schemas:
            self._schemas[type_name] = self._writer.register_schema(name=type_name, encoding="ros2msg", data=definition)
        channel = self._writer.register_channel(
            topic=recorded_topic, message_encoding="cdr", schema_id=self._schemas[type_name]
        )
        self._channels[topic] = (channel, recorded_topic, transcode)

    def _decide_image_storage(self, topic: str, cdr: bytes) -> None:
        """At an image topic's first message: jpeg for the 8-bit encodings image_to_rgb reads, else raw."""
        encoding = deserialize_message(cdr, Image).encoding
        item = self._undecided.pop(topic)
        if encoding in SUPPORTED_ENCODINGS:
            self._add_channel(topic, f"{topic}/compressed", COMPRESSED_TYPE, item.definitions[COMPRESSED_TYPE], True)
        else:
            self._add_channel(topic, topic, IMAGE_TYPE, item.definitions[IMAGE_TYPE], False)
            self._logger.info(f"recording {topic} raw: its encoding '{encoding}' is not 8-bit colour or mono")

    def _write(self, item: _Message) -> None:
        data = item.data
        if item.topic in self._undecided:
            self._decide_image_storage(item.topic, data)
        channel, recorded_topic, transcode = self._channels[item.topic]
        if transcode:
            data = jpeg_compressed(data)
        self._sequence[item.topic] += 1
        self._writer.add_message(
            channel,
            log_time=item.receive_ns,
            data=data,
            publish_time=item.receive_ns,
            sequence=self._sequence[item.topic],
        )
        self.counts[recorded_topic] += 1

    def summary(self) -> str:
        """Messages written per recorded topic, and what was lost (after close())."""
        counts = ", ".join(f"{topic}: {count}" for topic, count in sorted(self.counts.items()))
        lost = [f"{self.dropped} dropped (writer queue full)"] if self.dropped else []
        if self.failures:
            lost.append(
                f"{sum(self.failures.values())} not written ("
                + ", ".join(f"{name}: {n}" for name, n in sorted(self.failures.items()))
                + ")"
            )
        return f"{counts or 'no messages'}" + (f"; {'; '.join(lost)}" if lost else "")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.finish()
        self._file.close()


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("output", "recording.mcap", "Path of the MCAP file to write (its folder is created).", "startup"),
    ParameterSpec(
        "topics",
        DEFAULT_TOPICS,
        "Topics to record; each is subscribed as soon as a publisher of it appears.",
        "startup",
    ),
    ParameterSpec("compression", "zstd", "Chunk compression.", "startup", tuple(COMPRESSIONS)),
    ParameterSpec(
        "images",
        "jpeg",
        "sensor_msgs/Image topics: 'jpeg' = stored as CompressedImage on "
        "<topic>/compressed (like image_transport), 'raw' = as received",
        "startup",
        ("jpeg", "raw"),
    ),
)


class RecorderNode(Node):
    """Records the configured topics into an MCAP file as they appear in the ROS graph."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("mcap_recorder", **kwargs)
        declare_parameters(self, PARAMETERS)
        compression, images = self.get_parameter("compression").value, self.get_parameter("images").value
        self.sink = McapSink(Path(self.get_parameter("output").value), compression, jpeg_images=images == "jpeg")
        self._wanted = [self.resolve_topic_name(t) for t in self.get_parameter("topics").value]
        self._subscribed: set[str] = set()
        self.create_timer(DISCOVERY_PERIOD_S, self._discover)
        self.get_logger().info(f"recording {', '.join(self._wanted)} to {self.sink.path}")

    def _writer_of(self, topic: str) -> Callable[[bytes], None]:
        """The raw subscription callback of `topic`: stamp the CDR bytes on arrival and queue them."""

        def write(data: bytes) -> None:
            self.sink.put(topic, data, time.time_ns())

        return write

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
                self.sink.add_channel(topic, type_name)
            except (ImportError, AttributeError, DefinitionError) as error:
                self.get_logger().error(f"cannot record {topic} ({type_name}): {error}")
                self._subscribed.add(topic)
                continue
            self.create_subscription(msg_type, topic, self._writer_of(topic), qos, raw=True)
            self._subscribed.add(topic)
            reliability = "reliable" if qos.reliability == ReliabilityPolicy.RELIABLE else "best effort"
            jpeg = self.sink.jpeg_images and type_name == IMAGE_TYPE
            self.get_logger().info(
                f"recording {topic} [{type_name}] ({reliability})"
                + (f", 8-bit images as {topic}/compressed (jpeg)" if jpeg else "")
            )

    def stop(self) -> None:
        self.sink.close()
        # not the node's logger: after Ctrl-C its /rosout publisher is gone
        rclpy.logging.get_logger("mcap_recorder.exit").info(f"wrote {self.sink.path} ({self.sink.summary()})")


def main(args: list[str] | None = None) -> None:
    """Entry point of the recorder (`python -m facemesh_ros.tools.recorder`)."""
    run_node(RecorderNode, "mcap_recorder", args, fatal_errors=(ValueError, OSError))


if __name__ == "__main__":
    main()
