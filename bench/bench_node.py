#!/usr/bin/env python3
"""The face_mesh node under a camera-like load: 1280x720 at 30 Hz, one face, best effort.

For each configuration (markers off / markers on / markers + annotated image) the real node runs as its own
process; this script publishes a virtual-camera sequence over astronaut.png and reports
- dropped frames (node's /diagnostics: frames replaced before they were processed) and frames answered;
- node processing time per frame p50/p95 (worker start to last publish, from /diagnostics), and its p50 parts
  in the library core (FaceMesh.process, face geometry, smoothing) and outside it (the node's overhead);
- end-to-end latency: image publish -> FaceMeshArray received here, p50/p95;
and, for reference, the core library alone on the same frames (FaceMesh.process + estimate_face_geometry), and
the node's steps (image decode, process, geometry, message/TF/marker building with serialization) timed one by
one in this process, without DDS, to show where the node's overhead over the library goes.

Run: source env.bash && python bench/bench_node.py [--seconds 10] [--zoom]
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test"))
from node_harness import FRAME_ID, DdsClient, NodeProcess, camera_info, rgb_image  # noqa: E402

from facemesh_ros.face_mesh import FaceMesh  # noqa: E402
from facemesh_ros.geometry import Camera, estimate_face_geometry  # noqa: E402
from facemesh_ros.msg import FaceMeshArray  # noqa: E402
from facemesh_ros.simulation.virtual_camera import VirtualCamera  # noqa: E402

SIZE = (1280, 720)
RATE_HZ = 30.0


def make_frames(count: int, zoom: bool = False) -> list:
    """A fixed camera (one calibration) sees the face pan and roll; with `zoom` the lens also zooms, so the
    camera_info changes with every frame and the node builds a new camera model for each."""
    photo = cv2.cvtColor(cv2.imread(str(REPO / "test" / "data" / "astronaut.png")), cv2.COLOR_BGR2RGB)
    zoom_range = (1.4, 1.8) if zoom else (1.6, 1.6)
    return list(
        VirtualCamera(
            photo, size=SIZE, num_frames=count, target=(250, 200), pan=0.05, zoom_range=zoom_range, roll_deg=15.0
        )
    )


def library_time(frames: list, repeats: int) -> np.ndarray:
    times = []
    with FaceMesh() as face_mesh:
        for i in range(repeats):
            frame = frames[i % len(frames)]
            camera = Camera.from_intrinsics(
                frame.intrinsics[0, 0], frame.intrinsics[1, 1], frame.intrinsics[0, 2], frame.intrinsics[1, 2], *SIZE
            )
            start = time.perf_counter()
            result = face_mesh.process(frame.image)
            for landmarks in result.landmarks:
                estimate_face_geometry(landmarks, camera)
            times.append((time.perf_counter() - start) * 1000)
    return np.array(times[5:])


def node_steps(frames: list, repeats: int) -> dict[str, float]:
    """Median ms of each step of the node's per-frame work, in this process (no DDS): where the overhead goes."""
    from builtin_interfaces.msg import Duration

    from facemesh_ros.ros.image_codec import decode_image
    from facemesh_ros.ros.markers import MarkerOptions, face_markers, marker_array_cdr
    from facemesh_ros.ros.messages import face_frames, face_mesh_array_cdr, tf_message_cdr

    names = ("image decode", "FaceMesh.process", "face geometry", "FaceMeshArray serialized", "TF serialized")
    names += ("markers serialized",)
    lifetime = Duration(nanosec=100_000_000)
    images = [rgb_image(f.image, Header(frame_id=FRAME_ID)) for f in frames]
    steps: list[list[float]] = []
    with FaceMesh() as face_mesh:
        for i in range(repeats):
            frame, msg = frames[i % len(frames)], images[i % len(images)]
            camera = Camera.from_intrinsics(
                frame.intrinsics[0, 0], frame.intrinsics[1, 1], frame.intrinsics[0, 2], frame.intrinsics[1, 2], *SIZE
            )
            marks = [time.perf_counter()]
            rgb = decode_image(msg)
            marks.append(time.perf_counter())
            result = face_mesh.process(rgb)
            marks.append(time.perf_counter())
            geometries = [estimate_face_geometry(face, camera) for face in result.landmarks]
            marks.append(time.perf_counter())
            face_mesh_array_cdr(msg.header, result, geometries)
            marks.append(time.perf_counter())
            tf_message_cdr(msg.header, face_frames(result.track_ids, geometries, ""))
            marks.append(time.perf_counter())
            markers = []
            for track_id, geometry in zip(result.track_ids.tolist(), geometries, strict=True):
                if geometry is not None:
                    markers += face_markers(track_id, geometry, MarkerOptions())
            marker_array_cdr(msg.header, markers, lifetime)
            marks.append(time.perf_counter())
            steps.append(np.diff(marks) * 1000)
    medians = np.median(np.array(steps[5:]), axis=0)
    return dict(zip(names, medians.tolist(), strict=True))


def run_config(name: str, frames: list, seconds: float, markers: bool, annotated: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        node = NodeProcess(Path(tmp) / "node.log", "-p", f"publish_markers:={str(markers).lower()}")
        client = DdsClient(f"bench_{name.replace(' ', '_').replace('+', '')}")
        sent: dict[tuple[int, int], float] = {}
        latencies: list[float] = []

        def on_faces(data: bytes) -> None:
            key = struct.unpack_from("<iI", data, 4)  # the header's stamp, after the 4-byte CDR header
            if key in sent:
                latencies.append((time.perf_counter() - sent[key]) * 1000)

        client.node.create_subscription(FaceMeshArray, "/face_mesh/faces", on_faces, 50, raw=True)
        diagnostics: list[dict[str, str]] = []
        client.node.create_subscription(
            DiagnosticArray,
            "/diagnostics",
            lambda m: diagnostics.extend(
                {kv.key: kv.value for kv in s.values} for s in m.status if s.name.startswith("/face_mesh")
            ),
            10,
        )
        # raw=True (here and for ~/faces above): the bench takes the serialized bytes without building Python
        # messages, so what is measured is the node's cost; decoding each frame's ~3000 marker points and 1434
        # landmarks here would take the CPU the node shares with this process on 2 cores
        if markers:
            client.node.create_subscription(MarkerArray, "/face_mesh/markers", lambda m: None, 10, raw=True)
        if annotated:
            client.node.create_subscription(Image, "/face_mesh/annotated", lambda m: None, 1, raw=True)
        images = [rgb_image(f.image, Header(frame_id=FRAME_ID)) for f in frames]
        infos = [camera_info(f.intrinsics, *SIZE, Header(frame_id=FRAME_ID)) for f in frames]
        # warm-up until the node answers, then measure
        client.spin_until(lambda: node.alive() and client.node.count_subscribers("/image") > 0, timeout=30)
        # one executor for the whole run: rclpy.spin_once() adds and removes the node on every call, CPU the
        # node shares with this process on 2 cores
        executor = SingleThreadedExecutor()
        executor.add_node(client.node)
        index, period = 0, 1.0 / RATE_HZ
        warmup_end = time.perf_counter() + 3.0
        end = warmup_end + seconds
        next_time = time.perf_counter()
        measuring = False
        while time.perf_counter() < end:
            if not measuring and time.perf_counter() >= warmup_end:
                measuring, latencies[:], diagnostics[:] = True, [], []
                sent_count = 0
            image, info = images[index % len(images)], infos[index % len(infos)]
            stamp = Header().stamp
            stamp.sec, stamp.nanosec = 10_000 + index // 30, int((index % 30) * 1e9 / 30)
            image.header.stamp = info.header.stamp = stamp
            client.info_pub.publish(info)
            client.image_pub.publish(image)
            sent[(stamp.sec, stamp.nanosec)] = time.perf_counter()
            if measuring:
                sent_count += 1
            index += 1
            next_time += period
            while time.perf_counter() < next_time:
                executor.spin_once(timeout_sec=max(0.0, next_time - time.perf_counter()))
        executor.remove_node(client.node)
        client.spin_for(1.5)  # last diagnostics
        node.stop()
        client.destroy()
    dropped = sum(int(d.get("dropped frames", 0)) for d in diagnostics)
    # the node's percentiles cover its last 300 frames (10 s at 30 Hz): take the last report
    last = diagnostics[-1] if diagnostics else {}
    lat = np.array(latencies) if latencies else np.full(1, np.nan)
    return {
        "config": name,
        "sent": sent_count,
        "answered": len(latencies),
        "dropped": dropped,
        "node p50": float(last.get("processing time p50 (ms)", "nan")),
        "node p95": float(last.get("processing time p95 (ms)", "nan")),
        "core p50": float(last.get("library core p50 (ms)", "nan")),
        "overhead p50": float(last.get("node overhead p50 (ms)", "nan")),
        "e2e p50": np.percentile(lat, 50),
        "e2e p95": np.percentile(lat, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--zoom", action="store_true", help="a zooming lens: a new camera_info every frame")
    args = parser.parse_args()
    frames = make_frames(60, args.zoom)
    print(f"camera: {'zooming (camera_info changes every frame)' if args.zoom else 'fixed calibration'}")
    library = library_time(frames, 150)
    print(
        f"core library alone (FaceMesh.process + geometry), 1280x720, one face: "
        f"p50 {np.percentile(library, 50):.2f} ms, p95 {np.percentile(library, 95):.2f} ms"
    )
    steps = node_steps(frames, 150)
    print("the node's per-frame steps in one process (no DDS), median ms:")
    for name, ms in steps.items():
        print(f"  {name:<34}{ms:>7.2f}")
    outside = sum(ms for name, ms in steps.items() if name != "FaceMesh.process")
    print(f"  {'all but FaceMesh.process':<34}{outside:>7.2f}")
    rclpy.init()
    rows = [
        run_config("markers off", frames, args.seconds, markers=False, annotated=False),
        run_config("markers on", frames, args.seconds, markers=True, annotated=False),
        run_config("markers + annotated", frames, args.seconds, markers=True, annotated=True),
    ]
    rclpy.shutdown()
    print(
        f"\n{'config':<22}{'sent':>6}{'answered':>10}{'dropped':>9}{'node p50':>10}{'node p95':>10}"
        f"{'core':>8}{'overhead':>10}{'e2e p50':>9}{'e2e p95':>9}   (ms; node = worker start to last publish; core, "
        "overhead: its parts in and outside the library core, p50 each)"
    )
    for r in rows:
        print(
            f"{r['config']:<22}{r['sent']:>6}{r['answered']:>10}{r['dropped']:>9}{r['node p50']:>10.2f}"
            f"{r['node p95']:>10.2f}{r['core p50']:>8.2f}{r['overhead p50']:>10.2f}{r['e2e p50']:>9.2f}"
            f"{r['e2e p95']:>9.2f}"
        )
    base = np.percentile(library, 50)
    markers_cost = rows[1]["node p50"] - rows[0]["node p50"]
    print(
        f"\nnode p50 minus the library's p50 measured in this process: markers off {rows[0]['node p50'] - base:+.2f} "
        f"ms, markers on {rows[1]['node p50'] - base:+.2f} ms; markers cost {markers_cost:+.2f} ms. The node's own "
        f"overhead figure (measured around the library calls in the node): markers off {rows[0]['overhead p50']:.2f} "
        f"ms, markers on {rows[1]['overhead p50']:.2f} ms"
    )


if __name__ == "__main__":
    main()
