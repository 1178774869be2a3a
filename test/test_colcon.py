"""`colcon test` runs this suite: CMakeLists.txt registers it with ament_cmake_pytest.

Running the whole suite from inside itself would be circular and slow, so PYTEST_ADDOPTS (read by the pytest
that ctest starts) narrows it to one known test here; the JUnit file then names exactly that test, and a
selection that matches nothing makes `colcon test` fail.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "build" / "facemesh_ros" / "test_results" / "facemesh_ros" / "pytest.xunit.xml"


def colcon_test(selection: str, log_base: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTEST_ADDOPTS": f"-k {selection}"}
    return subprocess.run(
        [
            "colcon",
            "--log-base",
            str(log_base),
            "test",
            "--base-paths",
            ".",
            "--return-code-on-test-failure",
            "--event-handlers",
            "console_direct-",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_colcon_test_runs_the_pytest_suite(tmp_path: Path) -> None:
    result = colcon_test("test_fetch_notices_a_changed_file", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    suite = ET.parse(RESULTS).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")
    (case,) = suite.iter("testcase")
    assert (case.get("classname"), case.get("name")) == (
        "facemesh_ros.test.test_package",
        "test_fetch_notices_a_changed_file",
    )


def test_colcon_test_fails_when_the_suite_fails(tmp_path: Path) -> None:
    result = colcon_test("no_test_has_this_name", tmp_path)  # pytest: no tests ran (exit 5)
    assert result.returncode != 0
    assert "facemesh_ros" in result.stdout + result.stderr
