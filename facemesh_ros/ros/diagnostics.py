"""The face_mesh node's frame statistics and the /diagnostics status built from them.

FrameStats is filled by the image callback and the worker thread and read (and reset) by the diagnostics
timer: every method takes the lock, so the counts of one period are consistent.

Levels (one DiagnosticStatus per period):
- ERROR: images arrive but none was processed for STALL_ERROR_S seconds (a stuck worker, or every frame
  rejected): the node is not doing its job, whatever else it says.
- WARN: no image arrived in the period, or some frames were rejected (the log says why).
- OK: frames are processed; the message gives the number of faces.

Frame accounting: "dropped" frames were replaced in the node's one-frame mailbox before the worker took them
(the camera is faster than the pipeline: by design); "lost" frames never reached the callback (a best-effort
sample overwritten in DDS or lost on the wire), counted from gaps in the publisher's sequence numbers while
the topic has a single publisher (with several, their numbers interleave and gaps say nothing).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

STATS_WINDOW = 300  # processing times kept for the diagnostics percentiles
STALL_ERROR_S = 3.0
PERIOD_SMOOTHING = 0.1  # weight of the newest interval in the processed-frame period


@dataclass(frozen=True)
class StatsPeriod:
    """What happened since the previous diagnostics message."""

    seconds: float
    received: int
    dropped: int
    lost: int
    processed: int
    rejected: int
    faces: int  # faces tracked in the last processed frame
    processing_ms: np.ndarray  # the last STATS_WINDOW processing times (never empty: zeros before any)
    core_ms: np.ndarray  # their parts in the library core: FaceMesh.process, face geometry, smoothing
    overhead_ms: np.ndarray  # the rest: the node's own work (decode, messages, TF, markers, publishing)
    idle_s: float  # since the last processed frame (since the start before the first)
    ever_processed: bool
    last_rejection: str  # why the last frame was rejected ("" when none was)


class FrameStats:
    """Counters of received, dropped (replaced before processing), lost, processed and rejected frames."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._processing_ms: deque[float] = deque(maxlen=STATS_WINDOW)
        self._core_ms: deque[float] = deque(maxlen=STATS_WINDOW)
        self._overhead_ms: deque[float] = deque(maxlen=STATS_WINDOW)
        self._faces = 0
        self._started = clock()
        self._last_processed: float | None = None
        self._frame_period_s: float | None = None
        self._last_sequence: int | None = None
        self._last_rejection = ""
        self._reset(self._started)

    def _reset(self, now: float) -> None:
        self._since = now
        self._received = self._dropped = self._lost = self._processed = self._rejected = 0

    def received(self, replaced: bool, sequence: int | None = None, publishers: int = 1) -> None:
        """A frame reached the callback; `replaced`: it replaced one the worker never took; `sequence`: the
        publisher's sequence number (rmw message info), when the rmw gives one."""
        with self._lock:
            self._received += 1
            self._dropped += replaced
            if sequence is not None and self._last_sequence is not None and publishers == 1:
                self._lost += max(0, sequence - self._last_sequence - 1)
            self._last_sequence = sequence

    def processed(self, milliseconds: float, faces: int, core_ms: float = 0.0) -> None:
        """A frame was processed in `milliseconds`, `core_ms` of them in the library core."""
        now = self._clock()
        with self._lock:
            self._processed += 1
            self._faces = faces
            self._processing_ms.append(milliseconds)
            self._core_ms.append(core_ms)
            self._overhead_ms.append(milliseconds - core_ms)
            if self._last_processed is not None:
                interval, previous = now - self._last_processed, self._frame_period_s
                self._frame_period_s = (
                    interval if previous is None else previous + PERIOD_SMOOTHING * (interval - previous)
                )
            self._last_processed = now

    def rejected(self, reason: str = "") -> None:
        with self._lock:
            self._rejected += 1
            self._last_rejection = reason

    def frame_period_s(self) -> float | None:
        """Smoothed time between processed frames (None before the second one)."""
        with self._lock:
            return self._frame_period_s

    def take_period(self) -> StatsPeriod:
        """The counts since the last call (then reset); processing times and faces carry over."""
        now = self._clock()
        with self._lock:
            times, core, overhead = (
                np.array(window) if window else np.zeros(1)
                for window in (self._processing_ms, self._core_ms, self._overhead_ms)
            )
            last = self._last_processed
            period = StatsPeriod(
                max(now - self._since, 1e-6),
                self._received,
                self._dropped,
                self._lost,
                self._processed,
                self._rejected,
                self._faces,
                times,
                core,
                overhead,
                now - (last if last is not None else self._started),
                last is not None,
                self._last_rejection if self._rejected else "",
            )
            self._reset(now)
        return period


def pipeline_status(name: str, devices: str, input_topic: str, period: StatsPeriod) -> DiagnosticStatus:
    """The node's DiagnosticStatus: the levels of the module docstring, and the period's figures."""
    status = DiagnosticStatus(name=name, hardware_id=devices)
    if period.received and period.processed == 0 and period.idle_s >= STALL_ERROR_S:
        why = f" (last rejected: {period.last_rejection})" if period.last_rejection else ""
        status.level = DiagnosticStatus.ERROR
        status.message = f"stalled: {period.received} frame(s) arrived but none was processed for {period.idle_s:.1f} s"
        status.message += why
    elif period.received == 0:
        status.level, status.message = DiagnosticStatus.WARN, f"no images on {input_topic}"
    elif period.rejected:
        status.level, status.message = DiagnosticStatus.WARN, f"{period.rejected} frame(s) rejected"
    else:
        status.level, status.message = DiagnosticStatus.OK, f"tracking {period.faces} face(s)"
    values = {
        "input rate (Hz)": f"{period.received / period.seconds:.2f}",
        "processed rate (Hz)": f"{period.processed / period.seconds:.2f}",
        "time since last processed frame (s)": f"{period.idle_s:.2f}" if period.ever_processed else "never",
        "dropped frames": str(period.dropped),
        "lost frames": str(period.lost),
        "rejected frames": str(period.rejected),
        "processing time p50 (ms)": f"{np.percentile(period.processing_ms, 50):.2f}",
        "processing time p95 (ms)": f"{np.percentile(period.processing_ms, 95):.2f}",
        "library core p50 (ms)": f"{np.percentile(period.core_ms, 50):.2f}",
        "node overhead p50 (ms)": f"{np.percentile(period.overhead_ms, 50):.2f}",
        "faces tracked": str(period.faces),
        "inference device": devices,
    }
    status.values = [KeyValue(key=key, value=value) for key, value in values.items()]
    return status
