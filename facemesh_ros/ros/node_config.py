"""The face_mesh node's live settings as one frozen snapshot, and the published track ids.

The worker reads `LiveConfig` once per frame: a frame never mixes values from before and after a parameter
change, and rclpy's parameter store is not queried ~20 times per frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from facemesh_ros.geometry import TrackSmoothers
from facemesh_ros.ros.look_at import LookAt
from facemesh_ros.ros.markers import NAMESPACES, MarkerOptions
from facemesh_ros.types import FaceMeshResult


@dataclass(frozen=True)
class LiveConfig:
    """The parameters of kind "live" (see parameters.PARAMETERS for their meaning)."""

    image_is_rectified: bool
    default_vertical_fov_deg: float
    max_image_pixels: int
    frame_prefix: str
    publish_tf: bool
    publish_markers: bool
    markers: MarkerOptions
    draw_tesselation: bool
    draw_axes: bool
    blendshape_bars: int
    smoothing: bool
    smoothing_min_cutoff: float
    smoothing_beta: float
    target_policy: str
    target_switch_ratio: float
    target_switch_time: float
    target_frame: str

    @classmethod
    def read(cls, value: Callable[[str], Any]) -> LiveConfig:
        """The snapshot of the parameter values `value(name)` returns."""
        return cls(
            image_is_rectified=value("image_is_rectified"),
            default_vertical_fov_deg=value("default_vertical_fov_deg"),
            max_image_pixels=value("max_image_pixels"),
            frame_prefix=value("frame_prefix"),
            publish_tf=value("publish_tf"),
            publish_markers=value("publish_markers"),
            markers=MarkerOptions(**{ns: value(f"markers.{ns}") for ns in NAMESPACES}),
            draw_tesselation=value("annotated.draw_tesselation"),
            draw_axes=value("annotated.draw_axes"),
            blendshape_bars=value("annotated.blendshape_bars"),
            smoothing=value("smoothing"),
            smoothing_min_cutoff=value("smoothing_min_cutoff"),
            smoothing_beta=value("smoothing_beta"),
            target_policy=value("target.policy"),
            target_switch_ratio=value("target.switch_ratio"),
            target_switch_time=value("target.switch_time"),
            target_frame=value("target.frame"),
        )

    def look_at(self) -> LookAt:
        """A fresh primary-face chooser for these settings."""
        return LookAt(self.target_policy, self.target_switch_ratio, self.target_switch_time)

    def smoothers(self) -> TrackSmoothers | None:
        """Fresh per-track smoothers for these settings (None with smoothing off)."""
        if not self.smoothing:
            return None
        return TrackSmoothers(min_cutoff=self.smoothing_min_cutoff, beta=self.smoothing_beta)


class PublishedTrackIds:
    """Track ids as the node publishes them.

    Tracking: the pipeline's ids, offset past every id published before the last rebuild (a rebuilt pipeline
    counts from 0 again), so a new face never reuses an old face's TF frame. Static mode tracks nothing: ids
    are the faces' indices in the image, so TF frames face_0, face_1, ... are reused instead of growing forever.
    """

    def __init__(self) -> None:
        self._first = 0  # added to the pipeline's ids
        self._next = 0  # one past the largest published id

    def apply(self, result: FaceMeshResult, static_image_mode: bool) -> FaceMeshResult:
        """`result` with the ids to publish."""
        if static_image_mode:
            ids = np.arange(result.num_faces, dtype=np.int64)
        else:
            ids = result.track_ids + self._first
            self._next = max(self._next, int(ids.max()) + 1 if len(ids) else 0)
        return dataclasses.replace(result, track_ids=ids)

    def pipeline_rebuilt(self) -> None:
        """The pipeline's ids restart at 0: shift them past every id published so far."""
        self._first = self._next
