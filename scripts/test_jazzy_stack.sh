#!/usr/bin/env bash
# Second test leg of `make test`: the ROS-free tests (core, geometry with distortion, effects, drawing,
# models, the wheel) on stock ROS 2 Jazzy's Python stack: Python 3.12 with Ubuntu 24.04's numpy, OpenCV and
# transforms3d (requirements-jazzy-stack.txt), in .venv-jazzy/ (created once; pip reruns only when the file
# changes). Test modules that need rclpy or the messages are left out (test/conftest.py, ROS_TEST_MODULES).
#
# Python 3.12: $FACEMESH_ROS_PYTHON312, else pyenv's 3.12 (`PYENV_VERSION=3.12.1 pyenv which python3.12`, any
# installed 3.12.x), else python3.12 on PATH (Ubuntu 24.04's). Where there is none the leg is skipped with a
# warning, except under CI=true, where it fails: CI must run it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$PWD/.venv-jazzy

find_python312() {
  if [ -n "${FACEMESH_ROS_PYTHON312:-}" ]; then echo "$FACEMESH_ROS_PYTHON312"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    local version
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
      PYENV_VERSION=$version pyenv which python3.12 2>/dev/null && return
    done
  fi
  command -v python3.12 || true
}

python=$(find_python312)
if [ -z "$python" ]; then
  if [ "${CI:-}" = true ]; then
    echo "jazzy-stack leg: no Python 3.12 found (set FACEMESH_ROS_PYTHON312)" >&2
    exit 1
  fi
  echo "jazzy-stack leg: SKIPPED, no Python 3.12 here (pyenv install 3.12, or set FACEMESH_ROS_PYTHON312)" >&2
  exit 0
fi

stamp=$venv/.facemesh_ros-requirements
wanted=$(cat requirements-jazzy-stack.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  echo "jazzy-stack leg: creating $venv with $python"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "jazzy-stack leg: installing requirements-jazzy-stack.txt"
  mkdir -p log
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-jazzy-stack.txt \
        >log/pip-install-jazzy-stack.txt 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" log/pip-install-jazzy-stack.txt >&2
    echo "jazzy-stack leg: pip install failed" >&2
    exit 1
  fi
  echo "$wanted" > "$stamp"
fi

echo "jazzy-stack leg: $("$venv/bin/python" -c 'import sys, numpy, cv2; print(
  f"Python {sys.version.split()[0]}, numpy {numpy.__version__}, OpenCV {cv2.__version__}")')"
# Only this checkout's sources and the venv: nothing of the ROS environment that `make test` sourced.
exec env -u AMENT_PREFIX_PATH -u CMAKE_PREFIX_PATH -u PYTHONPATH -u VIRTUAL_ENV -u LD_LIBRARY_PATH \
  PATH="$venv/bin:/usr/bin:/bin" PYTHONPATH="$PWD" FACEMESH_ROS_NO_ROS=1 \
  "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
