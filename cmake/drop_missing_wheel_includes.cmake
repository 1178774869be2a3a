# The PyPI ROS wheels export an include directory of the machine that built them
# (/opt/python/cp311-cp311/include/python3.11) on their <pkg>::<pkg>__rosidl_generator_py targets, and CMake
# refuses to generate with a non-existent include directory. Drop such entries; on a regular ROS install
# every entry exists and nothing changes.
function(drop_missing_wheel_includes)
  foreach(dep ${ARGN})
    set(target "${dep}::${dep}__rosidl_generator_py")
    if(NOT TARGET ${target})
      continue()
    endif()
    get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT include_dirs)
      continue()
    endif()
    set(existing_dirs "")
    foreach(dir IN LISTS include_dirs)
      if(EXISTS "${dir}" OR dir MATCHES "^\\$<")
        list(APPEND existing_dirs "${dir}")
      endif()
    endforeach()
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${existing_dirs}")
  endforeach()
endfunction()

# When the venv lives inside the source tree (`make setup` puts it in .venv/), CMake refuses to export the
# numpy include directory that rosidl_generator_py adds to the generated Python extension's interface
# ("prefixed in the source directory"). Only the extension itself needs it, at build time.
function(keep_venv_includes_private target)
  get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  if(NOT include_dirs)
    return()
  endif()
  set(kept "")
  foreach(dir IN LISTS include_dirs)
    string(FIND "${dir}" "${CMAKE_SOURCE_DIR}/" at)
    if(at EQUAL 0)
      list(APPEND kept "$<BUILD_INTERFACE:${dir}>")
    else()
      list(APPEND kept "${dir}")
    endif()
  endforeach()
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${kept}")
endfunction()
