#!/usr/bin/env python3
"""The demo's closed head-tracking loop, as three processes over DDS:

    pan_tilt_sim_node --image, camera_info--> face_mesh_node --~/target--> head_tracker_node
          ^------------------------------- ~/command (JointState) ----------------|
          (and joint_states back to the tracker)

A simulated pan/tilt camera on a real photo (facemesh_ros.simulation.pan_tilt_camera) renders what the head
sees; the face jumps to a new direction every few seconds and the head must re-centre it. The sim logs the
face's true offset from the image centre at every servo step; from that come settle times (below TOLERANCE of
the image width), overshoot, and the plot for the contact sheet.

face_mesh runs with detection on every frame here (static_image_mode): the face *teleports* at a jump, and
the tracking landmark model, whose crop comes from the previous frame, follows a teleported face for a few
frames at its old place (3 frames with presence > 0.94 on this photo), which would send the head the wrong way.

    python scripts/head_tracking_loop.py [--out DIR]     (`make demo` runs it after the main graph)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
TOLERANCE = 0.03  # of the image width: "centred"
SETTLE_LIMIT_S = 1.0  # the target: settled within this after each jump
MAX_SPEED = 1.5  # rad/s, the tracker's limit (the simulated servo does 3 rad/s)
LOOP_TIMEOUT_S = 90.0
CAMERA_TOPICS = ["-r", "image:=/head_camera/image", "-r", "camera_info:=/head_camera/camera_info"]
PLOT_SIZE = (1200, 300)


def run_loop(out: Path, start, executable) -> Path:
    """Run the three processes until the sim ends; the truth log's path. `start(name, argv, logs)` and
    `executable(name)` are the demo's process helpers."""
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    truth = out / "head_tracking_truth.jsonl"
    truth.unlink(missing_ok=True)
    face_mesh = start(
        "loop_face_mesh",
        [executable("face_mesh_node"), "--ros-args", *CAMERA_TOPICS, "-p", "static_image_mode:=true"],
        logs,
    )
    tracker = start(
        "loop_head_tracker",
        [
            executable("head_tracker_node"),
            "--ros-args",
            "-r",
            "target:=/face_mesh/target",
            "-p",
            f"max_speed:=[{MAX_SPEED}, {MAX_SPEED}]",
        ],
        logs,
    )
    sim = start(
        "loop_pan_tilt_sim",
        [
            executable("pan_tilt_sim_node"),
            "--ros-args",
            *CAMERA_TOPICS,
            "-r",
            "command:=/head_tracker/command",
            "-r",
            "target:=/face_mesh/target",
            "-p",
            f"photo:={REPO / 'test' / 'data' / 'astronaut.png'}",
            "-p",
            f"truth_path:={truth}",
        ],
        logs,
    )
    deadline = time.monotonic() + LOOP_TIMEOUT_S
    try:
        while sim.popen.poll() is None and time.monotonic() < deadline:
            for process in (face_mesh, tracker):
                if process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited early:\n{process.tail()}")
            time.sleep(0.1)
    finally:
        codes = {p.name: p.stop() for p in (sim, tracker, face_mesh)}
    if codes["loop_pan_tilt_sim"] != 0 or not truth.is_file():
        raise RuntimeError(f"the pan/tilt simulation failed ({codes}):\n{sim.tail()}")
    return truth


def read_truth(path: Path) -> dict[str, np.ndarray]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise RuntimeError(f"{path} is empty: the loop never started (no face target reached the sim)")
    return {
        "t": np.array([r["t"] for r in rows]),
        "jump": np.array([r["jump"] for r in rows]),
        "offset": np.array([[r["offset_x"], r["offset_y"]] for r in rows]),
    }


def analyse_loop(truth: dict[str, np.ndarray]) -> dict:
    """Settle times and overshoot per jump, and the offset statistics once settled."""
    from facemesh_ros.simulation.pan_tilt_camera import settling

    t, jump, offset = truth["t"], truth["jump"], truth["offset"]
    jump_times = [float(t[np.argmax(jump == k)]) for k in np.unique(jump)]
    results = settling(t, offset, jump_times, float(t[-1]), TOLERANCE)
    magnitude = np.linalg.norm(offset, axis=1)
    settled = np.zeros(len(t), bool)
    for result, stop in zip(results, [*jump_times[1:], np.inf], strict=True):
        if result.settle_time is not None:
            settled |= (t >= result.time + result.settle_time) & (t < stop)
    jumps = [
        {
            "t_s": round(r.time, 2),
            "initial_offset_pct": round(100 * r.initial_offset, 1),
            "settle_s": None if r.settle_time is None else round(r.settle_time, 2),
            "overshoot_pct": round(100 * r.overshoot, 1),
        }
        for r in results
    ]
    # the first "jump" is the initial acquisition (the head may already be turning when the clock starts)
    judged = jumps[1:]
    return {
        "tolerance_pct": 100 * TOLERANCE,
        "jumps": jumps,
        "all_settled_within_1s": all(j["settle_s"] is not None and j["settle_s"] <= SETTLE_LIMIT_S for j in judged),
        "max_settle_s": max((j["settle_s"] for j in judged if j["settle_s"] is not None), default=None),
        "max_overshoot_pct": max((j["overshoot_pct"] for j in judged), default=0.0),
        "settled_offset_pct": {
            "p50": round(float(np.percentile(100 * magnitude[settled], 50)), 2) if settled.any() else None,
            "p95": round(float(np.percentile(100 * magnitude[settled], 95)), 2) if settled.any() else None,
        },
        "duration_s": round(float(t[-1]), 1),
    }


def plot_loop(truth: dict[str, np.ndarray], summary: dict, size: tuple[int, int] = PLOT_SIZE) -> np.ndarray:
    """The face's offset from the image centre over time (x, y and the distance, % of the width), the
    tolerance band and the jumps: a BGR image."""
    width, height = size
    left, right, top, bottom = 60, 20, 40, 30
    plot = np.full((height, width, 3), 18, np.uint8)
    t, offset = truth["t"], 100 * truth["offset"]
    limit = max(5.0, float(np.ceil(np.abs(offset).max() / 5.0) * 5.0))
    duration = max(float(t[-1]), 1e-3)

    def to_pixels(times: np.ndarray, values: np.ndarray) -> np.ndarray:
        x = left + times / duration * (width - left - right)
        y = top + (1.0 - (values + limit) / (2 * limit)) * (height - top - bottom)
        return np.stack([x, y], axis=1).round().astype(np.int32)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for value in (-limit, 0.0, limit):
        y = int(to_pixels(np.zeros(1), np.array([value]))[0, 1])
        cv2.line(plot, (left, y), (width - right, y), (70, 70, 70), 1)
        cv2.putText(plot, f"{value:+.0f}%", (5, y + 4), font, 0.4, (200, 200, 200), 1, cv2.LINE_AA)
    band = TOLERANCE * 100
    y0, y1 = (int(to_pixels(np.zeros(1), np.array([v]))[0, 1]) for v in (band, -band))
    cv2.rectangle(plot, (left, y0), (width - right, y1), (40, 80, 40), -1)
    for jump in summary["jumps"]:
        x = int(to_pixels(np.array([jump["t_s"]]), np.zeros(1))[0, 0])
        cv2.line(plot, (x, top), (x, height - bottom), (120, 120, 120), 1)
        label = "start" if jump is summary["jumps"][0] else f"{jump['settle_s']} s"
        cv2.putText(plot, label, (x + 3, top + 12), font, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
    series = (
        (offset[:, 0], (255, 160, 60), "x"),
        (offset[:, 1], (60, 160, 255), "y"),
        (np.linalg.norm(offset, axis=1), (255, 255, 255), "|offset|"),
    )
    for values, color, _ in series:
        cv2.polylines(plot, [to_pixels(t, values)], False, color, 1, cv2.LINE_AA)
    title = (
        f"head tracking, closed loop: face offset from the image centre (% of width) over {duration:.0f} s; "
        f"band = {band:.0f}%; x orange, y blue, |offset| white"
    )
    cv2.putText(plot, title, (left, 22), font, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(plot, "t (s)", (width - right - 40, height - 8), font, 0.4, (200, 200, 200), 1, cv2.LINE_AA)
    return plot


def format_loop(summary: dict) -> str:
    jumps = ", ".join(
        f"{j['initial_offset_pct']:.0f}% -> {'never' if j['settle_s'] is None else str(j['settle_s']) + ' s'}"
        f" (overshoot {j['overshoot_pct']}%)"
        for j in summary["jumps"][1:]
    )
    settled = summary["settled_offset_pct"]
    return (
        f"settle below {summary['tolerance_pct']:.0f}% of the width after each jump: {jumps}; "
        f"offset once settled p50 {settled['p50']}% / p95 {settled['p95']}%"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "demo_out")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from demo import executable, start

    out = args.out.resolve()
    truth = read_truth(run_loop(out, start, executable))
    summary = analyse_loop(truth)
    cv2.imwrite(str(out / "head_tracking.png"), plot_loop(truth, summary))
    (out / "head_tracking.json").write_text(json.dumps(summary, indent=1))
    print(format_loop(summary))
    return 0 if summary["all_settled_within_1s"] else 1


if __name__ == "__main__":
    sys.exit(main())
