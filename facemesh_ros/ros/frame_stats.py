"""What the face_mesh node reports on /diagnostics: counts of one period, rates, and whether it is stuck.

Levels (one DiagnosticStatus per period):
- ERROR: images arrive but none was processed for STALL_ERROR_S seconds (a stuck worker, or every frame
  rejected): the node is not doing its job, whatever else it says.
- WARN: no image arrived in the period, or some frames were rejected (the log says why).
- OK: frames are processed; the message gives the number of faces and the processed rate.

Frame accounting: "dropped" frames were replaced in the node's one-frame mailbox before the worker took them
(the camera is faster than the pipeline: by design); "lost" frames never reached the callback (a best-effort
sample overwritten in DDS or lost on the wire), counted from gaps in the publisher's sequence numbers while
the topic has a single publisher (with several, their numbers interleave and gaps say nothing).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

STALL_ERROR_S = 3.0
TIMES_WINDOW = 300  # processing times kept for the percentiles
PERIOD_SMOOTHING = 0.1  # weight of the newest interval in the processed-frame period


@dataclass(frozen=True)
class Report:
    level: str  # "OK" | "WARN" | "ERROR"
    message: str
    values: dict[str, str]


class FrameStats:
    """Thread-safe counters: the subscription callback and the worker count, the diagnostics timer reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received = self._dropped = self._lost = self._processed = self._rejected = 0
        self._times_ms: deque[float] = deque(maxlen=TIMES_WINDOW)
        self._faces = 0
        self._period_start = self._started = time.monotonic()
        self._last_processed: float | None = None
        self._frame_period_s: float | None = None
        self._last_sequence: int | None = None
        self._last_reject = ""

    def received(self, replaced: bool, sequence: int | None = None, publishers: int = 1) -> None:
        """A frame reached the callback; `replaced`: it replaced one the worker never took."""
        with self._lock:
            self._received += 1
            self._dropped += replaced
            if sequence is not None and self._last_sequence is not None and publishers == 1:
                self._lost += max(0, sequence - self._last_sequence - 1)
            self._last_sequence = sequence

    def processed(self, processing_ms: float, faces: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._processed += 1
            self._faces = faces
            self._times_ms.append(processing_ms)
            if self._last_processed is not None:
                interval = now - self._last_processed
                previous = self._frame_period_s
                self._frame_period_s = (
                    interval if previous is None else (previous + PERIOD_SMOOTHING * (interval - previous))
                )
            self._last_processed = now

    def rejected(self, reason: str) -> None:
        with self._lock:
            self._rejected += 1
            self._last_reject = reason

    def frame_period_s(self) -> float | None:
        """Smoothed time between processed frames (None before the second one)."""
        with self._lock:
            return self._frame_period_s

    def report(self, topic: str, device: str) -> Report:
        """The period's figures and level; starts the next period."""
        now = time.monotonic()
        with self._lock:
            elapsed = max(now - self._period_start, 1e-6)
            received, dropped, lost = self._received, self._dropped, self._lost
            processed, rejected, faces = self._processed, self._rejected, self._faces
            times = np.array(self._times_ms) if self._times_ms else np.zeros(1)
            last = self._last_processed
            last_reject = self._last_reject
            self._received = self._dropped = self._lost = self._processed = self._rejected = 0
            self._period_start = now
        idle_s = now - (last if last is not None else self._started)
        since = "never" if last is None else f"{now - last:.2f}"
        values = {
            "input rate (Hz)": f"{received / elapsed:.2f}",
            "processed rate (Hz)": f"{processed / elapsed:.2f}",
            "time since last processed frame (s)": since,
            "dropped frames": str(dropped),
            "lost frames": str(lost),
            "rejected frames": str(rejected),
            "processing time p50 (ms)": f"{np.percentile(times, 50):.2f}",
            "processing time p95 (ms)": f"{np.percentile(times, 95):.2f}",
            "faces tracked": str(faces),
            "inference device": device,
        }
        if received and processed == 0 and idle_s >= STALL_ERROR_S:
            why = f" (last rejected: {last_reject})" if rejected and last_reject else ""
            return Report(
                "ERROR", f"stalled: {received} frame(s) arrived but none was processed for {idle_s:.1f} s{why}", values
            )
        if received == 0:
            return Report("WARN", f"no images on {topic}", values)
        if rejected:
            return Report("WARN", f"{rejected} frame(s) rejected", values)
        return Report("OK", f"tracking {faces} face(s) at {processed / elapsed:.1f} Hz", values)
