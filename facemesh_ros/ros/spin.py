"""The executables' main(): init, spin until SIGINT or shutdown, stop the node's worker, exit cleanly.

A startup error the user can fix (bad parameter, missing model or OpenGL) ends the process with a one-line
fatal log and exit code 1 instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

N = TypeVar("N", bound=Node)


def run_node(
    create: Callable[[], N],
    name: str,
    args: list[str] | None = None,
    fatal_errors: tuple[type[BaseException], ...] = (),
    spin: Callable[[N], None] = rclpy.spin,
) -> None:
    """Spin the node `create()` returns until shutdown (or until `spin` returns); then call its stop().

    `name` labels the fatal log when creating the node fails. The exit code is the node's `exit_code`
    attribute when it has one (a player that failed mid-way), 1 after a fatal startup error, else 0.
    """
    startup_errors: tuple[type[BaseException], ...] = (ParameterException, *fatal_errors)
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        try:
            node = create()
        except startup_errors as error:  # only startup errors: not ones while spinning
            rclpy.logging.get_logger(name).fatal(str(error))
            code = 1
        if node is not None:
            spin(node)
            code = getattr(node, "exit_code", 0)
    except (KeyboardInterrupt, ExternalShutdownException):
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
