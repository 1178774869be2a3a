"""A mailbox of one: the newest item replaces an unprocessed older one, so a slow consumer never queues."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """put() from callbacks, take() from one worker thread; close() wakes the worker for good."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._item: T | None = None
        self._closed = False

    def put(self, item: T) -> bool:
        """Store `item`; True when it replaced an item nobody took (a dropped frame)."""
        with self._ready:
            replaced = self._item is not None
            self._item = item
            self._ready.notify()
        return replaced

    def take(self) -> T | None:
        """Block until an item is there and return it, or return None once the slot is closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed)
            if self._closed:
                return None
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
