"""The pip distribution of the ROS-free library: `pip install .` gives `from facemesh_ros import FaceMesh`.

colcon does not use this file: package.xml's <build_type>ament_cmake</build_type> makes colcon build the
package with CMakeLists.txt (library, messages, nodes, launch files). This wheel holds only the library core
(not the ROS layer facemesh_ros.ros and facemesh_ros.tools, no messages) with the models as package data
(facemesh_ros/models/).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
VERSION = re.search(r"<version>([^<]+)</version>", (ROOT / "package.xml").read_text()).group(1)

setup(
    name="facemesh_ros",
    version=VERSION,
    description="MediaPipe Face Mesh and Face Geometry on onnxruntime (the ROS-free library of facemesh_ros)",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=[
        *find_packages(
            include=["facemesh_ros", "facemesh_ros.*"],
            exclude=["facemesh_ros.ros", "facemesh_ros.ros.*", "facemesh_ros.tools", "facemesh_ros.tools.*"],
        ),
        "facemesh_ros.models",
    ],
    package_dir={"facemesh_ros.models": "models"},
    package_data={
        "facemesh_ros.models": ["*.onnx", "*.npz", "LICENSE", "NOTICE", "README.md", "SHA256SUMS"],
        "facemesh_ros.effects": ["assets/*.png", "assets/*.obj", "assets/README.md"],
    },
    # Ranges, not pins: the library runs on the pip stack (numpy 2, OpenCV 4.14; OpenCV 5 works too) and on
    # stock Jazzy's (numpy 1.26, OpenCV 4.6). With onnxruntime-gpu installed instead of onnxruntime, use --no-deps.
    install_requires=["numpy>=1.26", "opencv-python-headless>=4.6", "transforms3d>=0.4.1", "onnxruntime>=1.17"],
    extras_require={"effects": ["moderngl>=5.8", "glcontext>=2.5"]},
)
