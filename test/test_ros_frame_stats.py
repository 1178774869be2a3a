"""The face_mesh node's /diagnostics figures and levels (frame_stats.FrameStats) on a controlled clock."""

from __future__ import annotations

import pytest

from facemesh_ros.ros import frame_stats
from facemesh_ros.ros.frame_stats import STALL_ERROR_S, FrameStats


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(frame_stats.time, "monotonic", lambda: now[0])
    return now


def test_sequence_gaps_count_lost_frames_only_with_a_single_publisher(clock) -> None:
    stats = FrameStats()
    for sequence in (1, 2, 5, 6, 10):  # 2 + 3 frames never reached the callback
        stats.received(False, sequence, publishers=1)
    stats.received(False, 3, publishers=2)  # another publisher's numbering: says nothing
    stats.received(False, 9, publishers=2)
    stats.received(False, None)  # an rmw without sequence numbers
    assert stats.report("image", "cpu").values["lost frames"] == "5"


def test_levels_ok_warn_and_error_when_frames_arrive_but_none_is_processed(clock) -> None:
    stats = FrameStats()
    assert stats.report("image", "cpu").level == "WARN"  # no images at all
    stats.received(False)
    stats.processed(20.0, faces=1)
    clock[0] += 1.0
    report = stats.report("image", "cpu")
    assert report.level == "OK" and report.message == "tracking 1 face(s) at 1.0 Hz"
    for _ in range(3):  # every frame rejected for STALL_ERROR_S
        stats.received(True)
        stats.rejected("unsupported encoding '32FC1'")
        clock[0] += STALL_ERROR_S / 3
    report = stats.report("image", "cpu")
    assert report.level == "ERROR" and "none was processed for 4.0 s" in report.message
    assert "unsupported encoding" in report.message
    assert report.values["time since last processed frame (s)"] == "4.00"
    assert report.values["dropped frames"] == "3" and report.values["processed rate (Hz)"] == "0.00"


def test_the_frame_period_follows_processed_frames(clock) -> None:
    stats = FrameStats()
    assert stats.frame_period_s() is None
    for _ in range(30):
        stats.processed(5.0, faces=0)
        clock[0] += 0.05
    assert stats.frame_period_s() == pytest.approx(0.05)
