"""FACS action units (hri_msgs/FacialActionUnits) from the 52 ARKit-style blendshapes, without ROS.

The mapping is approximate. Blendshapes are geometric deformations of a face mesh; FACS action units are
muscle actions coded by people. Where a blendshape was defined after one action unit (ARKit's names follow
FACS closely: browInnerUp is AU1, mouthSmile is AU12, jawOpen is AU26) its score is used as the AU's
intensity, in [0, 1] (not FACS's A-E scale). ACTION_UNIT_SOURCES is the table:

- one blendshape: its score;
- a left/right pair: "max" (FACS codes a one-sided action as present, e.g. a half smile is AU12);
- AU25 lips part: "max" of jawOpen and the lips moving away from each other (mouthLowerDown, mouthUpperUp);
- AU45 blink: "min" of the two eyeBlink scores (both eyes closed in this frame; a blink is a short run of
  such frames), AU46 wink: the "difference" of the two (one eye closed, the other open).

Confidence: the face's presence score (the landmark model's face flag) for every mapped AU, 0 for the others,
whose intensity is 0 too: 0 confidence means "not measured", not "absent". Not mapped:
- AU6 cheek raiser: MediaPipe's cheekSquintLeft/Right stay at 0.000 on every test photo, a broad smile
  included, so they would report "no cheek raise" where there plainly is one; AU0 neutral likewise
  (`_neutral` is always 0).
- AUs with no blendshape (11, 13, 21, 23, 27, 31...), and head (51-58) and eye (61-66) movement codes:
  head and gaze directions come from the head pose and the irises, not from expression scores.
"""

from __future__ import annotations

import numpy as np

from facemesh_ros.types import BLENDSHAPE_NAMES, NUM_BLENDSHAPES

NUM_ACTION_UNITS = 99  # hri_msgs/FacialActionUnits: float32[99], indexed by AU code

# AU code -> (how the group is reduced, blendshape names); names are MediaPipe's (BLENDSHAPE_NAMES)
ACTION_UNIT_SOURCES: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("max", ("browInnerUp",)),  # inner brow raiser
    2: ("max", ("browOuterUpLeft", "browOuterUpRight")),  # outer brow raiser
    4: ("max", ("browDownLeft", "browDownRight")),  # brow lowerer
    5: ("max", ("eyeWideLeft", "eyeWideRight")),  # upper lid raiser
    7: ("max", ("eyeSquintLeft", "eyeSquintRight")),  # lid tightener
    8: ("max", ("mouthClose",)),  # lips toward each other (ARKit: lips closed whatever the jaw does)
    9: ("max", ("noseSneerLeft", "noseSneerRight")),  # nose wrinkler
    10: ("max", ("mouthUpperUpLeft", "mouthUpperUpRight")),  # upper lip raiser
    12: ("max", ("mouthSmileLeft", "mouthSmileRight")),  # lip corner puller
    14: ("max", ("mouthDimpleLeft", "mouthDimpleRight")),  # dimpler
    15: ("max", ("mouthFrownLeft", "mouthFrownRight")),  # lip corner depressor
    16: ("max", ("mouthLowerDownLeft", "mouthLowerDownRight")),  # lower lip depressor
    17: ("max", ("mouthShrugLower",)),  # chin raiser
    18: ("max", ("mouthPucker",)),  # lip pucker
    20: ("max", ("mouthStretchLeft", "mouthStretchRight")),  # lip stretcher
    22: ("max", ("mouthFunnel",)),  # lip funneler
    24: ("max", ("mouthPressLeft", "mouthPressRight")),  # lip pressor
    25: (
        "max",
        ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight"),
    ),  # lips part
    26: ("max", ("jawOpen",)),  # jaw drop
    28: ("max", ("mouthRollLower", "mouthRollUpper")),  # lip suck
    29: ("max", ("jawForward",)),  # jaw thrust
    30: ("max", ("jawLeft", "jawRight")),  # jaw sideways
    34: ("max", ("cheekPuff",)),  # cheek puff
    45: ("min", ("eyeBlinkLeft", "eyeBlinkRight")),  # blink: both eyes closed
    46: ("difference", ("eyeBlinkLeft", "eyeBlinkRight")),  # wink: one eye closed, the other open
}
MAPPED_ACTION_UNITS = np.array(sorted(ACTION_UNIT_SOURCES), np.int64)
_SOURCES = [
    (how, np.array([BLENDSHAPE_NAMES.index(name) for name in names]))
    for _, (how, names) in sorted(ACTION_UNIT_SOURCES.items())
]


def facial_action_units(blendshapes: np.ndarray, presence: float) -> tuple[np.ndarray, np.ndarray]:
    """(intensity, confidence), both (99,) float32 indexed by AU code, from one face's 52 blendshape scores
    and its presence score; AUs outside ACTION_UNIT_SOURCES are 0 with confidence 0."""
    scores = np.asarray(blendshapes, np.float32)
    if scores.shape != (NUM_BLENDSHAPES,):
        raise ValueError(f"one face's blendshapes are ({NUM_BLENDSHAPES},) scores, got shape {scores.shape}")
    if not 0.0 <= presence <= 1.0:
        raise ValueError(f"presence is a score in [0, 1], got {presence}")
    intensity = np.zeros(NUM_ACTION_UNITS, np.float32)
    for code, (how, indices) in zip(MAPPED_ACTION_UNITS, _SOURCES, strict=True):
        group = scores[indices]
        if how == "max":
            intensity[code] = group.max()
        elif how == "min":
            intensity[code] = group.min()
        else:  # difference of a pair
            intensity[code] = abs(group[0] - group[1])
    confidence = np.zeros(NUM_ACTION_UNITS, np.float32)
    confidence[MAPPED_ACTION_UNITS] = presence
    return np.clip(intensity, 0.0, 1.0), confidence
