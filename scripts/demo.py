#!/usr/bin/env python3
"""`make demo`: the package's main job on the built-in input, as separate ROS 2 processes over DDS.

    player_node  --image, camera_info-->  face_mesh_node  --faces, /tf, markers, annotated, /diagnostics-->
    mcap_recorder (records all of it)

and, on the built-in input, the closed head-tracking loop (scripts/head_tracking_loop.py): a simulated
pan/tilt camera -> face_mesh_node -> head_tracker_node -> back to the camera's joints; the summary reports the
face's offset from the image centre after each jump of the face, and the contact sheet ends with its plot.

Then, from the recording alone, demo_out/ gets: face_mesh.mp4 (the node's ~/annotated stream),
contact_sheet.png, face_mesh.mcap (open it in Foxglove, or `ros2 bag play`), summary.json, logs/; and the
summary is printed. On the built-in sequence the summary compares with its ground truth (face counts, the
camera->face distance; see facemesh_ros.simulation.demo_sequence for what that truth is).

    python scripts/demo.py [--video PATH | --camera INDEX] [--frames N] [--rate HZ] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facemesh_ros.simulation.demo_sequence import FAR_FIELD

REPO = Path(__file__).resolve().parent.parent
PHOTO_DIR = REPO / "test" / "data"  # the built-in sequence's photos, fetched by `make testdata`
NODE_NAME = "face_mesh"
FACES_TOPIC = f"/{NODE_NAME}/faces"
# the recorder stores images as image_transport's compressed topics (jpeg): see facemesh_ros.tools.recorder
IMAGE_RECORDED = "/image/compressed"
ANNOTATED_RECORDED = f"/{NODE_NAME}/annotated/compressed"
DISTANCE_TOLERANCE = 0.05
VIDEO_FPS = 15.0
CAMERA_FRAMES = 300  # a camera never ends: record this many frames unless --frames says otherwise
SETTLE_S = 1.0  # after the player's last frame, outputs still in flight get this long to arrive
MATCH_TIMEOUT_S = 30.0
# detector far: the built-in sequence ends with a person across the room (a 26 px face), whom MediaPipe's
# short-range detector finds only when they are close; far mode's whole-frame pass alternates with tiles
NODE_PARAMETERS = ("-p", "refine_landmarks:=true", "-p", "max_num_faces:=2", "-p", "detector:=far")


# ---------------------------------------------------------------------------------------------------------
# running the graph
@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def tail(self, lines: int = 25) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"    {line}" for line in text[-lines:])

    def stop(self, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()


def start(name: str, argv: list[str], logs: Path) -> Process:
    log_path = logs / f"{name}.log"
    with open(log_path, "w") as log:
        popen = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0"),
        )
    return Process(name, popen, log_path)


def executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"demo: {name} is not on PATH. Run `make demo`, or `make setup && source env.bash` first.")
    return path


def player_args(args: argparse.Namespace) -> list[str]:
    if args.video:
        source = str(Path(args.video).expanduser().resolve())
    elif args.camera is not None:
        source = f"camera:{args.camera}"
    else:
        source = "default"
    params = {"source": source, "wait_for_subscribers": 2, "rate": float(args.rate)}
    if args.camera is None:
        # files: every frame is processed (the player waits for the node's answer); a camera runs free, and
        # the node keeps up by dropping frames, as on a robot
        params["ack_topic"] = FACES_TOPIC
    if source == "default":
        params["sequence.frames"] = args.frames
        params["sequence.photo_dir"] = str(PHOTO_DIR)
    elif args.frames or args.camera is not None:
        params["max_frames"] = args.frames or CAMERA_FRAMES
    return [arg for name, value in params.items() for arg in ("-p", f"{name}:={value}")]


def run_graph(args: argparse.Namespace, out: Path, total: int | None) -> dict[str, int]:
    """Start the three processes, show progress until the player is done, stop them; exit codes by name."""
    import rclpy
    from tqdm import tqdm

    from facemesh_ros.msg import FaceMeshArray

    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    mcap_path = out / "face_mesh.mcap"
    # the progress watcher subscribes before the node exists, so it hears the node's very first answer
    rclpy.init()
    watcher = rclpy.create_node("demo_progress")
    stamps: set[tuple[int, int]] = set()
    # in a log (no terminal) a redraw per frame would flood it: refresh every few seconds instead
    bar = tqdm(
        total=total, desc="face_mesh", unit="frame", dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 5.0
    )

    def on_faces(msg: FaceMeshArray) -> None:
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if stamp not in stamps:
            stamps.add(stamp)
            bar.update(1)
            bar.set_postfix(faces=len(msg.faces), ids=",".join(str(f.id) for f in msg.faces) or "-")

    progress = watcher.create_subscription(FaceMeshArray, FACES_TOPIC, on_faces, 100)
    processes = [
        start(
            "face_mesh",
            [executable("face_mesh_node"), "--ros-args", *NODE_PARAMETERS],
            logs,
        ),
        start(
            "recorder",
            [
                sys.executable,
                "-m",
                "facemesh_ros.tools.recorder",
                "--ros-args",
                "-p",
                f"output:={mcap_path}",
                "-p",
                "images:=jpeg",
            ],
            logs,
        ),
    ]
    by_name = {p.name: p for p in processes}
    try:
        # the player starts once DDS has matched the watcher with the node: discovery between fresh
        # processes can take seconds, and answers sent before the match would never reach the progress bar
        deadline = time.monotonic() + MATCH_TIMEOUT_S
        while progress.get_publisher_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(watcher, timeout_sec=0.05)
            _check_alive(processes)
        processes.append(start("player", [executable("player_node"), "--ros-args", *player_args(args)], logs))
        by_name["player"] = processes[-1]
        last_count, last_change = 0, time.monotonic()
        while True:
            rclpy.spin_once(watcher, timeout_sec=0.05)
            _check_alive(processes)
            if len(stamps) != last_count:
                last_count, last_change = len(stamps), time.monotonic()
            if by_name["player"].popen.poll() is not None and time.monotonic() - last_change > SETTLE_S:
                break
    except KeyboardInterrupt:
        print("\ndemo: interrupted, writing what was recorded", file=sys.stderr)
    finally:
        bar.close()
        # the player first (no more input), the recorder last (it must hear the node's final outputs)
        codes = {name: by_name[name].stop() for name in ("player", "face_mesh", "recorder") if name in by_name}
        watcher.destroy_node()
        rclpy.try_shutdown()
    if codes.get("player", 1) != 0:
        raise RuntimeError(f"player_node failed ({codes['player']}):\n{by_name['player'].tail()}")
    return codes


def _check_alive(processes: list[Process]) -> None:
    for process in processes:
        if process.name != "player" and process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early ({process.popen.returncode}):\n{process.tail()}")


# ---------------------------------------------------------------------------------------------------------
# reading the recording
@dataclass
class Recording:
    stamps: list[int]  # every input stamp (ns), in order: frame k of the run has stamps[k]
    faces: dict[int, object] = field(default_factory=dict)  # stamp -> FaceMeshArray
    face_log_ns: dict[int, int] = field(default_factory=dict)  # stamp -> receive time at the recorder
    tf: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # stamp -> child frame -> translation
    counts: Counter = field(default_factory=Counter)  # topic -> messages
    diagnostics: dict[str, str] = field(default_factory=dict)  # the node's last diagnostics values
    image_size: tuple[int, int] | None = None
    camera_info: dict[int, object] = field(default_factory=dict)  # stamp -> CameraInfo


def stamp_ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def read_recording(path: Path) -> Recording:
    """Everything but the images, deserialized with the real message classes."""
    from mcap.reader import make_reader
    from rclpy.serialization import deserialize_message

    from facemesh_ros.tools.message_types import message_class

    all_stamps: set[int] = set()
    recording = Recording(stamps=[])
    with open(path, "rb") as stream:
        reader = make_reader(stream)
        for schema, channel, message in reader.iter_messages():
            topic = channel.topic
            recording.counts[topic] += 1
            if topic in (IMAGE_RECORDED, ANNOTATED_RECORDED):
                all_stamps.add(_image_stamp(message.data))  # the pixels are read by write_images()
                continue
            if topic == "/face_mesh/markers":
                continue  # only counted
            msg = deserialize_message(message.data, message_class(schema.name))
            if topic == "/diagnostics":
                recording.diagnostics.update(_node_diagnostics(msg))
                continue
            if topic in ("/camera_info", FACES_TOPIC):
                all_stamps.add(stamp_ns(msg.header.stamp))
            if topic == "/camera_info":
                recording.image_size = (msg.width, msg.height)
                recording.camera_info[stamp_ns(msg.header.stamp)] = msg
            elif topic == FACES_TOPIC:
                stamp = stamp_ns(msg.header.stamp)
                recording.faces.setdefault(stamp, msg)
                recording.face_log_ns.setdefault(stamp, message.log_time)
            elif topic == "/tf":
                for transform in msg.transforms:
                    t = transform.transform.translation
                    stamp = stamp_ns(transform.header.stamp)
                    all_stamps.add(stamp)
                    recording.tf.setdefault(stamp, {})[transform.child_frame_id] = np.array([t.x, t.y, t.z])
    recording.stamps = sorted(all_stamps)
    return recording


def _image_stamp(cdr: bytes) -> int:
    """The header stamp of a serialized (Compressed)Image without decoding its pixels (CDR: a 4-byte
    encapsulation header, then the header's int32 sec and uint32 nanosec)."""
    sec = int.from_bytes(cdr[4:8], "little" if cdr[1] == 1 else "big", signed=True)
    nanosec = int.from_bytes(cdr[8:12], "little" if cdr[1] == 1 else "big")
    return sec * 1_000_000_000 + nanosec


def _node_diagnostics(msg) -> dict[str, str]:
    for status in msg.status:
        if status.name.startswith(f"/{NODE_NAME}"):
            return {kv.key: kv.value for kv in status.values}
    return {}


# ---------------------------------------------------------------------------------------------------------
# analysis
def frame_faces(recording: Recording) -> list[list]:
    """Per frame (in stamp order) the FaceMesh messages the node sent for it ([] also for a dropped frame)."""
    return [list(recording.faces[s].faces) if s in recording.faces else [] for s in recording.stamps]


def analyse(recording: Recording, sequence, run_seconds: float) -> dict:
    from facemesh_ros.simulation.demo_sequence import DistanceCheck

    per_frame = frame_faces(recording)
    counts = [len(recording.faces[s].faces) if s in recording.faces else None for s in recording.stamps]
    processed = [c for c in counts if c is not None]
    latency_ms = np.array(
        [(recording.face_log_ns[s] - s) / 1e6 for s in recording.stamps if s in recording.face_log_ns]
    )
    summary: dict = {
        "frames_in": recording.counts[IMAGE_RECORDED],
        "frames": len(recording.stamps),
        "frames_out": len(recording.faces),
        "annotated_frames": recording.counts[ANNOTATED_RECORDED],
        "face_counts": counts,
        "faces_per_frame": {str(k): v for k, v in sorted(Counter(processed).items())},
        "ids": _id_ranges(per_frame),
        "latency_ms": _percentiles(latency_ms),
        "node_processing_ms": {
            "p50": recording.diagnostics.get("processing time p50 (ms)", "?"),
            "p95": recording.diagnostics.get("processing time p95 (ms)", "?"),
        },
        "fps": len(recording.faces) / run_seconds if run_seconds > 0 else 0.0,
        "inference_device": recording.diagnostics.get("inference device", "?"),
        "topics": dict(recording.counts),
    }
    if sequence is None:
        return summary
    if len(recording.stamps) != len(sequence):
        summary["truth_error"] = (
            f"{len(recording.stamps)} frames recorded, the sequence has {len(sequence)}: "
            "cannot align them with the ground truth"
        )
        return summary
    expected = [sequence.truth(i).expected_faces for i in range(len(sequence))]
    summary["expected_faces"] = expected
    summary["count_mismatches"] = [
        i for i, (e, c) in enumerate(zip(expected, counts, strict=True)) if e is not None and e != c
    ]
    check = DistanceCheck(sequence)
    previous_ids: set[int] = set()
    for index, (stamp, faces) in enumerate(zip(recording.stamps, per_frame, strict=True)):
        frames = recording.tf.get(stamp, {})
        tracked = [f for f in faces if f"face_{f.id}" in frames]
        positions = np.array([frames[f"face_{f.id}"] for f in tracked]).reshape(-1, 3)
        check.add(index, positions, [f.id not in previous_ids for f in tracked], [f.id for f in tracked])
        previous_ids = {f.id for f in faces}
    samples = check.samples()
    tracked = [s for s in samples if not s.new_track]
    detected = [s for s in samples if s.new_track]
    summary["distance"] = {
        "tracked": _error_stats(tracked),
        "detection_frames": _error_stats(detected),
        "scale_m": {face: round(anchor[0], 4) for face, anchor in check.anchors.items()},
        "per_frame": [
            {
                "frame": s.index,
                "face": s.face,
                "id": s.track_id,
                "new_track": s.new_track,
                "recovered_m": round(float(np.linalg.norm(s.recovered)), 4),
                "truth_m": round(float(np.linalg.norm(s.truth)), 4),
                "error": round(s.distance_error, 5),
            }
            for s in samples
        ],
    }
    summary["segments"] = _segment_rows(sequence, expected, counts, samples)
    summary["far_field"] = _far_field(sequence, counts)
    return summary


def _far_field(sequence, counts: list[int | None]) -> dict | None:
    """The far-field segment: faces found per frame against the truth, the face's width when first found."""
    span = next(((first, end) for name, first, end in sequence.segments if name == FAR_FIELD), None)
    if span is None:
        return None
    frames = range(*span)
    widths = [max(sequence.face_widths(i).values(), default=0.0) for i in frames]
    found = [i for i in frames if counts[i]]
    first = found[0] if found else None
    return {
        "frames": f"{span[0]}-{span[1] - 1}",
        "face_width_px": [round(min(widths), 1), round(max(widths), 1)],
        "truth_faces": [sequence.truth(i).expected_faces for i in frames],
        "found_faces": [counts[i] for i in frames],
        "frames_with_the_face": f"{len(found)}/{len(frames)}",
        "first_detection_frame": first,
        "first_detection_width_px": None if first is None else round(widths[first - span[0]], 1),
        "missed_after_first_detection": [i for i in frames if first is not None and i > first and not counts[i]],
    }


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {"p50": float("nan"), "p95": float("nan")}
    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2)}


def _error_stats(samples: list) -> dict:
    errors = np.abs([s.distance_error for s in samples])
    if len(errors) == 0:
        return {"n": 0}
    return {
        "n": len(errors),
        "median": float(np.median(errors)),
        "p95": float(np.percentile(errors, 95)),
        "max": float(errors.max()),
        "within_tolerance": int((errors <= DISTANCE_TOLERANCE).sum()),
        "worst_frame": int(samples[int(np.argmax(errors))].index),
    }


def _id_ranges(per_frame: list[list]) -> dict[str, list[int]]:
    """Track id -> [first frame, last frame, frames seen]."""
    ranges: dict[str, list[int]] = {}
    for index, faces in enumerate(per_frame):
        for face in faces:
            entry = ranges.setdefault(str(face.id), [index, index, 0])
            entry[1] = index
            entry[2] += 1
    return ranges


def _segment_rows(sequence, expected: list, counts: list[int], samples: list) -> list[dict]:
    rows = []
    for name, first, end in sequence.segments:
        judged = [i for i in range(first, end) if expected[i] is not None]
        errors = np.abs([s.distance_error for s in samples if first <= s.index < end and not s.new_track])
        rows.append(
            {
                "segment": name,
                "frames": f"{first}-{end - 1}",
                "expected": "/".join(str(v) for v in sorted({e for e in expected[first:end] if e is not None})),
                "counts_right": f"{sum(counts[i] == expected[i] for i in judged)}/{len(judged)}",
                "seen": "/".join(str(v) for v in sorted({c for c in counts[first:end] if c is not None})),
                "distance_median": float(np.median(errors)) if len(errors) else None,
                "distance_max": float(errors.max()) if len(errors) else None,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------------------
# pictures
def caption_lines(
    index: int, faces: list, truth, tf: dict[str, np.ndarray], distances: dict, face_widths: Sequence[float] = ()
) -> list[str]:
    head = f"#{index:03d}" + (f"  {truth.segment}" if truth is not None else "")
    if truth is not None and truth.segment == FAR_FIELD:
        head += "  (detector far)  face width " + ", ".join(f"{w:.0f} px" for w in face_widths)
    count = f"{len(faces)} face{'s' if len(faces) != 1 else ''}"
    if truth is not None:
        expected = truth.expected_faces
        count += f" (truth {expected if expected is not None else 'edge'})"
    parts = [count]
    for face in faces:
        position = tf.get(f"face_{face.id}")
        text = f"id {face.id}"
        if position is not None:
            text += f" {np.linalg.norm(position):.2f} m"
            true_distance = distances.get((index, face.id))
            if true_distance is not None:
                text += f" (truth {true_distance:.2f})"
        parts.append(text)
    return [head, "  ".join(parts)]


def pick_frames(total: int, sequence, first_detection: int | None = None) -> list[int]:
    """12 frames telling the story: every segment, the empty stretch, the return, both faces; the far field's
    start, its first detection, its middle and end."""
    if total == 0:
        return []
    if sequence is None or len(sequence) != total:
        return sorted({round(v) for v in np.linspace(0, total - 1, min(12, total))})
    where = {
        "pan": (0.6,),
        "zoom in": (1.0,),
        "dolly out": (1.0,),
        "roll": (0.4, 0.75),
        "face leaves": (0.45, 0.97),
        "two faces": (0.5,),
        FAR_FIELD: (0.0, 0.6, 1.0),  # and the frame of the first detection: a row of its own
    }
    picks = []
    for name, first, end in sequence.segments:
        picks += [first + round(t * (end - 1 - first)) for t in where.get(name, (0.5,))]
    if first_detection is not None:
        picks.append(first_detection)
    return sorted(set(picks))


def write_images(path: Path, recording: Recording, summary: dict, sequence, out: Path) -> tuple[int, list[int], int]:
    """face_mesh.mp4 from the recorded ~/annotated images and contact_sheet.png (picked frames, then a row of
    AR effects); returns (video frames, picked frames, effect tiles)."""
    from mcap.reader import make_reader
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage

    index_of = {stamp: index for index, stamp in enumerate(recording.stamps)}
    per_frame = frame_faces(recording)
    face_distances = {
        (row["frame"], row["id"]): row["truth_m"] for row in summary.get("distance", {}).get("per_frame", [])
    }
    far_field = summary.get("far_field") or {}
    picks = set(pick_frames(len(recording.stamps), sequence, far_field.get("first_detection_frame")))
    tiles: dict[int, np.ndarray] = {}
    writer = None
    written, seen = 0, set()
    with open(path, "rb") as stream:
        for _, _, message in make_reader(stream).iter_messages(topics=[ANNOTATED_RECORDED]):
            msg = deserialize_message(message.data, CompressedImage)
            stamp = stamp_ns(msg.header.stamp)
            if stamp in seen or stamp not in index_of:
                continue
            seen.add(stamp)
            index = index_of[stamp]
            bgr = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
            height, width = bgr.shape[:2]
            truth = sequence.truth(index) if sequence is not None and len(sequence) == len(index_of) else None
            widths = sequence.face_widths(index).values() if truth is not None else ()
            lines = caption_lines(index, per_frame[index], truth, recording.tf.get(stamp, {}), face_distances, widths)
            if writer is None:
                writer = cv2.VideoWriter(
                    str(out / "face_mesh.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), VIDEO_FPS, (width, height)
                )
            writer.write(_with_caption_overlay(bgr, lines))
            written += 1
            if index in picks:
                tiles[index] = _tile(bgr, lines)
    if writer is not None:
        writer.release()
    effects = effect_tiles(path, recording, sorted(tiles))
    sheet = contact_sheet([tiles[i] for i in sorted(tiles)] + effects, _sheet_title(summary, sequence))
    cv2.imwrite(str(out / "contact_sheet.png"), sheet)
    return written, sorted(tiles), len(effects)


def effect_tiles(path: Path, recording: Recording, picks: list[int]) -> list[np.ndarray]:
    """AR effects of facemesh_ros.effects on recorded input frames with the node's face geometry (as
    face_effect_node draws it) and the recorded camera_info: glasses, then face paint, each on a one-face and a
    two-face frame (one row of the sheet)."""
    from mcap.reader import make_reader
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage

    from facemesh_ros.effects import EffectRenderer, EffectRendererUnavailable, face_paint_effect, glasses_effect
    from facemesh_ros.geometry import Camera

    counts = {
        index: len(recording.faces[recording.stamps[index]].faces) if recording.stamps[index] in recording.faces else 0
        for index in picks
    }
    chosen = [i for i in picks if counts[i] == 1][1:2] + [i for i in picks if counts[i] >= 2][-1:]
    wanted = {recording.stamps[i]: i for i in chosen if recording.stamps[i] in recording.camera_info}
    frames: dict[int, np.ndarray] = {}
    with open(path, "rb") as stream:
        for _, _, message in make_reader(stream).iter_messages(topics=[IMAGE_RECORDED]):
            msg = deserialize_message(message.data, CompressedImage)
            stamp = stamp_ns(msg.header.stamp)
            if stamp in wanted and stamp not in frames:
                frames[stamp] = cv2.cvtColor(
                    cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
                )
    try:
        renderer = EffectRenderer(glasses_effect(), samples=4)
    except EffectRendererUnavailable as error:
        print(f"demo: no effect tiles on the contact sheet: {error}", file=sys.stderr)
        return []
    tiles = []
    with renderer:
        for name, effect in (("glasses", None), ("face paint", face_paint_effect())):
            if effect is not None:
                renderer.set_effect(effect)
            for stamp, rgb in sorted(frames.items()):
                camera = Camera.from_camera_info(recording.camera_info[stamp], rectified=False)
                faces = recording.faces[stamp].faces
                result = renderer.render(rgb, camera, [_message_geometry(face) for face in faces])
                lines = [
                    f"#{wanted[stamp]:03d} effect: {name}",
                    f"facemesh_ros.effects on the node's face geometry, {len(faces)} face(s)",
                ]
                tiles.append(_tile(cv2.cvtColor(result.image, cv2.COLOR_RGB2BGR), lines))
    return tiles


def _message_geometry(face: Any) -> Any:
    """The FaceGeometry a recorded FaceMesh carries, or None (the renderer skips it)."""
    from facemesh_ros.geometry import GeometryError, face_geometry_from_message

    try:
        return face_geometry_from_message(face)
    except GeometryError:
        return None


FONT = cv2.FONT_HERSHEY_SIMPLEX


def _with_caption_overlay(bgr: np.ndarray, lines: list[str]) -> np.ndarray:
    frame = bgr.copy()
    height = frame.shape[0]
    band = frame[height - 44 :]
    band[:] = (band * 0.45).astype(np.uint8)
    for row, line in enumerate(lines):
        cv2.putText(frame, line, (10, height - 26 + row * 18), FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


TILE_WIDTH = 480
CAPTION_HEIGHT = 46


def _tile(bgr: np.ndarray, lines: list[str]) -> np.ndarray:
    scale = TILE_WIDTH / bgr.shape[1]
    image = cv2.resize(bgr, (TILE_WIDTH, round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    caption = np.full((CAPTION_HEIGHT, TILE_WIDTH, 3), 32, np.uint8)
    cv2.putText(caption, lines[0], (8, 18), FONT, 0.5, (120, 220, 255), 1, cv2.LINE_AA)
    cv2.putText(caption, lines[1], (8, 38), FONT, 0.45, (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([image, caption])


def contact_sheet(tiles: list[np.ndarray], title: list[str], columns: int = 4, gap: int = 6) -> np.ndarray:
    if not tiles:
        sheet = np.full((120, 900, 3), 24, np.uint8)
        cv2.putText(sheet, "no annotated frames were recorded", (20, 70), FONT, 0.8, (255, 255, 255), 2)
        return sheet
    tile_h, tile_w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    header = 70
    width = columns * tile_w + (columns + 1) * gap
    sheet = np.full((header + rows * (tile_h + gap) + gap, width, 3), 18, np.uint8)
    cv2.putText(sheet, title[0], (gap + 4, 30), FONT, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(sheet, title[1], (gap + 4, 56), FONT, 0.5, (200, 200, 200), 1, cv2.LINE_AA)
    for k, tile in enumerate(tiles):
        row, column = divmod(k, columns)
        y, x = header + row * (tile_h + gap), gap + column * (tile_w + gap)
        sheet[y : y + tile_h, x : x + tile_w] = tile
    return sheet


def _sheet_title(summary: dict, sequence) -> list[str]:
    source = "the built-in sequence" if sequence is not None else "the given input"
    first = f"facemesh_ros: face_mesh_node on {source} ({summary['frames']} frames)"
    second = (
        "tesselation, contours, irises, track id and distance per face; head axes x red, y green, z blue. "
        f"Latency p50 {summary['latency_ms']['p50']:.0f} ms on {summary['inference_device']}"
    )
    return [first, second]


# ---------------------------------------------------------------------------------------------------------
# summary
def format_summary(summary: dict, out: Path, sequence) -> str:
    dropped = summary["frames"] - summary["frames_out"]
    rows = [
        ("frames in (published / recorded)", f"{summary.get('published', '?')} / {summary['frames_in']}"),
        (
            "frames out (FaceMeshArray / annotated)",
            f"{summary['frames_out']} / {summary['annotated_frames']}"
            + (f" ({dropped} skipped: the node always takes the newest frame)" if dropped > 0 else ""),
        ),
        (
            "faces per frame",
            ", ".join(f"{k} face{'' if k == '1' else 's'}: {v} frames" for k, v in summary["faces_per_frame"].items()),
        ),
        ("ids seen", "  ".join(f"id {k}: frames {v[0]}-{v[1]}" for k, v in summary["ids"].items()) or "none"),
        (
            "latency image -> faces p50 / p95",
            f"{summary['latency_ms']['p50']:.1f} / {summary['latency_ms']['p95']:.1f} ms",
        ),
        (
            "node processing p50 / p95",
            f"{summary['node_processing_ms']['p50']} / {summary['node_processing_ms']['p95']} ms (/diagnostics)",
        ),
        ("throughput", f"{summary['fps']:.1f} frames/s"),
        ("inference device", summary["inference_device"]),
    ]
    if "truth_error" in summary:
        rows.append(("ground truth", summary["truth_error"]))
    if "expected_faces" in summary:
        judged = sum(e is not None for e in summary["expected_faces"])
        wrong = summary["count_mismatches"]
        rows.append(
            (
                "face count vs truth",
                f"{judged - len(wrong)}/{judged} frames right"
                + (f", wrong: {wrong}" if wrong else "")
                + f" ({len(summary['expected_faces']) - judged} frames with a face at the edge not judged)",
            )
        )
        tracked, detected = summary["distance"]["tracked"], summary["distance"]["detection_frames"]
        if tracked["n"]:
            rows.append(
                (
                    "distance error vs truth (tracked)",
                    f"median {tracked['median']:.1%}, p95 {tracked['p95']:.1%}, max {tracked['max']:.1%} "
                    f"(frame {tracked['worst_frame']}); {tracked['within_tolerance']}/{tracked['n']} "
                    f"within {DISTANCE_TOLERANCE:.0%}",
                )
            )
        if detected["n"]:
            rows.append(
                (
                    "distance error, detection frames",
                    f"max {detected['max']:.1%} over {detected['n']} first frame(s) of a track",
                )
            )
    width = max(len(name) for name, _ in rows)
    lines = ["", "facemesh_ros demo summary", "-" * (width + 60)]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    if "segments" in summary:
        lines += [
            "",
            f"{'segment':<12} {'frames':>8} {'truth':>6} {'seen':>6} {'counts':>8} {'dist err med':>13} {'max':>7}",
        ]
        for row in summary["segments"]:
            median = "-" if row["distance_median"] is None else f"{row['distance_median']:.1%}"
            worst = "-" if row["distance_max"] is None else f"{row['distance_max']:.1%}"
            lines.append(
                f"{row['segment']:<12} {row['frames']:>8} {row['expected']:>6} {row['seen']:>6} "
                f"{row['counts_right']:>8} {median:>13} {worst:>7}"
            )
        lines.append(
            "(distance truth: the virtual camera's motion relative to the photo; each face's metric "
            "scale fixed on its first 5 sightings)"
        )
    far = summary.get("far_field")
    if far:
        first = far["first_detection_frame"]
        found = (
            "never found"
            if first is None
            else (
                f"first found in frame {first} at {far['first_detection_width_px']:.0f} px face width"
                + (
                    f", then missed in {far['missed_after_first_detection']}"
                    if far["missed_after_first_detection"]
                    else ", then kept in every frame"
                )
            )
        )
        lines += [
            "",
            f"far field (frames {far['frames']}, detector far, face {far['face_width_px'][0]:.0f} -> "
            f"{far['face_width_px'][1]:.0f} px wide): the face in {far['frames_with_the_face']} frames "
            f"(truth: in every one); {found}",
        ]
    if "head_tracking" in summary:
        from head_tracking_loop import format_loop

        lines += ["", f"head tracking (closed loop): {format_loop(summary['head_tracking'])}"]
    lines += [
        "",
        f"outputs in {out}/: face_mesh.mp4, contact_sheet.png, face_mesh.mcap (Foxglove, ros2 bag play), "
        "summary.json, logs/"
        + (", head_tracking.png, head_tracking_truth.jsonl" if "head_tracking" in summary else ""),
    ]
    return "\n".join(lines)


def published_frames(log: Path) -> int | None:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if "published " in line and " frame(s)" in line:
            return int(line.split("published ", 1)[1].split()[0])
    return None


# ---------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", help="play this video file instead of the built-in sequence")
    source.add_argument("--camera", type=int, help="use this OpenCV camera index (e.g. 0 for /dev/video0)")
    parser.add_argument(
        "--frames",
        type=int,
        default=None,
        help="built-in sequence length (default 254), or stop a video/camera after N frames",
    )
    parser.add_argument("--rate", type=float, default=0.0, help="publish rate in Hz (0 = the source's own)")
    parser.add_argument("--out", type=Path, default=REPO / "demo_out", help="output folder (default demo_out/)")
    args = parser.parse_args(argv)
    if args.video and not Path(args.video).expanduser().is_file():
        parser.error(f"--video {args.video}: no such file")
    if args.frames is not None and args.frames < 1:
        parser.error("--frames must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from facemesh_ros.simulation.demo_sequence import DEFAULT_FRAMES, DemoSequence

    sequence = None
    if not args.video and args.camera is None:
        args.frames = args.frames or DEFAULT_FRAMES
        sequence = DemoSequence(PHOTO_DIR, args.frames)  # fails early and clearly when the photos are missing
    out = args.out.resolve()
    for old in ("face_mesh.mcap", "face_mesh.mp4", "contact_sheet.png", "summary.json"):
        (out / old).unlink(missing_ok=True)
    total = (
        len(sequence)
        if sequence is not None
        else (args.frames or (CAMERA_FRAMES if args.camera is not None else _video_length(args.video)))
    )
    started = time.monotonic()
    try:
        run_graph(args, out, total)
    except RuntimeError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    recording = read_recording(out / "face_mesh.mcap")
    if not recording.faces:
        print(f"demo failed: no FaceMeshArray was recorded; see {out}/logs/", file=sys.stderr)
        return 1
    first, last = recording.stamps[0], max(recording.face_log_ns.values())
    summary = analyse(recording, sequence, (last - first) / 1e9)
    summary["published"] = published_frames(out / "logs" / "player.log")
    summary["video_frames"], summary["contact_sheet_frames"], summary["contact_sheet_effect_tiles"] = write_images(
        out / "face_mesh.mcap", recording, summary, sequence, out
    )
    if sequence is not None:
        try:
            summary["head_tracking"] = head_tracking(out)
        except RuntimeError as error:
            print(f"demo failed: head tracking loop: {error}", file=sys.stderr)
            return 1
    summary["wall_time_s"] = round(time.monotonic() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(format_summary(summary, out, sequence))
    return 0


def head_tracking(out: Path) -> dict:
    """Run the closed head-tracking loop; its plot goes below the contact sheet; its summary is returned."""
    from head_tracking_loop import analyse_loop, plot_loop, read_truth, run_loop

    truth = read_truth(run_loop(out, start, executable))
    summary = analyse_loop(truth)
    sheet_path = out / "contact_sheet.png"
    sheet = cv2.imread(str(sheet_path))
    plot = plot_loop(truth, summary, (sheet.shape[1], 300))
    cv2.imwrite(str(sheet_path), np.vstack([sheet, plot]))
    cv2.imwrite(str(out / "head_tracking.png"), plot_loop(truth, summary))
    return summary


def _video_length(path: str) -> int | None:
    capture = cv2.VideoCapture(path)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count if count > 0 else None


if __name__ == "__main__":
    sys.exit(main())
