"""Where the model files are: the one resolver for the .onnx models and the canonical face model.

Weightless (no onnxruntime): the geometry and connection modules find the canonical face model through it
without loading the inference runtime.
"""

from __future__ import annotations

import os
from pathlib import Path

MODELS_ENV = "FACEMESH_ROS_MODELS_DIR"


def models_dir() -> Path:
    """The models directory: $FACEMESH_ROS_MODELS_DIR, else <repo>/models, else the package's own models/ (the
    pip wheel, setup.py), else <prefix>/share/.../models (colcon).

    The repo layout is <repo>/facemesh_ros/model_paths.py; an installed package sits in
    <prefix>/lib/python3.X/site-packages/facemesh_ros/, its data in <prefix>/share/facemesh_ros/models.
    When none exists the repo path is returned, so the load error names a concrete file.
    """
    override = os.environ.get(MODELS_ENV)
    if override:
        return Path(override).expanduser()
    here = Path(__file__).resolve()
    candidates = [here.parents[1] / "models", here.parent / "models"]
    if len(here.parents) > 4:
        candidates.append(here.parents[4] / "share" / "facemesh_ros" / "models")
    return next((path for path in candidates if path.is_dir()), candidates[0])
