"""Reference data production code needs: the reference humanoid, its joints and the 23
training scenes of a humanoid collection centre (the reference case).

Contract templates and catalogue capacity start from these; the demo generators
(:mod:`embodex.demo`) record episodes with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "GRIPPERS",
    "JOINT_NAMES",
    "LOWER",
    "ROBOT_MODEL",
    "SCENES",
    "UNITS",
    "UPPER",
    "VELOCITY",
    "SceneSpec",
]

ROBOT_MODEL = "embodex-humanoid-h2"
_ARM = [
    "shoulder_pitch",
    "shoulder_roll",
    "shoulder_yaw",
    "elbow",
    "wrist_yaw",
    "wrist_pitch",
    "wrist_roll",
]
JOINT_NAMES: tuple[str, ...] = (
    *(f"left_{j}" for j in _ARM),
    *(f"right_{j}" for j in _ARM),
    "left_gripper",
    "right_gripper",
    "head_yaw",
    "head_pitch",
    "waist_pitch",
    "waist_lift",
)
_ARM_LO = [-2.9, -0.5, -2.9, -0.1, -2.9, -1.6, -2.9]
_ARM_HI = [2.9, 2.6, 2.9, 2.5, 2.9, 1.6, 2.9]
LOWER = np.array([*_ARM_LO, *_ARM_LO, 0.0, 0.0, -1.2, -0.6, -0.3, 0.0])
UPPER = np.array([*_ARM_HI, *_ARM_HI, 1.0, 1.0, 1.2, 0.6, 0.8, 0.35])
VELOCITY = np.array([2.5] * 14 + [2.0, 2.0, 1.5, 1.5, 0.8, 0.2])
UNITS = tuple(["rad"] * 14 + ["1", "1", "rad", "rad", "rad", "m"])
GRIPPERS = (14, 15)


@dataclass(frozen=True)
class SceneSpec:
    scene_id: str
    scene_type: str
    description: str
    lighting: str
    objects: tuple[str, ...]
    colour: tuple[int, int, int]


#: The 23 training scenes of a humanoid collection centre (the reference case).
SCENES: tuple[SceneSpec, ...] = (
    SceneSpec(
        "S01",
        "supermarket",
        "Shelf restocking aisle",
        "fluorescent",
        ("bottle", "box"),
        (200, 190, 160),
    ),
    SceneSpec(
        "S02", "supermarket", "Checkout counter", "fluorescent", ("bag", "can"), (190, 200, 170)
    ),
    SceneSpec(
        "S03", "supermarket", "Fresh produce stand", "daylight", ("apple", "tray"), (170, 200, 150)
    ),
    SceneSpec(
        "S04", "restaurant", "Dining table service", "warm", ("plate", "cup"), (210, 170, 140)
    ),
    SceneSpec(
        "S05", "restaurant", "Dish return station", "warm", ("plate", "bowl"), (200, 160, 150)
    ),
    SceneSpec("S06", "restaurant", "Bar counter", "dim", ("glass", "cup"), (150, 120, 110)),
    SceneSpec(
        "S07", "factory", "Parts sorting line", "industrial", ("bolt", "bin"), (150, 160, 170)
    ),
    SceneSpec(
        "S08", "factory", "Assembly workbench", "industrial", ("gear", "shaft"), (140, 150, 160)
    ),
    SceneSpec(
        "S09",
        "factory",
        "Quality inspection table",
        "industrial",
        ("part", "gauge"),
        (160, 170, 180),
    ),
    SceneSpec("S10", "home", "Kitchen counter", "daylight", ("cup", "kettle"), (220, 210, 190)),
    SceneSpec("S11", "home", "Bedroom laundry", "daylight", ("shirt", "towel"), (215, 200, 205)),
    SceneSpec("S12", "home", "Living room tidy-up", "warm", ("remote", "book"), (205, 195, 180)),
    SceneSpec(
        "S13", "office", "Desk organisation", "fluorescent", ("folder", "pen"), (190, 195, 205)
    ),
    SceneSpec("S14", "office", "Pantry", "fluorescent", ("mug", "capsule"), (185, 190, 200)),
    SceneSpec(
        "S15", "warehouse", "Picking station", "industrial", ("tote", "parcel"), (170, 165, 150)
    ),
    SceneSpec("S16", "warehouse", "Packing table", "industrial", ("box", "tape"), (175, 170, 155)),
    SceneSpec("S17", "lab", "Bench sample handling", "daylight", ("tube", "rack"), (225, 230, 235)),
    SceneSpec(
        "S18", "hospital", "Ward supply cart", "fluorescent", ("tray", "bottle"), (225, 225, 215)
    ),
    SceneSpec("S19", "hotel", "Room service trolley", "warm", ("towel", "cup"), (210, 190, 170)),
    SceneSpec(
        "S20", "pharmacy", "Medicine shelf", "fluorescent", ("box", "bottle"), (230, 220, 220)
    ),
    SceneSpec(
        "S21", "laundry", "Folding station", "daylight", ("shirt", "trousers"), (200, 210, 225)
    ),
    SceneSpec(
        "S22", "school", "Classroom desk", "daylight", ("book", "pencil_case"), (215, 215, 195)
    ),
    SceneSpec(
        "S23", "kitchen", "Commercial kitchen line", "industrial", ("pan", "plate"), (180, 175, 170)
    ),
)
