# Source me: `source env.bash` gives a shell with the venv's ROS 2 Jazzy and the built facemesh_ros.
# (`make setup` creates both.) Works from any directory.
_facemesh_ros_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -f "$_facemesh_ros_root/install/setup.bash" ]; then
  echo "facemesh_ros: not set up yet, run 'make setup' in $_facemesh_ros_root" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_facemesh_ros_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# shellcheck disable=SC1091
source "$_facemesh_ros_root/install/setup.bash"
# `ros2 run` looks in lib/<package>; without the ros2 CLI, put the executables on PATH.
export PATH="$_facemesh_ros_root/install/facemesh_ros/lib/facemesh_ros:$PATH"
# Large images over shared memory instead of lossy UDP fragments (see the file); keeps a user's own choice.
export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-$_facemesh_ros_root/config/fastdds_large_messages.xml}"
unset _facemesh_ros_root
