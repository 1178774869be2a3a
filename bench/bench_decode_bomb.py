#!/usr/bin/env python3
"""Decode bombs among real frames: how many real frames the face_mesh node still processes.

The node runs as its own process (image_transport compressed). This script publishes 640x480 JPEG frames of
a virtual camera over astronaut.png at 30 Hz, and, in the second run, one decode bomb per second among them:
a ~600-byte JPEG whose header declares 20000x20000 pixels. It prints, for each run, the real frames answered
per second (FaceMeshArray with a real frame's stamp), the ratio to the run without bombs, and the node's peak
memory (VmHWM).

Run: source env.bash && python bench/bench_decode_bomb.py [--seconds 15]
Before/after: `--source DIR` runs the node from another checkout's facemesh_ros sources (e.g. one exported
with `git archive <commit> | tar -x -C DIR`), with this environment's Python packages and messages.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Header

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test"))
from node_harness import FRAME_ID, DdsClient, NodeProcess, stamp  # noqa: E402

from facemesh_ros.msg import FaceMeshArray  # noqa: E402
from facemesh_ros.simulation.virtual_camera import VirtualCamera  # noqa: E402

SIZE = (640, 480)
RATE_HZ = 30.0
BOMB_SIDE = 20000


def real_jpegs(count: int) -> list[bytes]:
    photo = cv2.cvtColor(cv2.imread(str(REPO / "test" / "data" / "astronaut.png")), cv2.COLOR_BGR2RGB)
    camera = VirtualCamera(photo, size=SIZE, num_frames=count, target=(250, 200), pan=0.05, zoom_range=(1.4, 1.8))
    return [cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))[1].tobytes() for frame in camera]


def jpeg_bomb(side: int) -> bytes:
    data = bytearray(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def peak_rss_mb(node: NodeProcess) -> float:
    for line in Path(f"/proc/{node.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def run(seconds: float, with_bombs: bool, folder: Path, name: str) -> tuple[int, int, int, float]:
    """(real frames sent, real frames answered, bombs sent, node peak RSS MB) of one run."""
    node = NodeProcess(folder / f"{name}.log", "-p", "image_transport:=compressed", "-r", f"__ns:=/{name}")
    client = DdsClient(f"{name}_client", namespace=name, reliable=True)
    try:
        faces = client.collect(FaceMeshArray, f"/{name}/face_mesh/faces")
        publisher = client.node.create_publisher(CompressedImage, f"/{name}/image/compressed", 10)
        frames = real_jpegs(30)
        warmup = CompressedImage(header=Header(stamp=stamp(0), frame_id=FRAME_ID), format="jpeg", data=frames[0])
        deadline = time.monotonic() + 60.0
        while not faces:  # the node is up and answering
            if not node.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the node does not answer; its log:\n{node.log()[-2000:]}")
            publisher.publish(warmup)
            client.spin_for(0.2)
        real_stamps, bombs, index = set(), 0, 1
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            msg = CompressedImage(header=Header(stamp=stamp(index), frame_id=FRAME_ID), format="jpeg")
            if with_bombs and index % int(RATE_HZ) == 0:
                msg.data, bombs = jpeg_bomb(BOMB_SIDE), bombs + 1
            else:
                msg.data = frames[index % len(frames)]
                real_stamps.add((msg.header.stamp.sec, msg.header.stamp.nanosec))
            publisher.publish(msg)
            index += 1
            while (wait := start + (index - 1) / RATE_HZ - time.monotonic()) > 0:  # the camera's clock
                rclpy.spin_once(client.node, timeout_sec=min(wait, 0.005))
        client.spin_for(1.0)  # answers in flight
        answered = {(f.header.stamp.sec, f.header.stamp.nanosec) for f in faces} & real_stamps
        return len(real_stamps), len(answered), bombs, peak_rss_mb(node)
    finally:
        client.destroy()
        node.stop()


def use_sources(source: Path, folder: Path) -> None:
    """Put a face_mesh_node that runs `source`'s facemesh_ros first on PATH."""
    wrapper = folder / "bin" / "face_mesh_node"
    wrapper.parent.mkdir()
    command = f'PYTHONPATH="{source}:$PYTHONPATH" exec "{sys.executable}" -m facemesh_ros.ros.node "$@"'
    wrapper.write_text(f'#!/bin/sh\ncd "{source}" && {command}\n')
    wrapper.chmod(0o755)
    os.environ["PATH"] = f"{wrapper.parent}:{os.environ['PATH']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--source", type=Path, help="run the node from this checkout's sources")
    args = parser.parse_args()
    rclpy.init()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.source:
            use_sources(args.source.resolve(), folder)
        label = f"sources {args.source}" if args.source else "this checkout"
        print(f"face_mesh_node ({label}), {SIZE[0]}x{SIZE[1]} JPEG at {RATE_HZ:g} Hz for {args.seconds:g} s")
        baseline = None
        for with_bombs in (False, True):
            sent, answered, bombs, peak = run(args.seconds, with_bombs, folder, f"bomb{int(with_bombs)}")
            rate = answered / args.seconds
            baseline = baseline or rate
            what = f"+ 1 bomb/s ({bombs} x {BOMB_SIDE}x{BOMB_SIDE} JPEG)" if with_bombs else "real frames only"
            print(
                f"  {what:42s} real frames processed: {answered}/{sent} = {rate:5.1f}/s "
                f"({rate / baseline:.2f} x without bombs), node peak RSS {peak:.0f} MB"
            )
    rclpy.shutdown()


if __name__ == "__main__":
    main()
