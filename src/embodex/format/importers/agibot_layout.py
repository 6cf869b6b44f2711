"""Names shared by the AgiBot World importer's modules: cameras, the state vector, hints.

How the raw layout maps onto embodex is specified in specs/format.md §9.1.
"""

from __future__ import annotations

import re

__all__ = [
    "COUNT_HINT",
    "DEPTH_CAMERA",
    "GROUPS",
    "JOINT_NAMES",
    "KNOWN_CAMERAS",
    "SKIP_HINT",
    "UNITS",
    "camera_mount",
    "camera_name",
]

#: Video stems of the AgiBot World cameras (gripper, dexterous-hand and fisheye variants).
KNOWN_CAMERAS: tuple[str, ...] = (
    "head_color",
    "hand_left_color",
    "hand_right_color",
    "head_center_fisheye_color",
    "head_left_fisheye_color",
    "head_right_fisheye_color",
    "back_left_fisheye_color",
    "back_right_fisheye_color",
    "hand_left_fisheye_color",
    "hand_right_fisheye_color",
)
DEPTH_CAMERA = "head_depth"

_ARM_JOINTS = 7
#: The state / action vector, in order.
JOINT_NAMES: tuple[str, ...] = (
    *(f"left_arm_joint{i}" for i in range(1, _ARM_JOINTS + 1)),
    *(f"right_arm_joint{i}" for i in range(1, _ARM_JOINTS + 1)),
    "left_gripper",
    "right_gripper",
    "head_yaw",
    "head_pitch",
    "waist_pitch",
    "waist_lift",
)
UNITS: tuple[str, ...] = (*(["rad"] * 2 * _ARM_JOINTS), "1", "1", "rad", "rad", "rad", "m")
#: h5 groups in state-vector order, with their widths.
GROUPS: tuple[tuple[str, int], ...] = (("joint", 14), ("effector", 2), ("head", 2), ("waist", 2))

SKIP_HINT = "or pass `skip_bad=True` to package the other episodes."
COUNT_HINT = "The streams of this recording are not aligned; re-export it, " + SKIP_HINT


def camera_mount(stem: str) -> str:
    """Where an AgiBot camera sits: ``head_*`` on the head, ``hand_left_*`` /
    ``hand_right_*`` on that wrist, the others (``back_*``) on the body."""
    if stem.startswith("head"):
        return "head"
    if stem.startswith("hand_left"):
        return "left_wrist"
    if stem.startswith("hand_right"):
        return "right_wrist"
    return "fixed"


def camera_name(stem: str) -> str:
    """The embodex camera name of a video stem: ``hand_left_color`` -> ``hand_left``."""
    base = stem[: -len("_color")] if stem.endswith("_color") else stem
    return re.sub(r"[^a-z0-9_]", "_", base.lower())
