"""MediaPipe Tasks' Python API for the face landmarker, on this package's ONNX models.

Code written for MediaPipe Tasks runs with its imports pointed here:

    from facemesh_ros.tasks import BaseOptions, vision      # was: from mediapipe.tasks.python import ...
    options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path="face_landmarker.task"),
                                           output_face_blendshapes=True, num_faces=2)
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(vision.Image.create_from_file("face.jpg"))   # or mediapipe.Image, numpy
        result.face_landmarks[0][1].x, result.face_blendshapes[0][25].category_name   # "jawOpen"

The .task file named in BaseOptions is not read: the converted models in models/ (the same networks,
face_landmarker.task of MediaPipe 0.10.x) always run. See facemesh_ros.tasks.vision.
"""

import importlib

__all__ = ["BaseOptions", "vision"]


def __getattr__(name: str) -> object:  # on first use: facemesh_ros.tasks.smoothing alone stays light
    if name not in __all__:
        raise AttributeError(f"module 'facemesh_ros.tasks' has no attribute {name!r}")
    vision = importlib.import_module("facemesh_ros.tasks.vision")
    value = vision if name == "vision" else getattr(vision, name)
    globals()[name] = value
    return value
