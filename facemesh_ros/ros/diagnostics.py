"""The face_mesh node's frame statistics and the /diagnostics status built from them.

FrameStats is filled by the image callback and the worker thread and read (and reset) by the diagnostics
timer: every method takes the lock, so the counts of one period are consistent.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

STATS_WINDOW = 300  # processing times kept for the diagnostics percentiles


@dataclass(frozen=True)
class StatsPeriod:
    """What happened since the previous diagnostics message."""

    seconds: float
    received: int
    dropped: int
    processed: int
    rejected: int
    faces: int  # faces tracked in the last processed frame
    processing_ms: np.ndarray  # the last STATS_WINDOW processing times (never empty: zeros before any)


class FrameStats:
    """Counters of received, dropped (replaced before processing), processed and rejected frames."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processing_ms: deque[float] = deque(maxlen=STATS_WINDOW)
        self._faces = 0
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self._since = now
        self._received = self._dropped = self._processed = self._rejected = 0

    def received(self, replaced: bool) -> None:
        with self._lock:
            self._received += 1
            self._dropped += replaced

    def processed(self, milliseconds: float, faces: int) -> None:
        with self._lock:
            self._processed += 1
            self._faces = faces
            self._processing_ms.append(milliseconds)

    def rejected(self) -> None:
        with self._lock:
            self._rejected += 1

    def take_period(self) -> StatsPeriod:
        """The counts since the last call (then reset); processing times and faces carry over."""
        now = time.monotonic()
        with self._lock:
            times = np.array(self._processing_ms) if self._processing_ms else np.zeros(1)
            period = StatsPeriod(
                max(now - self._since, 1e-6),
                self._received,
                self._dropped,
                self._processed,
                self._rejected,
                self._faces,
                times,
            )
            self._reset(now)
        return period


def pipeline_status(name: str, devices: str, input_topic: str, period: StatsPeriod) -> DiagnosticStatus:
    """The node's DiagnosticStatus: WARN without input or with rejected frames, else OK with the face count."""
    status = DiagnosticStatus(name=name, hardware_id=devices)
    if period.received == 0:
        status.level, status.message = DiagnosticStatus.WARN, f"no images on {input_topic}"
    elif period.rejected:
        status.level, status.message = DiagnosticStatus.WARN, f"{period.rejected} frame(s) rejected"
    else:
        status.level, status.message = DiagnosticStatus.OK, f"tracking {period.faces} face(s)"
    values = {
        "input rate (Hz)": f"{period.received / period.seconds:.2f}",
        "processed rate (Hz)": f"{period.processed / period.seconds:.2f}",
        "dropped frames": str(period.dropped),
        "rejected frames": str(period.rejected),
        "processing time p50 (ms)": f"{np.percentile(period.processing_ms, 50):.2f}",
        "processing time p95 (ms)": f"{np.percentile(period.processing_ms, 95):.2f}",
        "faces tracked": str(period.faces),
        "inference device": devices,
    }
    status.values = [KeyValue(key=key, value=value) for key, value in values.items()]
    return status
