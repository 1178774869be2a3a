"""Shared test setup: real test images, and an isolated DDS domain for tests that talk over ROS 2."""

from __future__ import annotations

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
# CI's) never hear each other. Set before any test imports rclpy.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 101)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


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
