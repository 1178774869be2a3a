"""facemesh_ros: MediaPipe Face Mesh and Face Geometry for ROS 2, on onnxruntime."""

import pkgutil

# The generated messages (facemesh_ros.msg) live in the install tree, the sources in the checkout: let either
# copy of the package find the other's modules, so `import facemesh_ros.msg` works from the repo root too.
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = "0.1.0"
