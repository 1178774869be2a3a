# Passed as CMAKE_PROJECT_hri_msgs_INCLUDE by scripts/setup.sh: builds the unmodified upstream hri_msgs
# (../shared/hri_msgs) against the PyPI msg wheels. It runs right after hri_msgs' project(), before its
# find_package() calls create the wheels' targets, so the fix (drop_missing_wheel_includes.cmake) is deferred
# to the end of its CMakeLists.txt, which is still before CMake checks the include directories.
include(${CMAKE_CURRENT_LIST_DIR}/drop_missing_wheel_includes.cmake)
cmake_language(DEFER CALL drop_missing_wheel_includes builtin_interfaces std_msgs sensor_msgs geometry_msgs
  service_msgs)
