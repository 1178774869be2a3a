"""The landmark smoothing MediaPipe Tasks' FaceLandmarker applies to a single face in VIDEO mode.

MediaPipe's LandmarksSmoothingCalculator with a one-euro filter (min_cutoff 0.05, beta 80, derivative
cutoff 1): every coordinate of every landmark, in pixels (x * width, y * height, z * width), filtered on its
own; the speed term is scaled by 1 / object size (mean of the landmarks' bounding-box width and height, in
pixels) so the filter behaves alike for near and far faces. The sampling rate comes from the timestamps.
"""

from __future__ import annotations

import math

import numpy as np

MIN_CUTOFF = 0.05
BETA = 80.0
DERIVATIVE_CUTOFF = 1.0
MIN_OBJECT_SCALE = 1e-6


def _alpha(cutoff: np.ndarray | float, frequency: float) -> np.ndarray | float:
    """Low-pass weight of the new sample for a cutoff frequency (Hz) at a sampling rate (Hz)."""
    time_constant = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + time_constant * frequency)


class LandmarkSmoother:
    """One-euro filter over (N, 3) image-normalized landmarks; reset() when the face is lost."""

    def __init__(
        self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA, derivative_cutoff: float = DERIVATIVE_CUTOFF
    ) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.derivative_cutoff = derivative_cutoff
        self.reset()

    def reset(self) -> None:
        self._last_ns: int | None = None
        self._frequency = 30.0  # Hz until two timestamps give the rate
        self._raw: np.ndarray | None = None  # last input, pixels
        self._value: np.ndarray | None = None  # last output, pixels
        self._speed: np.ndarray | None = None  # low-passed speed, object sizes per second

    def apply(self, landmarks: np.ndarray, timestamp_ms: int, width: int, height: int) -> np.ndarray:
        """Smoothed copy of one face's landmarks (N, 3) float32 at `timestamp_ms` in a width x height image."""
        scale = np.array([width, height, width], np.float64)
        pixels = landmarks.astype(np.float64) * scale
        extent = pixels[:, :2].max(axis=0) - pixels[:, :2].min(axis=0)
        object_scale = float(extent.mean())
        now_ns = int(timestamp_ms) * 1_000_000
        last_ns = self._last_ns
        if object_scale < MIN_OBJECT_SCALE or (last_ns is not None and now_ns <= last_ns):
            return landmarks.copy()
        if last_ns:  # as MediaPipe: no rate from a previous sample at time 0 (measured: matches its output)
            self._frequency = 1e9 / (now_ns - last_ns)
        self._last_ns = now_ns
        if self._raw is None:
            speed = np.zeros_like(pixels)
        else:
            speed = (pixels - self._raw) * (self._frequency / object_scale)
        self._raw = pixels
        self._speed = self._low_pass(self._speed, speed, _alpha(self.derivative_cutoff, self._frequency))
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        self._value = self._low_pass(self._value, pixels, _alpha(cutoff, self._frequency))
        return (self._value / scale).astype(np.float32)

    @staticmethod
    def _low_pass(previous: np.ndarray | None, sample: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
        return sample if previous is None else alpha * sample + (1.0 - alpha) * previous
