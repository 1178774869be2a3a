"""Helpers for the Face Mesh tests: test images, MediaPipe fixtures, error in % of inter-ocular distance."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemesh_ros.simulation.virtual_camera import VirtualCamera

TEST_DIR = Path(__file__).resolve().parent
DATA = TEST_DIR / "data"
FIXTURES = TEST_DIR / "fixtures"
FETCH_HINT = "run .venv/bin/python scripts/fetch_test_data.py"
REFERENCE_HINT = "run .venv-ref/bin/python scripts/make_mediapipe_references.py"
MEAN_LIMIT = 0.5  # % of the inter-ocular distance (landmarks 33-263), the acceptance bar
WORST_LIMIT = 1.5


def read_rgb(name: str) -> np.ndarray:
    path = DATA / name
    if not path.is_file():
        pytest.fail(f"{path} missing; {FETCH_HINT}")
    return np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1])


def load_fixture(name: str) -> dict[str, np.ndarray]:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"{path} missing; {REFERENCE_HINT}")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def match_faces(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Our faces reordered to the reference order (nearest mean landmark); counts must already agree."""
    ours_center = ours[:, :, :2].mean(axis=1)
    ref_center = reference[:, :, :2].mean(axis=1)
    order = np.argmin(np.linalg.norm(ours_center[None] - ref_center[:, None], axis=2), axis=1)
    assert len(set(order.tolist())) == len(order), "two reference faces matched the same face"
    return ours[order]


def iod_errors(ours: np.ndarray, reference: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per face: mean 2D landmark distance in % of the reference inter-ocular distance (pixels)."""
    scale = np.array(size, np.float64)
    ours_px = ours[:, :, :2] * scale
    ref_px = reference[:, :, :2] * scale
    iod = np.linalg.norm(ref_px[:, 33] - ref_px[:, 263], axis=1)
    return np.linalg.norm(ours_px - ref_px, axis=2).mean(axis=1) / iod * 100.0


def sequence_camera(tracking: dict[str, np.ndarray], seq: str) -> tuple[VirtualCamera, dict]:
    config = json.loads(str(tracking[f"{seq}/config"]))
    camera = VirtualCamera.from_config(read_rgb(config["photo"]), config)
    return camera, config
