"""Capture what native libraries (libjpeg, libpng, OpenCV) print on stderr while a block of code runs.

Those libraries report a corrupt frame by printing a line to file descriptor 2, one per frame, which would
bypass the node's throttled log and say nothing to the caller. captured_stderr() points fd 2 at an in-memory
file for the duration of the block (a few milliseconds of decoding) and hands the block's lines to the caller.
Other threads may log in that window too: lines in the ROS console format or Python logging's default format
are written back to the real stderr unchanged, so no log line is lost (only delayed by the block's length).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_CAPTURED_BYTES = 64 * 1024
# Log records of this process, not library output: rcutils' console format "[INFO] [1700000000.1] [name]: ...",
# Python logging's default format "WARNING:name:..."
_LOG_RECORD = re.compile(r"^(\[(DEBUG|INFO|WARN|ERROR|FATAL)\]|(DEBUG|INFO|WARNING|ERROR|CRITICAL):)")

_lock = threading.Lock()
_sink_fd: int | None = None


def _sink() -> int:
    global _sink_fd
    if _sink_fd is None:
        if hasattr(os, "memfd_create"):
            _sink_fd = os.memfd_create("facemesh_ros_stderr")
        else:  # not Linux: an unlinked temporary file, kept open by the duplicate descriptor
            with tempfile.TemporaryFile() as file:
                _sink_fd = os.dup(file.fileno())
    return _sink_fd


@contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Yield a list that, after the block, holds the lines native code wrote to stderr inside it."""
    lines: list[str] = []
    with _lock:
        sink = _sink()
        os.ftruncate(sink, 0)
        os.lseek(sink, 0, os.SEEK_SET)
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink, 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            text = os.pread(sink, MAX_CAPTURED_BYTES, 0).decode("utf-8", "replace")
    passed_on: list[str] = []
    for line in text.splitlines():
        (passed_on if _LOG_RECORD.match(line) else lines).append(line)
    if passed_on:
        os.write(2, ("\n".join(passed_on) + "\n").encode())
    lines[:] = [line for line in lines if line.strip()]
