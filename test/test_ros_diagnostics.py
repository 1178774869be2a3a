"""The face_mesh node's /diagnostics: lost frames from sequence numbers, the ERROR level of a stalled node and
the frame period the markers' lifetime follows, on a controlled clock."""

from __future__ import annotations

import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from facemesh_ros.ros.diagnostics import STALL_ERROR_S, FrameStats, pipeline_status


def status(stats: FrameStats) -> tuple[DiagnosticStatus, dict[str, str]]:
    result = pipeline_status("node: pipeline", "cpu", "image", stats.take_period())
    return result, {kv.key: kv.value for kv in result.values}


def test_sequence_gaps_count_lost_frames_only_with_a_single_publisher() -> None:
    stats = FrameStats()
    for sequence in (1, 2, 5, 6, 10):  # 2 + 3 frames never reached the callback
        stats.received(False, sequence, publishers=1)
    stats.received(False, 3, publishers=2)  # another publisher's numbering: says nothing
    stats.received(False, 9, publishers=2)
    stats.received(False, None)  # an rmw without sequence numbers
    assert status(stats)[1]["lost frames"] == "5"


def test_error_while_frames_arrive_but_none_is_processed() -> None:
    now = [100.0]
    stats = FrameStats(clock=lambda: now[0])
    assert status(stats)[1]["time since last processed frame (s)"] == "never"
    stats.received(False)
    stats.processed(20.0, faces=1)
    now[0] += 1.0
    assert status(stats)[0].level == DiagnosticStatus.OK
    for _ in range(3):  # every frame rejected for STALL_ERROR_S
        stats.received(True)
        stats.rejected("unsupported encoding '32FC1'")
        now[0] += STALL_ERROR_S / 3
    stalled, values = status(stats)
    assert stalled.level == DiagnosticStatus.ERROR
    assert stalled.message == (
        "stalled: 3 frame(s) arrived but none was processed for 4.0 s (last rejected: unsupported encoding '32FC1')"
    )
    assert values["time since last processed frame (s)"] == "4.00" and values["processed rate (Hz)"] == "0.00"
    assert values["dropped frames"] == "3"


def test_the_frame_period_follows_processed_frames() -> None:
    now = [100.0]
    stats = FrameStats(clock=lambda: now[0])
    assert stats.frame_period_s() is None
    for _ in range(30):
        stats.processed(5.0, faces=0)
        now[0] += 0.05
    assert stats.frame_period_s() == pytest.approx(0.05)
