"""Log limits for the nodes' per-frame errors and warnings: throttling per kind of problem, short strings.

rclpy's throttle_duration_sec throttles one call site, so two different problems logged by the same line
hide each other; this throttles each kind on its own. A kind is a short fixed label ("decode:too large",
"principal point"), never a value from the input: a value changing with every message must not make every
message a new kind. Memory is bounded anyway (the oldest kinds are forgotten past MAX_KINDS).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

ERROR_THROTTLE_S = 5.0
MAX_KINDS = 64
MAX_TEXT = 200  # characters of an input string shown in a log line


class KindThrottle:
    """due(kind) is True at most once per `period_s` for each kind (the first time at once); first(kind)
    only the first time."""

    def __init__(
        self,
        period_s: float = ERROR_THROTTLE_S,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = MAX_KINDS,
    ) -> None:
        self.period_s = period_s
        self._clock = clock
        self._max_kinds = max_kinds
        self._last: OrderedDict[str, float] = OrderedDict()

    def due(self, kind: str) -> bool:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.period_s:
            return False
        self._remember(kind, now)
        return True

    def first(self, kind: str) -> bool:
        """True the first time `kind` is seen (a warn-once)."""
        if kind in self._last:
            return False
        self._remember(kind, self._clock())
        return True

    def _remember(self, kind: str, now: float) -> None:
        self._last[kind] = now
        self._last.move_to_end(kind)
        while len(self._last) > self._max_kinds:
            self._last.popitem(last=False)


def shorten(text: object, limit: int = MAX_TEXT) -> str:
    """`text` as a log-safe string: at most `limit` characters, control characters escaped."""
    value = str(text)
    shown = value[:limit].encode("unicode_escape").decode("ascii")
    if len(value) > limit:
        shown += f"... ({len(value) - limit} more characters)"
    return shown
