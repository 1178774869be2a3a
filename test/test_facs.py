"""FACS action units from the blendshapes of real photos (v2 landmarks + blendshape model, no ROS)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facemesh_ros.face_mesh import FaceMesh
from facemesh_ros.interaction.facs import (
    ACTION_UNIT_SOURCES,
    MAPPED_ACTION_UNITS,
    NUM_ACTION_UNITS,
    facial_action_units,
)
from facemesh_ros.types import BLENDSHAPE_NAMES

INNER_BROW_RAISER, OUTER_BROW_RAISER, BROW_LOWERER = 1, 2, 4
LIP_CORNER_PULLER, LOWER_LIP_DEPRESSOR, LIPS_PART, JAW_DROP = 12, 16, 25, 26
BLINK, WINK = 45, 46


@pytest.fixture(scope="module")
def blendshapes(test_data_dir) -> dict[str, tuple[np.ndarray, float]]:
    """Each photo's one face: its 52 scores and its presence score."""
    faces = {}
    with FaceMesh(static_image_mode=True, model="v2", output_blendshapes=True, device="cpu") as mesh:
        for name in ("astronaut.png", "tongue.jpg", "lenna.png"):
            result = mesh.process(cv2.cvtColor(cv2.imread(str(test_data_dir / name)), cv2.COLOR_BGR2RGB))
            assert result.num_faces == 1, name
            faces[name] = (result.blendshapes[0], float(result.presence[0]))
    return faces


def test_a_broad_smile_is_a_lip_corner_puller(blendshapes) -> None:
    intensity, confidence = facial_action_units(*blendshapes["astronaut.png"])
    neutral, _ = facial_action_units(*blendshapes["lenna.png"])
    assert intensity.shape == confidence.shape == (NUM_ACTION_UNITS,) and intensity.dtype == np.float32
    assert intensity[LIP_CORNER_PULLER] > 0.7 > 0.2 > neutral[LIP_CORNER_PULLER]
    assert intensity[LIPS_PART] > 0.3  # the teeth show: the upper lip is raised off the lower one
    assert intensity[INNER_BROW_RAISER] < 0.3 and intensity[BLINK] < 0.1
    assert confidence[LIP_CORNER_PULLER] > 0.9


def test_raised_brows_and_a_dropped_lower_lip(blendshapes) -> None:
    """tongue.jpg: brows up, the mouth open with the tongue out (MediaPipe: browInnerUp 0.94, lower lip 0.87)."""
    scores, presence = blendshapes["tongue.jpg"]
    intensity, _ = facial_action_units(scores, presence)
    smile, _ = facial_action_units(*blendshapes["astronaut.png"])
    assert intensity[INNER_BROW_RAISER] > 0.8 and intensity[OUTER_BROW_RAISER] > 0.8
    assert intensity[BROW_LOWERER] < 0.2
    assert intensity[LOWER_LIP_DEPRESSOR] > 0.7 and intensity[LIPS_PART] > 0.7
    assert intensity[JAW_DROP] == pytest.approx(scores[BLENDSHAPE_NAMES.index("jawOpen")])
    assert intensity[INNER_BROW_RAISER] > 0.5 > smile[INNER_BROW_RAISER]


def test_groups_and_unmapped_units(blendshapes) -> None:
    scores, presence = blendshapes["tongue.jpg"]
    intensity, confidence = facial_action_units(scores, presence)
    left, right = (scores[BLENDSHAPE_NAMES.index(n)] for n in ("mouthLowerDownLeft", "mouthLowerDownRight"))
    assert intensity[LOWER_LIP_DEPRESSOR] == max(left, right)  # the stronger side, as FACS codes one side
    unmapped = np.setdiff1d(np.arange(NUM_ACTION_UNITS), MAPPED_ACTION_UNITS)
    assert 6 in unmapped and 0 in unmapped and 51 in unmapped
    assert not intensity[unmapped].any() and not confidence[unmapped].any()
    assert np.all(confidence[MAPPED_ACTION_UNITS] == np.float32(presence))
    assert {name for _, names in ACTION_UNIT_SOURCES.values() for name in names} <= set(BLENDSHAPE_NAMES)


def test_blink_and_wink_from_the_two_eyes() -> None:
    scores = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
    scores[BLENDSHAPE_NAMES.index("eyeBlinkLeft")] = 0.9
    scores[BLENDSHAPE_NAMES.index("eyeBlinkRight")] = 0.1
    wink, _ = facial_action_units(scores, 1.0)
    assert wink[WINK] == pytest.approx(0.8) and wink[BLINK] == pytest.approx(0.1)
    scores[BLENDSHAPE_NAMES.index("eyeBlinkRight")] = 0.9
    blink, _ = facial_action_units(scores, 1.0)
    assert blink[BLINK] == pytest.approx(0.9) and blink[WINK] == pytest.approx(0.0)


def test_bad_input_is_refused_clearly(blendshapes) -> None:
    scores, presence = blendshapes["astronaut.png"]
    with pytest.raises(ValueError, match=r"\(52,\) scores, got shape \(51,\)"):
        facial_action_units(scores[:51], presence)
    with pytest.raises(ValueError, match=r"\(52,\) scores"):
        facial_action_units(scores[None], presence)
    with pytest.raises(ValueError, match="presence is a score in"):
        facial_action_units(scores, 1.5)
    intensity, _ = facial_action_units(scores, presence)  # still fine after the refusals
    assert intensity[LIP_CORNER_PULLER] > 0.7
