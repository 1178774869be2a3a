"""Logging that hostile input cannot flood: messages keyed by the kind of problem, bounded memory, short lines.

A kind is a short fixed label ("decode:compressed", "camera:principal point"), never a value from the input:
a value changing with every message must not make every message a new kind. Memory is bounded anyway (the
oldest kinds are forgotten past MAX_KINDS), so even a bug that keys by value cannot grow without limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

MAX_KINDS = 64
MAX_TEXT = 200  # characters of an input string shown in a log line


class Logger(Protocol):
    def warning(self, message: str) -> object: ...

    def error(self, message: str) -> object: ...


def shorten(text: object, limit: int = MAX_TEXT) -> str:
    """`text` as a log-safe string: at most `limit` characters, control characters escaped."""
    value = str(text)
    shown = value[:limit].encode("unicode_escape").decode("ascii")
    if len(value) > limit:
        shown += f"... ({len(value) - limit} more characters)"
    return shown


class KindLog:
    """Warn once or log at most once per period for each kind of problem."""

    def __init__(self, logger: Logger, max_kinds: int = MAX_KINDS) -> None:
        self._logger = logger
        self._max_kinds = max_kinds
        self._last: OrderedDict[str, float] = OrderedDict()

    def warn_once(self, kind: str, message: str) -> bool:
        """Log `message` as a warning the first time `kind` is seen; True when it was logged."""
        if kind in self._last:
            return False
        self._remember(kind, time.monotonic())
        self._logger.warning(message)
        return True

    def throttled(self, kind: str, message: str, period_s: float, level: str = "error") -> bool:
        """Log `message` at `level` ("error" or "warning") unless `kind` was logged less than `period_s` ago;
        True when logged."""
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < period_s:
            return False
        self._remember(kind, now)
        # one call site per severity: rclpy refuses a call site whose severity changes between calls
        if level == "warning":
            self._logger.warning(message)
        else:
            self._logger.error(message)
        return True

    def forget(self, kind: str) -> None:
        """Let `kind` be logged again (the problem went away)."""
        self._last.pop(kind, None)

    def _remember(self, kind: str, now: float) -> None:
        self._last[kind] = now
        self._last.move_to_end(kind)
        while len(self._last) > self._max_kinds:
            self._last.popitem(last=False)
