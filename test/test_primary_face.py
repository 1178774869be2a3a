"""The primary face (facemesh_ros.interaction.primary_face): policies and the hysteresis that keeps it from
flickering."""

from __future__ import annotations

import numpy as np
import pytest

from facemesh_ros.interaction.primary_face import POLICIES, PrimaryFaceSelector, policy_scores


def square_face(center: tuple[float, float], side: float) -> np.ndarray:
    """(468, 3) landmarks filling a square box: enough for the policies, which look at the box."""
    corners = np.array([[-1, -1], [1, 1], [-1, 1], [1, -1]], float) * side / 2 + center
    points = np.resize(corners, (468, 2))
    return np.hstack([points, np.zeros((468, 1))])


def test_policies_rank_faces():
    small_centered, big_aside = square_face((0.5, 0.5), 0.1), square_face((0.15, 0.2), 0.3)
    landmarks = np.stack([small_centered, big_aside])
    positions = np.array([[0.0, 0.0, 2.0], [-0.5, -0.4, 0.8]])
    assert np.argmax(policy_scores("largest", landmarks)) == 1
    assert np.argmax(policy_scores("centered", landmarks)) == 0
    assert np.argmax(policy_scores("closest", landmarks, positions)) == 1
    # a face without a position never wins "closest"
    positions[1] = np.nan
    assert np.argmax(policy_scores("closest", landmarks, positions)) == 0
    assert all(len(policy_scores(p, np.zeros((0, 468, 3)), np.zeros((0, 3)))) == 0 for p in POLICIES)


def test_bad_policy_and_missing_positions_are_errors():
    with pytest.raises(ValueError, match="one of largest, closest, centered"):
        policy_scores("biggest", np.zeros((1, 468, 3)))
    with pytest.raises(ValueError, match="3D positions"):
        policy_scores("closest", np.zeros((1, 468, 3)))


@pytest.mark.parametrize(("ratio", "time"), [(0.9, 1.0), (1.5, -0.1)])
def test_bad_hysteresis_is_an_error(ratio, time):
    with pytest.raises(ValueError, match="switch_"):
        PrimaryFaceSelector(ratio, time)


def test_mismatched_ids_and_scores_are_an_error():
    with pytest.raises(ValueError, match="2 track ids but 1 scores"):
        PrimaryFaceSelector().update([1, 2], [1.0], 0.0)


def test_hysteresis_keeps_the_primary_until_another_is_much_better_for_a_while():
    selector = PrimaryFaceSelector(switch_ratio=1.5, switch_time=1.0)
    assert selector.update([], [], 0.0) is None
    assert selector.update([3, 4], [1.0, 0.9], 0.0) == 3
    # a little better is not enough, however long
    for step in range(1, 40):
        assert selector.update([3, 4], [1.0, 1.4], step * 0.1) == 3
    # much better, but not for long enough: the interruption restarts the clock
    t = 4.0
    for _ in range(8):
        t += 0.1
        assert selector.update([3, 4], [1.0, 2.0], t) == 3
    t += 0.1
    assert selector.update([3, 4], [1.0, 1.2], t) == 3
    for _ in range(9):
        t += 0.1
        assert selector.update([3, 4], [1.0, 2.0], t) == 3
    t += 0.25
    assert selector.update([3, 4], [1.0, 2.0], t) == 4  # 1.05 s without a break
    # the old primary is now the challenger: the same rule applies the other way
    assert selector.update([3, 4], [1.2, 1.0], t + 0.1) == 4


def test_a_lost_primary_hands_over_at_once_and_nothing_is_kept_without_faces():
    selector = PrimaryFaceSelector(switch_ratio=1.5, switch_time=1.0)
    assert selector.update([3, 4], [1.0, 0.5], 0.0) == 3
    assert selector.update([4, 5], [0.5, 0.8], 0.1) == 5
    assert selector.update([], [], 0.2) is None
    assert selector.update([4], [0.5], 0.3) == 4
