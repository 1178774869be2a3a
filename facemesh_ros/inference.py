"""onnxruntime sessions for the converted MediaPipe models (no ROS imports).

The models live in models/ (see models/README.md for their inputs and outputs). Regenerate them with
`make models` (= `.venv/bin/python -m scripts.models.build_models`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from facemesh_ros.model_paths import models_dir
from facemesh_ros.types import DEVICES

LOG = logging.getLogger(__name__)

REGENERATE_HINT = "regenerate the models with `make models` (.venv/bin/python -m scripts.models.build_models)"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class ModelLoadError(RuntimeError):
    """A model file is missing, cannot be loaded by onnxruntime, or is not the model its name says."""


# What each packaged model must look like (models/README.md), checked when it loads: a wrong file under a
# known name (another model copied over it) fails at startup instead of at every frame. Shapes are NHWC
# inputs and the outputs' per-face shape; the batch dimension is dynamic.
_ATTENTION_OUTPUTS: dict[str, tuple[int, ...]] = {
    "landmarks": (1404,),
    "lips": (160,),
    "left_eye": (142,),
    "right_eye": (142,),
    "left_iris": (10,),
    "right_iris": (10,),
    "face_flag": (1,),
}
EXPECTED_MODELS: dict[str, tuple[tuple[int, ...], dict[str, tuple[int, ...]]]] = {
    "face_detection_short_range.onnx": ((128, 128, 3), {"regressors": (896, 16), "classificators": (896, 1)}),
    "face_detection_full_range.onnx": ((192, 192, 3), {"regressors": (2304, 16), "classificators": (2304, 1)}),
    "face_landmark.onnx": ((192, 192, 3), {"landmarks": (1404,), "face_flag": (1,)}),
    "face_landmark_with_attention.onnx": ((192, 192, 3), _ATTENTION_OUTPUTS),
    "iris_landmark.onnx": ((64, 64, 3), {"eye_contour": (213,), "iris": (15,)}),
    "face_landmark_v2.onnx": ((256, 256, 3), {"landmarks": (1434,), "face_flag": (1,), "aux_score": (1,)}),
    "face_blendshapes.onnx": ((146, 2), {"blendshapes": (52,)}),
}
MODEL_INPUT_NAME = "input"


def select_providers(device: str, available: list[str] | None = None) -> list[str]:
    """onnxruntime execution providers for "auto", "cuda" or "cpu", best first.

    auto: CUDA when onnxruntime offers it, else CPU (logged at INFO with the reason).
    cuda: CUDA then CPU; when onnxruntime has no CUDA provider (CPU-only wheel, no GPU build) this warns and
    falls back to CPU rather than failing, so a launch file written for a GPU machine still runs elsewhere.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if available is None:
        available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if CUDA in available:
        return [CUDA, CPU]
    reason = f"onnxruntime offers no {CUDA} (available: {', '.join(available) or 'none'})"
    if device == "cuda":
        LOG.warning("device 'cuda' requested but %s; running on CPU", reason)
    else:
        LOG.info("device 'auto': %s; running on CPU", reason)
    return [CPU]


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """The fastest CPU configuration measured for these models on this 2-core machine (bench/bench_models.py).

    - ORT_ENABLE_ALL: enables the NCHWc layout transformer (blocked-layout conv kernels with fused Relu and
      Add); ~3x faster than ORT_ENABLE_EXTENDED on the landmark model. The converter keeps every op of the
      conv trunks NCHWc-compatible (PRelu and channel Pad rewritten as 1x1 convs), so no reorders remain.
    - intra-op threads default min(2, cores), with onnxruntime's default spin-wait: 0.38 ms vs 0.59 ms for
      one thread on face_landmark at batch 1, 0.32 vs 0.61 ms per face at batch 4. Without spinning, two
      threads were slower than one (0.72 ms): each small conv hands work to the pool, and waking a sleeping
      thread costs more than the conv. When other processes keep both cores busy, spinning threads lose
      (measured 0.61-0.72 ms vs 0.58 for one thread): pass threads=1 where the cores are needed elsewhere.
    - sequential execution, one inter-op thread: the graphs are chains, parallel mode only adds overhead.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = min(2, os.cpu_count() or 1) if threads is None else threads
    options.inter_op_num_threads = 1
    return options


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    """A bare name string ("face_landmark" or "face_landmark.onnx") means models_dir(); else a file path."""
    if isinstance(name_or_path, str) and "/" not in name_or_path and os.sep not in name_or_path:
        name = name_or_path if name_or_path.endswith(".onnx") else name_or_path + ".onnx"
        return models_dir() / name
    return Path(name_or_path)


def scores_from_logits(logits: np.ndarray) -> np.ndarray:
    """Logistic of raw model logits, clipped to [-100, 100] first as MediaPipe does (float64: e^100 fits)."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, np.float64), -100.0, 100.0)))


class OnnxModel:
    """One converted model: `run(x)` takes an NHWC float32 batch and returns {output name: array}."""

    def __init__(self, name_or_path: str | os.PathLike, device: str = "auto", threads: int | None = None):
        self.path = resolve_model_path(name_or_path)
        requested = select_providers(device)
        if not self.path.is_file():
            raise ModelLoadError(f"model file {self.path} not found; {REGENERATE_HINT}")
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=session_options(threads), providers=requested
            )
        except Exception as error:  # onnxruntime raises several types for unreadable models
            message = f"cannot load model file {self.path} ({error}); {REGENERATE_HINT}"
            raise ModelLoadError(message) from error
        self.providers: list[str] = self.session.get_providers()
        if requested[0] == CUDA and self.providers[0] != CUDA:
            LOG.warning("%s: CUDA requested but onnxruntime created a %s session", self.path.name, self.providers[0])
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(f"model file {self.path} has {len(inputs)} inputs, expected 1")
        self.input_name: str = inputs[0].name
        self.input_shape: tuple[int | None, ...] = _static_shape(inputs[0].shape)
        self.output_names: list[str] = [output.name for output in self.session.get_outputs()]
        if self.path.name in EXPECTED_MODELS:
            self._check_signature(*EXPECTED_MODELS[self.path.name])

    def _check_signature(self, input_shape: tuple[int, ...], outputs: dict[str, tuple[int, ...]]) -> None:
        """Raise ModelLoadError unless the graph has the input and outputs `self.path.name` must have."""
        expected = f"{MODEL_INPUT_NAME} [N, {', '.join(map(str, input_shape))}] -> " + ", ".join(
            f"{name} [N, {', '.join(map(str, shape))}]" for name, shape in outputs.items()
        )
        found_outputs = {o.name: _static_shape(o.shape) for o in self.session.get_outputs()}
        found = f"{self.input_name} {_shown(self.input_shape)} -> " + ", ".join(
            f"{name} {_shown(shape)}" for name, shape in found_outputs.items()
        )
        if (
            self.input_name != MODEL_INPUT_NAME
            or self.input_shape[1:] != input_shape
            or {name: shape[1:] for name, shape in found_outputs.items()} != outputs
        ):
            raise ModelLoadError(
                f"model file {self.path} is not {self.path.stem}: expected {expected}, found {found}; {REGENERATE_HINT}"
            )

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run a batch [N, H, W, C]; a single image [H, W, C] is not accepted (say x[None])."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        expected = self.input_shape
        if x.ndim != len(expected) or any(e is not None and e != s for e, s in zip(expected, x.shape, strict=True)):
            shown = ["N" if d is None else d for d in expected]
            raise ValueError(f"{self.path.name}: input shape {list(x.shape)} does not match {shown}")
        outputs = self.session.run(self.output_names, {self.input_name: x})
        return dict(zip(self.output_names, outputs, strict=True))

    def __repr__(self) -> str:
        return f"OnnxModel({self.path.name}, providers={self.providers})"


def _static_shape(shape: list) -> tuple[int | None, ...]:
    """onnxruntime's shape with symbolic (dynamic) dimensions as None."""
    return tuple(d if isinstance(d, int) else None for d in shape)


def _shown(shape: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"
