# Run right after project(composition_interfaces) when scripts/setup.sh builds the upstream package from
# ../shared/ros2-jazzy (CMAKE_PROJECT_composition_interfaces_INCLUDE): the same fix the project's own
# messages need against the PyPI ROS wheels, applied before its rosidl_generate_interfaces().
include(${CMAKE_CURRENT_LIST_DIR}/drop_missing_wheel_includes.cmake)
find_package(rcl_interfaces REQUIRED)
drop_missing_wheel_includes(builtin_interfaces service_msgs rcl_interfaces type_description_interfaces)
