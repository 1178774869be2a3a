"""The face_mesh node's bookkeeping, outside the node: statistics and diagnostics, published track ids, the
live-config snapshot and the per-kind log throttle."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from facemesh_ros.ros.diagnostics import STATS_WINDOW, FrameStats, pipeline_status
from facemesh_ros.ros.markers import MarkerOptions
from facemesh_ros.ros.node_config import LiveConfig, PublishedTrackIds
from facemesh_ros.ros.parameters import SPECS
from facemesh_ros.ros.throttle import KindThrottle, shorten
from facemesh_ros.types import FaceMeshResult


def result_with_ids(*ids: int) -> FaceMeshResult:
    count = len(ids)
    empty = np.zeros((0, 4), np.float32)
    return FaceMeshResult(
        np.zeros((count, 468, 3), np.float32),
        np.ones(count, np.float32),
        np.zeros((count, 5), np.float32),
        np.array(ids, np.int64),
        empty,
        np.zeros((0, 6, 2), np.float32),
        np.zeros(0, np.float32),
        (640, 480),
    )


def test_frame_stats_count_one_period_then_reset() -> None:
    stats = FrameStats()
    for replaced in (False, True, True):
        stats.received(replaced)
    stats.processed(4.0, faces=2)
    stats.processed(6.0, faces=1)
    stats.rejected()
    period = stats.take_period()
    assert (period.received, period.dropped, period.processed, period.rejected, period.faces) == (3, 2, 2, 1, 1)
    assert period.seconds > 0 and list(period.processing_ms) == [4.0, 6.0]
    after = stats.take_period()
    assert (after.received, after.dropped, after.processed, after.rejected) == (0, 0, 0, 0)
    assert after.faces == 1 and list(after.processing_ms) == [4.0, 6.0]  # carried over
    for index in range(STATS_WINDOW + 5):
        stats.processed(float(index), faces=0)
    assert len(stats.take_period().processing_ms) == STATS_WINDOW


def test_pipeline_status_levels_and_values() -> None:
    stats = FrameStats()
    idle = pipeline_status("node: pipeline", "CPUExecutionProvider", "/camera/image", stats.take_period())
    assert idle.level == DiagnosticStatus.WARN and idle.message == "no images on /camera/image"
    stats.received(False)
    stats.processed(3.0, faces=2, core_ms=2.25)
    ok = pipeline_status("node: pipeline", "CPUExecutionProvider", "image", stats.take_period())
    values = {kv.key: kv.value for kv in ok.values}
    assert ok.level == DiagnosticStatus.OK and ok.message == "tracking 2 face(s)"
    assert values["faces tracked"] == "2" and values["processing time p50 (ms)"] == "3.00"
    assert values["library core p50 (ms)"] == "2.25" and values["node overhead p50 (ms)"] == "0.75"
    assert values["inference device"] == ok.hardware_id == "CPUExecutionProvider"
    stats.received(False)
    stats.rejected()
    bad = pipeline_status("node: pipeline", "CPUExecutionProvider", "image", stats.take_period())
    assert bad.level == DiagnosticStatus.WARN and bad.message == "1 frame(s) rejected"


def test_published_ids_stay_unique_across_rebuilds_and_are_indices_in_static_mode() -> None:
    ids = PublishedTrackIds()
    assert ids.apply(result_with_ids(0, 1), static_image_mode=False).track_ids.tolist() == [0, 1]
    assert ids.apply(result_with_ids(1, 4), static_image_mode=False).track_ids.tolist() == [1, 4]
    ids.pipeline_rebuilt()  # the new pipeline counts from 0 again
    assert ids.apply(result_with_ids(0), static_image_mode=False).track_ids.tolist() == [5]
    assert ids.apply(result_with_ids(), static_image_mode=False).track_ids.tolist() == []
    assert ids.apply(result_with_ids(7, 3, 9), static_image_mode=True).track_ids.tolist() == [0, 1, 2]


def test_live_config_snapshot_reads_every_live_parameter() -> None:
    values = {spec.name: spec.default for spec in SPECS.values()}
    values.update({"markers.points": True, "markers.axes": False, "frame_prefix": "cam_", "smoothing": True})
    read: list[str] = []

    def value(name: str):
        read.append(name)
        return values[name]

    config = LiveConfig.read(value)
    # every live parameter but the thresholds, which go to the pipeline itself (FaceMesh.set_thresholds)
    live = {name for name, spec in SPECS.items() if spec.kind == "live"}
    assert set(read) == live - {"min_detection_confidence", "min_tracking_confidence"}
    assert config.markers == MarkerOptions(mesh=True, contours=True, points=True, axes=False)
    assert config.frame_prefix == "cam_" and config.smoothers() is not None
    with pytest.raises(AttributeError):
        config.publish_tf = False  # frozen: a snapshot the worker can hold for a whole frame
    assert LiveConfig.read(lambda name: {**values, "smoothing": False}[name]).smoothers() is None


def test_kind_throttle_limits_each_kind_on_its_own() -> None:
    now = [100.0]
    throttle = KindThrottle(5.0, clock=lambda: now[0])
    assert throttle.due("decode")
    assert not throttle.due("decode")
    now[0] = 102.0
    assert throttle.due("frame_id")  # another kind is not held back by the first
    now[0] = 104.9
    assert not throttle.due("decode")
    now[0] = 105.0
    assert throttle.due("decode") and not throttle.due("frame_id")  # frame_id: 3 s since its last


def test_kind_throttle_warns_once_and_forgets_the_oldest_kinds_past_its_bound() -> None:
    throttle = KindThrottle(5.0, max_kinds=3)
    assert throttle.first("principal point") and not throttle.first("principal point")
    for kind in ("a", "b", "c"):
        assert throttle.first(kind)
    assert throttle.first("principal point")  # forgotten: memory stays bounded whatever the input


def test_shorten_bounds_and_escapes_input_strings() -> None:
    assert shorten("x" * 1_000_000, 10) == "xxxxxxxxxx... (999990 more characters)"
    assert shorten("a\nb") == "a\\nb"
