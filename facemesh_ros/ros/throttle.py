"""Log throttling per kind of problem, for the nodes' per-frame errors and warnings.

rclpy's throttle_duration_sec throttles one call site, so two different problems logged by the same line
hide each other; this throttles each kind on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ERROR_THROTTLE_S = 5.0


class KindThrottle:
    """due(kind) is True at most once per `period_s` for each kind (the first time at once)."""

    def __init__(self, period_s: float = ERROR_THROTTLE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = period_s
        self._clock = clock
        self._last: dict[str, float] = {}

    def due(self, kind: str) -> bool:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.period_s:
            return False
        self._last[kind] = now
        return True
