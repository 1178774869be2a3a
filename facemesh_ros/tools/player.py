"""player node: a camera driver stand-in publishing sensor_msgs/Image + CameraInfo on `image` / `camera_info`.

Sources (parameter `source`):
- 'default': the built-in sequence (facemesh_ros.simulation.demo_sequence): real faces under a moving virtual camera,
  camera_info with the virtual camera's exact intrinsics;
- 'camera:<index>': an OpenCV capture device (/dev/video<index>);
- a path to a video file, or to a folder of images (played in name order).
Sources without calibration (video, camera, folder) get camera_info from `vertical_fov_deg`.

Like a camera driver: both topics share one header per frame (stamp = capture time, frame_id = `frame_id`),
published reliable with the system-default QoS, as REP-2003 asks of sensor drivers (consumers subscribing
best effort hear it; qos_overrides.<topic>.publisher.* parameters change it). For benchmarks and the demo,
`ack_topic` makes it wait until a consumer answered the previous frame (any message whose header carries
that stamp, e.g. the face_mesh node's ~/faces) before sending the next: every frame is processed on any
machine. A camera does not wait, and neither does the player unless asked. Files are paced at `rate`; a
camera is published as fast as it delivers (holding its frames back would only publish ever older ones).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from facemesh_ros.geometry import Camera
from facemesh_ros.ros.image_codec import image_from_pixels
from facemesh_ros.ros.parameters import QOS_OVERRIDES, ParameterSpec, declare_parameters
from facemesh_ros.ros.spin import run_node
from facemesh_ros.simulation.demo_sequence import (
    DEFAULT_FRAMES,
    DEFAULT_RATE_HZ,
    DEFAULT_SIZE,
    SEGMENTS,
    DemoSequence,
)
from facemesh_ros.tools.message_types import message_class

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
FOLDER_RATE_HZ = 10.0
VIDEO_FALLBACK_RATE_HZ = 30.0
ACK_RETRIES = 3  # sends of one frame before moving on without an answer
WAIT_LOG_PERIOD_S = 5.0
STOP_TIMEOUT_S = 5.0  # stop() waits this long for the player thread before leaving the source open


class SourceError(ValueError):
    """The `source` parameter names nothing playable."""


# A frame: (H x W x 3 uint8 pixels, their encoding 'rgb8' or 'bgr8', 3x3 intrinsics or None)
Frame = tuple[np.ndarray, str, np.ndarray | None]


def camera_info_msg(header: Header, intrinsics: np.ndarray, width: int, height: int) -> CameraInfo:
    """An undistorted pinhole camera_info (plumb_bob, zero distortion, P = [K | 0])."""
    info = CameraInfo(header=header, width=width, height=height, distortion_model="plumb_bob")
    info.k = intrinsics.ravel().tolist()
    info.d = [0.0] * 5
    info.r = np.eye(3).ravel().tolist()
    info.p = np.hstack([intrinsics, np.zeros((3, 1))]).ravel().tolist()
    return info


class FrameSource:
    """Frames of one source; `rate` is its own frame rate (0 = as fast as it delivers: a live camera)."""

    rate: float = 0.0
    live: bool = False
    length: int | None = None  # frames per pass, when known

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""


class SequenceSource(FrameSource):
    """The built-in demo sequence (facemesh_ros.simulation.demo_sequence), with its exact intrinsics."""

    def __init__(self, num_frames: int, size: tuple[int, int], photo_dir: str) -> None:
        if not photo_dir:
            raise SourceError("source 'default' needs sequence.photo_dir: the folder `make testdata` fills (test/data)")
        self.sequence = DemoSequence(photo_dir, num_frames, size)
        self.rate = DEFAULT_RATE_HZ
        self.length = len(self.sequence)

    def frames(self) -> Iterator[Frame]:
        for index in range(len(self.sequence)):
            rgb, intrinsics = self.sequence.frame(index)
            yield rgb, "rgb8", intrinsics


class CaptureSource(FrameSource):
    """A video file or a camera through cv2.VideoCapture."""

    def __init__(self, target: str | int) -> None:
        self.capture = cv2.VideoCapture(target)
        what = f"camera {target}" if isinstance(target, int) else f"video file {target}"
        if not self.capture.isOpened():
            raise SourceError(
                f"cannot open {what}"
                + (" (is the device there, /dev/video*?)" if isinstance(target, int) else " (not a video OpenCV reads)")
            )
        self.live = isinstance(target, int)
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.rate = 0.0 if self.live else (fps if 0 < fps < 1000 else VIDEO_FALLBACK_RATE_HZ)
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.length = None if self.live or count <= 0 else count
        self.what = what

    def frames(self) -> Iterator[Frame]:
        if not self.live:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        while True:
            ok, bgr = self.capture.read()
            if not ok:
                return
            yield bgr, "bgr8", None

    def close(self) -> None:
        self.capture.release()


class FolderSource(FrameSource):
    """The images of a folder, in name order."""

    def __init__(self, folder: Path) -> None:
        self.paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise SourceError(f"folder {folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.rate = FOLDER_RATE_HZ
        self.length = len(self.paths)

    def frames(self) -> Iterator[Frame]:
        for path in self.paths:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is not None:  # unreadable files are skipped, the rest still plays
                yield bgr, "bgr8", None


def publish_period(rate: float, source: FrameSource) -> float:
    """Seconds between frames: 1 / `rate`, or the source's own rate when 0; 0 (no pacing) for a live camera."""
    if source.live:
        return 0.0
    rate = rate or source.rate
    return 1.0 / rate if rate > 0 else 0.0


class Pacer:
    """Frame deadlines `period` apart. After a stall (a slow read, an ack wait) the next deadline is now, not
    in the past: the frames it missed are not sent in a burst to catch up."""

    def __init__(self, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = period
        self._clock = clock
        self._next = clock()

    def delay(self) -> float:
        """Seconds to wait before sending the next frame."""
        now = self._clock()
        self._next = max(self._next + self.period, now)
        return self._next - now


def open_source(source: str, num_frames: int, size: tuple[int, int], photo_dir: str) -> FrameSource:
    """The FrameSource named by the `source` parameter (see the module docstring)."""
    if source == "default":
        return SequenceSource(num_frames, size, photo_dir)
    if source.startswith("camera:"):
        index = source.removeprefix("camera:")
        if not index.isdigit():
            raise SourceError(f"source '{source}': a camera is 'camera:<index>', e.g. camera:0")
        return CaptureSource(int(index))
    path = Path(source).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        return CaptureSource(str(path))
    raise SourceError(f"source '{source}' is not 'default', 'camera:<index>', a video file or an image folder")


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "source",
        "default",
        "'default' (built-in face sequence), 'camera:<index>' (OpenCV device), or a "
        "path to a video file or an image folder",
        "startup",
    ),
    ParameterSpec(
        "frame_id", "camera_optical_frame", "frame_id of every Image and CameraInfo (an optical frame)", "startup"
    ),
    ParameterSpec(
        "rate",
        0.0,
        "Publish rate in Hz of a video, folder or the built-in sequence; 0 = the source's own "
        "(video fps, 15 for the built-in sequence, 10 for folders). Not applied to a camera: it is "
        "published as fast as it delivers",
        "startup",
        low=0.0,
        high=1000.0,
    ),
    ParameterSpec("loop", False, "Start over at the end of a video, folder or the built-in sequence", "startup"),
    ParameterSpec("max_frames", 0, "Stop after this many frames (0 = no limit)", "startup", low=0, high=10_000_000),
    ParameterSpec(
        "vertical_fov_deg",
        63.0,
        "Vertical field of view for camera_info of sources without calibration (video, camera, folder)",
        "startup",
        low=1.0,
        high=179.0,
    ),
    ParameterSpec(
        "sequence.frames",
        DEFAULT_FRAMES,
        "Length of the built-in sequence (all segments are kept)",
        "startup",
        low=6 * len(SEGMENTS),
        high=100_000,
    ),
    ParameterSpec(
        "sequence.width", DEFAULT_SIZE[0], "Frame width of the built-in sequence", "startup", low=64, high=4096
    ),
    ParameterSpec(
        "sequence.height", DEFAULT_SIZE[1], "Frame height of the built-in sequence", "startup", low=64, high=4096
    ),
    ParameterSpec(
        "sequence.photo_dir",
        "",
        "Folder with astronaut.png and breakingbad.jpg, needed by source 'default' "
        "(the repository's test/data, filled by `make testdata`)",
        "startup",
    ),
    ParameterSpec("qos_depth", 5, "History depth of both publishers (reliable, REP-2003)", "startup", low=1, high=100),
    ParameterSpec(
        "ack_topic",
        "",
        "If set, send the next frame only after a message on this topic carried the "
        "previous frame's stamp (e.g. /face_mesh/faces); empty = free running",
        "startup",
    ),
    ParameterSpec(
        "ack_timeout",
        2.0,
        "Seconds to wait for the ack before sending the frame again (3 tries)",
        "startup",
        low=0.01,
        high=600.0,
    ),
    ParameterSpec(
        "wait_for_subscribers",
        0,
        "Before the first frame, wait until this many subscribers listen on `image`",
        "startup",
        low=0,
        high=100,
    ),
)


class PlayerNode(Node):
    """player_node: publishes image + camera_info from a FrameSource (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("player", **kwargs)
        declare_parameters(self, PARAMETERS)
        self.source = open_source(
            self._param("source"),
            self._param("sequence.frames"),
            (self._param("sequence.width"), self._param("sequence.height")),
            self._param("sequence.photo_dir"),
        )
        self._image_pub = self.create_publisher(
            Image, "image", self._driver_qos(), qos_overriding_options=QOS_OVERRIDES
        )
        self._info_pub = self.create_publisher(
            CameraInfo, "camera_info", self._driver_qos(), qos_overriding_options=QOS_OVERRIDES
        )
        self._acked = threading.Event()
        self._pending_stamp: tuple[int, int] | None = None
        self.published = 0
        self.unanswered = 0
        self.failed: Exception | None = None
        self.done = threading.Event()
        self._stopping = threading.Event()
        self._period = publish_period(self._param("rate"), self.source)
        if self.source.live and self._param("rate"):
            self.get_logger().warning("rate is not applied to a camera: it is published as fast as it delivers")
        self.get_logger().info(
            f"playing {self._param('source')} ({self.source.length or 'unknown number of'} frames) on "
            f"{self._image_pub.topic_name} at {f'{1 / self._period:g} Hz' if self._period else 'source speed'}"
            + (f", each frame acknowledged on {self._param('ack_topic')}" if self._param("ack_topic") else "")
        )
        self._thread = threading.Thread(target=self._run, name="player", daemon=True)
        self._thread.start()

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _driver_qos(self) -> QoSProfile:
        """REP-2003's SystemDefaultsQoS for drivers (reliable, volatile) with qos_depth; new per publisher, as
        rclpy writes the qos_overrides into it."""
        return QoSProfile(depth=self._param("qos_depth"), reliability=ReliabilityPolicy.RELIABLE)

    def _running(self) -> bool:
        return self.context.ok() and not self._stopping.is_set()

    # ---- waiting for the graph ---------------------------------------------------------------------------
    def _wait(self, what: str, ready: Any) -> bool:
        last_log = time.monotonic()
        while not ready():
            if not self._running():
                return False
            if time.monotonic() - last_log > WAIT_LOG_PERIOD_S:
                self.get_logger().info(f"waiting for {what}")
                last_log = time.monotonic()
            self._stopping.wait(0.02)
        return True

    def _subscribe_ack(self) -> bool:
        topic = self.resolve_topic_name(self._param("ack_topic"))
        types: dict[str, list[str]] = {}

        def known() -> bool:
            types.update(self.get_topic_names_and_types())
            return topic in types

        if not self._wait(f"a publisher of the ack topic {topic}", known):
            return False
        self.create_subscription(message_class(types[topic][0]), topic, self._on_ack, 10)
        return True

    def _on_ack(self, msg: Any) -> None:
        stamp = getattr(getattr(msg, "header", None), "stamp", None)
        if stamp is not None and (stamp.sec, stamp.nanosec) == self._pending_stamp:
            self._acked.set()

    # ---- playing ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._play()
        except Exception as error:  # reported, and the process exits non-zero
            if self._running():  # not a publish that failed because ROS is shutting down
                self.get_logger().error(f"player stopped: {type(error).__name__}: {error}")
                self.failed = error
        finally:
            self.done.set()

    def _play(self) -> None:
        wanted = self._param("wait_for_subscribers")
        if wanted and not self._wait(
            f"{wanted} subscriber(s) of {self._image_pub.topic_name}",
            lambda: self._image_pub.get_subscription_count() >= wanted,
        ):
            return
        use_ack = bool(self._param("ack_topic"))
        if use_ack and not self._subscribe_ack():
            return
        # let discovery finish matching the other ends (DDS matches asynchronously)
        if (wanted or use_ack) and self._stopping.wait(0.5):
            return
        limit = self._param("max_frames") or None
        pacer = Pacer(self._period)
        while self._running():
            for pixels, encoding, intrinsics in self.source.frames():
                if limit is not None and self.published >= limit:
                    return
                if self._stopping.wait(pacer.delay()) or not self._running():
                    return
                self._send(pixels, encoding, intrinsics, use_ack)
            if not self._param("loop") or self.source.live:
                return

    def _send(self, pixels: np.ndarray, encoding: str, intrinsics: np.ndarray | None, use_ack: bool) -> None:
        height, width = pixels.shape[:2]
        if intrinsics is None:
            intrinsics = Camera.from_fov(self._param("vertical_fov_deg"), width, height).matrix
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self._param("frame_id"))
        info = camera_info_msg(header, intrinsics, width, height)
        image = image_from_pixels(header, pixels, encoding)
        self._pending_stamp = (header.stamp.sec, header.stamp.nanosec)
        self._acked.clear()  # before the stopping check below: a stop() from here on ends the wait at once
        for _ in range(ACK_RETRIES if use_ack else 1):
            self._info_pub.publish(info)  # camera_info first: the consumer reads the newest one
            self._image_pub.publish(image)
            if not use_ack or self._stopping.is_set() or self._acked.wait(self._param("ack_timeout")):
                break
        else:
            self.unanswered += 1
            self.get_logger().warning(
                f"no answer on {self._param('ack_topic')} for frame {self.published}",
                throttle_duration_sec=WAIT_LOG_PERIOD_S,
            )
        self.published += 1

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def stop(self) -> None:
        """End the player thread, then release the source (run_node destroys the node right after)."""
        self._stopping.set()
        self._acked.set()  # a frame waiting for its ack stops waiting
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():  # stuck in a device read: releasing the capture under it could crash
            rclpy.logging.get_logger("player.exit").warning(
                f"the player thread did not stop within {STOP_TIMEOUT_S:g} s; the source is left to the process exit"
            )
        else:
            self.source.close()
        # not the node's logger: after Ctrl-C its /rosout publisher is gone
        rclpy.logging.get_logger("player.exit").info(
            f"published {self.published} frame(s)"
            + (f", {self.unanswered} without an answer" if self.unanswered else "")
        )


def main(args: list[str] | None = None) -> None:
    """Entry point of player_node."""
    run_node(PlayerNode, "player", args, fatal_errors=(ValueError, OSError), done=lambda node: node.done.is_set())


if __name__ == "__main__":
    main()
