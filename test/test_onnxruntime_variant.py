"""scripts/onnxruntime_variant.sh: which onnxruntime wheel `make setup` installs for which NVIDIA driver.

These machines have no GPU, so the driver's nvidia-smi is played by a script printing the header lines of a
real nvidia-smi; the machine's own answer (no driver here) is checked as it is.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "onnxruntime_variant.sh"
HEADER = (
    "+-----------------------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI {driver}              Driver Version: {driver}      CUDA Version: {cuda}     |\n"
)


def variant(path: str) -> tuple[str, str]:
    out = subprocess.run(
        ["bash", str(SCRIPT)], env={**os.environ, "PATH": path}, capture_output=True, text=True, check=True
    ).stdout.strip()
    chosen, reason = out.split(" ", 1)
    return chosen, reason


def with_driver(tmp_path: Path, cuda: str, exit_code: int = 0) -> str:
    tool = tmp_path / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\nprintf '{HEADER.format(driver='580.65.06', cuda=cuda)}'\nexit {exit_code}\n")
    tool.chmod(0o755)
    return f"{tmp_path}:/usr/bin:/bin"


def test_this_machine_without_a_driver_gets_the_cpu_build() -> None:
    assert variant("/usr/bin:/bin") == ("cpu", "no NVIDIA driver (nvidia-smi missing or failing)")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="PyPI's onnxruntime-gpu wheels are x86_64 only")
@pytest.mark.parametrize(
    ("cuda", "expected"), [("13.0", "gpu"), ("13.1", "gpu"), ("12.4", "gpu-cuda12"), ("11.8", "cpu")]
)
def test_cuda_major_picks_the_wheel(tmp_path: Path, cuda: str, expected: str) -> None:
    chosen, reason = variant(with_driver(tmp_path, cuda))
    assert chosen == expected
    assert f"CUDA {cuda.split('.')[0]}" in reason
    assert (REPO / f"requirements-onnxruntime-{chosen}.txt").is_file()


def test_a_failing_driver_gets_the_cpu_build(tmp_path: Path) -> None:
    assert variant(with_driver(tmp_path, "12.4", exit_code=9))[0] == "cpu"


def test_each_variant_pins_the_wheel_it_names() -> None:
    pins = {path.name: path.read_text().split()[0] for path in REPO.glob("requirements-onnxruntime-*.txt")}
    assert pins == {
        "requirements-onnxruntime-cpu.txt": "onnxruntime==1.31.1",
        "requirements-onnxruntime-gpu.txt": "onnxruntime-gpu==1.31.1",
        "requirements-onnxruntime-gpu-cuda12.txt": "onnxruntime-gpu==1.26.0",
    }
