"""Shared test setup: real test images, and an isolated DDS domain for tests that talk over ROS 2."""

from __future__ import annotations

import fcntl
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = REPO_ROOT / "test" / "data"

# Each test session gets its own DDS domain and stays on this machine, so parallel runs (a developer's and
# CI's) never hear each other: a random pick alone collided when several suites ran at once, so the domain is
# reserved by an flock held for the whole session (released when the process ends). Set before rclpy loads.
DOMAIN_LOCK_DIR = Path(os.environ.get("TMPDIR", "/tmp"))


def _reserve_dds_domain() -> int:
    first = random.Random(os.getpid()).randrange(101)
    for offset in range(101):
        domain = 1 + (first + offset) % 101
        lock = os.open(DOMAIN_LOCK_DIR / f"facemesh_ros_dds_domain_{domain}.lock", os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            continue
        return domain  # the descriptor stays open: the lock lives as long as this process
    raise RuntimeError(f"all DDS domains 1..101 are reserved by other test runs ({DOMAIN_LOCK_DIR})")


if "ROS_DOMAIN_ID" not in os.environ:
    os.environ["ROS_DOMAIN_ID"] = str(_reserve_dds_domain())
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


# Modules that need rclpy or the generated messages. The Jazzy-stack leg (scripts/test_jazzy_stack.sh, a venv
# without any ROS) sets FACEMESH_ROS_NO_ROS and runs every other module.
ROS_TEST_MODULES = frozenset(
    {
        "test_demo.py",
        "test_effect_node.py",
        "test_launch.py",
        "test_launch_and_config.py",
        "test_messages.py",
        "test_node.py",
        "test_package.py",
        "test_ros_camera_model.py",
        "test_ros_image_codec.py",
        "test_ros_outputs.py",
        "test_ros_node_helpers.py",
        "test_node_blendshapes.py",
        "test_node_faults.py",
        "test_ros_diagnostics.py",
        "test_head_tracker_node.py",
        "test_lifecycle.py",
        "test_ros4hri.py",
        "test_colcon.py",
    }
)


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    if os.environ.get("FACEMESH_ROS_NO_ROS") and collection_path.name in ROS_TEST_MODULES:
        return True
    return None


@pytest.fixture(scope="module")
def ros() -> Iterator[None]:
    """rclpy initialised for the tests of one module (each module that talks over DDS gets a fresh context)."""
    import rclpy  # here, not at the top: most test modules never touch ROS

    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture(scope="session")
def test_data_dir() -> Path:
    """The fetched real images; fails (never skips) when they are missing, as CI fetches them."""
    if not (TEST_DATA_DIR / "astronaut.png").is_file():
        subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "fetch_test_data.py")], check=True)
    return TEST_DATA_DIR
