"""The executables' main(): init, spin until SIGINT/SIGTERM or shutdown, stop the node's worker, exit cleanly.

Every startup failure ends the process with one FATAL log line and exit code 1, never a traceback: errors the
user can fix (bad parameter, missing or wrong model, unwritable log directory) say just why; anything else is
named with its type (its traceback is logged at DEBUG level).

Shutdown order: rclpy's own signal handler would invalidate the context at once, while a worker thread may
still be publishing ("publisher's context is invalid"). Here SIGINT/SIGTERM only end the spin loop; then the
node's stop() ends its worker, the node is destroyed, and only then is the context shut down.
"""

from __future__ import annotations

import re
import signal
import threading
import traceback
from collections.abc import Callable
from typing import TypeVar

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from facemesh_ros.ros.throttle import shorten

SPIN_PERIOD_S = 0.1  # how often the spin loop looks at the stop request
MAX_FATAL_CHARS = 600

N = TypeVar("N", bound=Node)


def run_node(
    create: Callable[[], N],
    name: str,
    args: list[str] | None = None,
    fatal_errors: tuple[type[BaseException], ...] = (),
    done: Callable[[N], bool] | None = None,
) -> None:
    """Spin the node `create()` returns until a signal, shutdown or `done(node)`; then call its stop().

    `name` labels the fatal log when creating the node fails; `fatal_errors` are the startup errors logged
    by their message alone. The exit code is the node's `exit_code` attribute when it has one (a player that
    failed mid-way), 1 after a fatal startup error, else 0.
    """
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except Exception as error:  # RCLError: e.g. the log directory cannot be created
        _fatal(name, _init_failure(error))
        raise SystemExit(1) from None
    stop_requested = _stop_on_signals()
    startup_errors: tuple[type[BaseException], ...] = (ParameterException, *fatal_errors)
    node = None
    code = 0
    try:
        try:
            node = create()
        except startup_errors as error:  # only startup errors: not ones while spinning
            _fatal(name, str(error))
            code = 1
        except Exception as error:
            rclpy.logging.get_logger(name).debug(traceback.format_exc())
            _fatal(name, f"cannot start: {type(error).__name__}: {error}")
            code = 1
        if node is not None:
            _spin(node, stop_requested, done)
            code = getattr(node, "exit_code", 0)
    except (KeyboardInterrupt, ExternalShutdownException):  # a second signal: leave without waiting
        pass
    finally:
        if node is not None:
            stop = getattr(node, "stop", None)
            if stop is not None:
                stop()
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        raise SystemExit(code)


def _spin(node: N, stop_requested: threading.Event, done: Callable[[N], bool] | None) -> None:
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop_requested.is_set() and rclpy.ok() and not (done is not None and done(node)):
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    finally:
        executor.remove_node(node)
        executor.shutdown()


def _stop_on_signals() -> threading.Event:
    """An event set by the first SIGINT or SIGTERM; a second one raises KeyboardInterrupt (leave now)."""
    requested = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
    return requested


def _fatal(name: str, message: str) -> None:
    """One line, of bounded length (rclpy's parameter errors repeat the rejected value in full)."""
    rclpy.logging.get_logger(name).fatal(shorten(" ".join(message.split()), MAX_FATAL_CHARS))


def _init_failure(error: Exception) -> str:
    message = re.sub(r",? at \S+:\d+\s*$", "", str(error).strip())  # rcl's source location
    if "log" in message.lower():
        message += " (set ROS_LOG_DIR, or ROS_HOME / HOME, to a writable directory)"
    return f"cannot initialise ROS 2: {message}"
