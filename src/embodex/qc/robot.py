"""Facts about the robot that QC needs and a recording may not ship: joint limits, velocity
limits and where each camera is mounted.

They come from the dataset (the embodiment's limits) and can be given or overridden in the
QC profile's ``robot`` section, by joint and camera name, so a centre whose recorder ships
no limits (or wrong ones) fixes them where QC is configured, without re-packaging::

    robot:
      limits: {left_arm_joint1: [-3.1, 3.1], waist_lift: [0.0, 0.5]}
      velocity_limits: {left_arm_joint1: 2.5}
      camera_mounts: {hand_left: left_wrist, top_cam: fixed}

A camera's **mount** says which joints move its picture: a wrist camera moves with its own
arm (and the waist), a head camera with the head, the waist and both arms in view, a fixed
camera sees both arms. Image rules judge a camera against its own chain only, so a still
wrist camera on an arm at rest is not "frozen" while the other arm works.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..format.models import Embodiment

__all__ = [
    "MOUNTS",
    "Mount",
    "RobotFacts",
    "apply_limits",
    "camera_mount",
    "chain_mask",
    "joint_side",
]

Mount = Literal["head", "left_wrist", "right_wrist", "fixed"]
MOUNTS: tuple[Mount, ...] = ("head", "left_wrist", "right_wrist", "fixed")


class RobotFacts(BaseModel):
    """The profile's ``robot`` section (every key optional; names are joint / camera names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limits: dict[str, tuple[float, float]] = Field(default_factory=dict)
    velocity_limits: dict[str, float] = Field(default_factory=dict)
    camera_mounts: dict[str, Mount] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> RobotFacts:
        for name, (lo, hi) in self.limits.items():
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"limits of {name}: [{lo}, {hi}] is not a range (lower < upper)")
        for name, v in self.velocity_limits.items():
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"velocity limit of {name} must be positive, not {v}")
        return self


def apply_limits(emb: Embodiment, facts: RobotFacts) -> tuple[Embodiment, list[str]]:
    """``emb`` with the profile's limits put in (by joint name; NaN where neither the
    dataset nor the profile gives one), and the profile's joint names that the robot lacks."""
    names = list(emb.joint_names)
    unknown = sorted((set(facts.limits) | set(facts.velocity_limits)) - set(names))
    if not facts.limits and not facts.velocity_limits:
        return emb, unknown
    nan = [math.nan] * emb.dof
    lower = list(emb.position_lower or nan)
    upper = list(emb.position_upper or nan)
    vel = list(emb.velocity_limit or nan)
    for j, name in enumerate(names[: emb.dof]):
        if name in facts.limits:
            lower[j], upper[j] = facts.limits[name]
        if name in facts.velocity_limits:
            vel[j] = facts.velocity_limits[name]
    update: dict[str, object] = {}
    if facts.limits or emb.position_lower is not None:
        update["position_lower"] = lower
        update["position_upper"] = upper
    if facts.velocity_limits or emb.velocity_limit is not None:
        update["velocity_limit"] = vel
    return emb.model_copy(update=update), unknown


_SIDE = re.compile(r"(?:^|[_\-.])(left|right|l|r)(?:$|[_\-.0-9])")


def joint_side(name: str) -> Literal["left", "right", "head", "waist", "other"]:
    """Which part of the robot a joint belongs to, from its name (``left_arm_joint3`` ->
    left, ``head_yaw`` -> head, ``waist_lift`` -> waist)."""
    low = name.lower()
    if low.startswith(("head", "neck")):
        return "head"
    if low.startswith(("waist", "torso", "trunk", "lift", "base")):
        return "waist"
    m = _SIDE.search(low) or re.match(r"^(left|right)", low)
    if m:
        return "left" if m.group(1) in ("left", "l") else "right"
    return "other"


def camera_mount(name: str, facts: RobotFacts, declared: Mount | None = None) -> Mount:
    """A camera's mount: the profile's ``camera_mounts`` entry, else the one the dataset
    declares (``declared``, the camera's ``mount``), else guessed from its name
    (``hand_left``/``left_wrist``… -> left_wrist; ``head``… -> head; anything else fixed)."""
    if name in facts.camera_mounts:
        return facts.camera_mounts[name]
    if declared is not None:
        return declared
    low = name.lower()
    wrist = any(w in low for w in ("hand", "wrist", "gripper", "arm"))
    if wrist and "left" in low:
        return "left_wrist"
    if wrist and "right" in low:
        return "right_wrist"
    if low.startswith(("head", "neck")) or "head" in low:
        return "head"
    return "fixed"


def chain_mask(joint_names: Sequence[str], mount: Mount) -> list[bool]:
    """The joints whose motion changes the picture of a camera with this mount: its own arm
    and the waist for a wrist camera; everything for a head camera (it looks at both arms
    and moves with the head and waist); both arms and grippers for a fixed camera. When no
    joint name tells the camera's arm apart, every joint (the camera cannot be attributed)."""
    sides = [joint_side(name) for name in joint_names]
    arm = {"left_wrist": "left", "right_wrist": "right"}.get(mount)
    if arm is not None and arm not in sides:
        return [True] * len(sides)
    out = []
    for side in sides:
        if mount == "left_wrist":
            out.append(side in ("left", "waist"))
        elif mount == "right_wrist":
            out.append(side in ("right", "waist"))
        elif mount == "fixed":
            out.append(side in ("left", "right", "other"))
        else:
            out.append(True)
    return out
