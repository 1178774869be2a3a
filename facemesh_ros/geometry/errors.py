"""Why a face geometry could not be computed.

Data problems (bad landmarks, bad camera) are expected at run time, so `estimate_face_geometry` returns
None for them; pass ``raise_on_failure=True`` to get a `GeometryError` whose `reason` says why. Camera
constructors always raise `GeometryError` (reason INVALID_CAMERA): a camera that cannot project is a
configuration problem (e.g. an uncalibrated camera_info with K all zeros) best reported once, when it arrives.
"""

from __future__ import annotations

import enum


class FailureReason(enum.Enum):
    """Machine-readable cause of a failed geometry estimate."""

    INVALID_CAMERA = "invalid camera"  # fx/fy <= 0, NaN/inf intrinsics, zero image size, bad distortion
    BAD_SHAPE = "bad landmark shape"  # not (468, 3) or (478, 3)
    NON_FINITE = "non-finite landmarks"  # NaN or inf anywhere in the landmarks
    TOO_COMPACT = "landmarks too compact"  # xy spread <= 1e-3 (MediaPipe skips such faces too)
    DEGENERATE = "degenerate landmarks"  # collinear / rank-deficient: no rotation can be determined
    BEHIND_CAMERA = "points behind camera"  # the depth recovery put landmarks at depth <= 0
    SOLVER_FAILED = "solver failed"  # tiny Procrustes denominators or a non-finite result
    NO_POSE = "no pose"  # a FaceMesh message without geometry (has_pose false)


class GeometryError(ValueError):
    """A face geometry (or camera) problem, with a machine-readable `reason` and a readable message."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.detail = message
