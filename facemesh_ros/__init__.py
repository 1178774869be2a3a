"""facemesh_ros: MediaPipe Face Mesh and Face Geometry for ROS 2, on onnxruntime.

    from facemesh_ros import FaceMesh
    with FaceMesh(refine_landmarks=True) as face_mesh:
        result = face_mesh.process(rgb)          # H x W x 3 uint8 RGB
        result.multi_face_landmarks              # MediaPipe's result API; result.landmarks: (F, N, 3) numpy

The top level is the pipeline: detect -> roi -> landmarks (or landmarks_v2) -> track -> blendshapes
(face_mesh.FaceMesh ties them), on the weightless types and model_paths. Each other concern has a folder:
geometry/ (metric 3D, head pose), tasks/ (MediaPipe Tasks' FaceLandmarker API), interaction/ (ROS4HRI
views, FACS, the primary face, head tracking), drawing/, effects/,
simulation/ (synthetic input), ros/ (the ROS 2 nodes) and tools/ (player, recorder);
the README's Architecture section orders them. The public names below load on first use, so
`import facemesh_ros.msg` in another node costs no onnxruntime or OpenCV import.
"""

import importlib
import pkgutil

# The generated messages (facemesh_ros.msg) live in the install tree, the sources in the checkout: let either
# copy of the package find the other's modules, so `import facemesh_ros.msg` works from the repo root too.
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = "0.1.0"

_EXPORTS = {
    "face_mesh": ("FaceMesh", "FaceMeshResult", "NormalizedLandmark", "NormalizedLandmarkList"),
    "connections": (
        "FACEMESH_LIPS",
        "FACEMESH_LEFT_EYE",
        "FACEMESH_LEFT_EYEBROW",
        "FACEMESH_LEFT_IRIS",
        "FACEMESH_RIGHT_EYE",
        "FACEMESH_RIGHT_EYEBROW",
        "FACEMESH_RIGHT_IRIS",
        "FACEMESH_FACE_OVAL",
        "FACEMESH_NOSE",
        "FACEMESH_CONTOURS",
        "FACEMESH_IRISES",
        "FACEMESH_TESSELATION",
        "FACEMESH_NUM_LANDMARKS",
        "FACEMESH_NUM_LANDMARKS_WITH_IRISES",
    ),
    "drawing": (
        "DrawingSpec",
        "draw_landmarks",
        "get_default_face_mesh_tesselation_style",
        "get_default_face_mesh_contours_style",
        "get_default_face_mesh_iris_connections_style",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'facemesh_ros' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"facemesh_ros.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
