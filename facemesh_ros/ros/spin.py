"""The executables' main(): init, spin until SIGINT or shutdown, stop the node's worker, exit cleanly.

A startup error the user can fix (bad parameter, missing model or OpenGL) ends the process with a one-line
fatal log and exit code 1 instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import rclpy
from rclpy.exceptions import InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


class StoppableNode(Protocol):
    def stop(self) -> None: ...


def run_node(create: Callable[[], Node], name: str, args: list[str] | None = None,
             fatal_errors: tuple[type[BaseException], ...] = ()) -> None:
    """Spin the node `create()` returns; `name` labels the fatal log when creating it fails."""
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = create()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (InvalidParameterValueException, *fatal_errors) as error:
        rclpy.logging.get_logger(name).fatal(str(error))
        code = 1
    finally:
        if node is not None:
            stop = getattr(node, "stop", None)
            if stop is not None:
                stop()
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        raise SystemExit(code)
