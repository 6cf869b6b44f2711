"""A seeded generator of realistic humanoid teleoperation episodes for demos, tests, benchmarks.

The robot is a humanoid with two 7-DoF arms, two grippers, a 2-DoF head and a 2-DoF waist
(20 joints). Trajectories are minimum-jerk moves between key poses drawn inside 80 % of the
joint limits, one move per sub-task; the action leads the state by a few frames, as a
teleoperation target does. Timestamps carry recorder jitter; camera frames show the scene's
colours and the moving end effector, so they are neither black, white nor frozen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .format import (
    Camera,
    Dataset,
    DatasetMeta,
    DatasetWriter,
    Embodiment,
    Episode,
    EpisodeMeta,
    Feature,
    Intrinsics,
    Provenance,
    Segment,
    open_dataset,
)
from .format.images import encode_image

__all__ = [
    "JOINT_NAMES",
    "ROBOT_MODEL",
    "SCENES",
    "SKILLS",
    "SceneSpec",
    "SkillSpec",
    "synth_dataset",
    "synth_episode",
    "synth_episodes",
    "synth_meta",
]

ROBOT_MODEL = "embodex-humanoid-h2"
FPS = 30.0
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


@dataclass(frozen=True)
class SkillSpec:
    skill: str
    instruction_en: str
    instruction_zh: str
    phases: tuple[str, ...]
    arm: str  # "left", "right" or "both"


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

SKILLS: tuple[SkillSpec, ...] = (
    SkillSpec(
        "hold_cup",
        "Pick up the cup and hold it steady.",
        "拿起杯子并保持稳定。",
        ("reach", "grasp", "lift", "hold"),
        "right",
    ),
    SkillSpec(
        "grasp_plate",
        "Grasp the plate and place it on the rack.",
        "抓起盘子放到架子上。",
        ("reach", "grasp", "lift", "place", "release"),
        "right",
    ),
    SkillSpec(
        "fold_clothes",
        "Fold the shirt on the table.",
        "把桌上的衣服叠好。",
        ("reach", "grasp", "fold", "smooth", "release"),
        "both",
    ),
    SkillSpec(
        "pick_place",
        "Put the item into the basket.",
        "把物品放进篮子里。",
        ("reach", "grasp", "move", "place"),
        "left",
    ),
    SkillSpec("open_drawer", "Open the drawer.", "打开抽屉。", ("reach", "grasp", "pull"), "right"),
    SkillSpec(
        "wipe_table", "Wipe the table surface.", "擦拭桌面。", ("reach", "wipe", "retract"), "left"
    ),
    SkillSpec(
        "pour_water",
        "Pour water from the kettle into the cup.",
        "把水壶里的水倒进杯子。",
        ("reach", "grasp", "pour", "place"),
        "right",
    ),
    SkillSpec(
        "hand_over",
        "Hand the object from one hand to the other.",
        "把物体从一只手递到另一只手。",
        ("grasp", "transfer", "release"),
        "both",
    ),
)

FAILURE_CAUSES = ("object_dropped", "grasp_missed", "timeout", "collision")
_NAMESPACE = uuid.UUID("6f1c2a8e-5b1d-4f0e-9a57-0d3c2b9e7a11")


def synth_meta(
    name: str = "synthetic-humanoid",
    *,
    cameras: Sequence[str] = ("head", "hand_left", "hand_right"),
    image_size: int = 96,
    depth: bool = False,
    licence: str = "CC-BY-NC-4.0",
    centre_id: str = "hubei-humanoid-centre",
    centre_name: str = "Hubei Humanoid Robot Innovation Centre",
) -> DatasetMeta:
    """Dataset metadata for synthetic episodes (the head camera is ``image_size`` square)."""
    cams = []
    for cam in cameras:
        size = image_size if cam == "head" else max(32, image_size * 2 // 3)
        f = size * 0.9
        cams.append(
            Camera(
                name=cam,
                kind="color",
                width=size,
                height=size,
                encoding="jpeg",
                intrinsics=Intrinsics(fx=f, fy=f, cx=size / 2, cy=size / 2),
            )
        )
    if depth:
        size = max(32, image_size // 2)
        cams.append(
            Camera(
                name="head_depth",
                kind="depth",
                width=size,
                height=size,
                encoding="png16",
                depth_unit="mm",
                intrinsics=Intrinsics(fx=size * 0.9, fy=size * 0.9, cx=size / 2, cy=size / 2),
            )
        )
    names = list(JOINT_NAMES)
    return DatasetMeta(
        name=name,
        licence=licence,
        description="Synthetic humanoid teleoperation demonstrations generated by embodex.synth.",
        provenance=Provenance(
            centre_id=centre_id, centre_name=centre_name, site="Wuhan", contact="data@example.org"
        ),
        embodiments=[
            Embodiment(
                model=ROBOT_MODEL,
                dof=len(names),
                joint_names=names,
                units=list(UNITS),
                position_lower=LOWER.tolist(),
                position_upper=UPPER.tolist(),
                velocity_limit=VELOCITY.tolist(),
            )
        ],
        cameras=cams,
        features={
            "state": Feature(
                shape=[len(names)],
                unit="rad",
                names=names,
                role="state",
                description="Measured joint positions.",
            ),
            "action": Feature(
                shape=[len(names)],
                unit="rad",
                names=names,
                role="action",
                description="Commanded joint positions from teleoperation.",
            ),
        },
        fps=FPS,
    )


#: the longest single minimum-jerk move (s); the default 8-20 s episodes never reach it
MAX_MOVE_S = 7.0


def _min_jerk(n: int) -> np.ndarray:
    s = np.linspace(0.0, 1.0, n, endpoint=False)
    return np.asarray(10 * s**3 - 15 * s**4 + 6 * s**5)


def _trajectory(
    rng: np.random.Generator, n: int, phases: int, skill: SkillSpec, fps: float
) -> np.ndarray:
    """Joint positions (n, 20): minimum-jerk moves between key poses, one per phase.

    Each move is capped so its peak speed (1.875 x distance / phase time for a minimum-jerk
    move) stays under half the joint's velocity limit, as a real teleoperated arm does;
    grippers close and open over about 0.6 s, inside their limit too.
    """
    centre = (LOWER + UPPER) / 2
    half = (UPPER - LOWER) / 2 * 0.5
    cap = 0.5 * VELOCITY * (n / phases / fps) / 1.875
    keys = [centre + rng.uniform(-1, 1, size=len(LOWER)) * half]
    for _ in range(phases):
        step = np.clip(rng.normal(0, 0.25, size=len(LOWER)) * half, -cap, cap)
        keys.append(np.clip(keys[-1] + step, LOWER + 0.1 * half, UPPER - 0.1 * half))
    bounds = np.linspace(0, n, phases + 1).astype(int)
    traj = np.empty((n, len(LOWER)))
    for k in range(phases):
        lo, hi = bounds[k], bounds[k + 1]
        # An operator does not spend 15 s easing into one move: a long phase is several
        # moves through waypoints, so long episodes do not start or end idle.
        moves = max(1, int(np.ceil((hi - lo) / fps / MAX_MOVE_S)))
        cuts = np.linspace(lo, hi, moves + 1).astype(int)
        way = [keys[k] + (keys[k + 1] - keys[k]) * m / moves for m in range(moves + 1)]
        if moves > 1:  # (draws only here: the default episodes stay byte for byte the same)
            # each waypoint off the straight line by an operator-sized step, small enough that
            # a move's peak speed stays under 3/4 of the joint's limit
            move_cap = 0.25 * cap * (cuts[1] - cuts[0]) / (hi - lo)
            for m in range(1, moves):
                off = np.clip(rng.normal(0, 0.25, size=len(LOWER)) * half, -move_cap, move_cap)
                way[m] = np.clip(way[m] + off, LOWER + 0.1 * half, UPPER - 0.1 * half)
        for m in range(moves):
            s = _min_jerk(cuts[m + 1] - cuts[m])[:, None]
            traj[cuts[m] : cuts[m + 1]] = way[m] + (way[m + 1] - way[m]) * s
    # grippers: open, close for the phases after "grasp", open on "release"
    grip = np.zeros(n)
    closed = False
    for k, phase in enumerate(skill.phases):
        closed = (closed or phase == "grasp") and phase != "release"
        grip[bounds[k] : bounds[k + 1]] = 0.85 if closed else 0.05
    width = min(max(9, int(fps * 0.6)), n) - 1 | 1  # odd, about 0.6 s, at most n
    edge = width // 2
    grip = np.convolve(grip, np.ones(width) / width, mode="same")
    if n > 2 * edge:
        grip[:edge], grip[-edge:] = grip[edge], grip[-edge - 1]
    for g, side in zip(GRIPPERS, ("left", "right"), strict=True):
        traj[:, g] = grip if skill.arm in (side, "both") else 0.05
    return traj


def _render(
    rng: np.random.Generator, state: np.ndarray, size: int, colour: tuple[int, int, int], arm: int
) -> np.ndarray:
    """Frames (n, size, size, 3): scene colour, table, and the moving end effector."""
    n = len(state)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.empty((size, size, 3), dtype=np.float32)
    base[:] = colour
    base[int(size * 0.65) :] *= 0.7  # the table
    off = 7 * arm
    px = 0.5 + 0.35 * np.sin(state[:, off + 0] - state[:, off + 2] * 0.5)
    py = 0.45 + 0.3 * np.cos(state[:, off + 3]) * np.cos(state[:, off + 1])
    radius = 0.06 + 0.03 * (1 - state[:, 14 + arm])
    frames = np.empty((n, size, size, 3), dtype=np.uint8)
    noise = rng.normal(0, 3, size=(size, size, 1)).astype(np.float32)
    for i in range(n):
        d2 = (xx - px[i]) ** 2 + (yy - py[i]) ** 2
        blob = (d2 < radius[i] ** 2)[..., None]
        img = np.where(blob, np.array([40, 60, 200], dtype=np.float32), base) + np.roll(noise, i, 0)
        frames[i] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


def synth_episode(
    meta: DatasetMeta,
    index: int,
    *,
    seed: int = 0,
    scene: SceneSpec | None = None,
    skill: SkillSpec | None = None,
    duration_s: tuple[float, float] = (8.0, 20.0),
    start_time_ns: int = 1_767_225_600_000_000_000,  # 2026-01-01T00:00:00Z
    success_rate: float = 0.9,
) -> Episode:
    """Episode number ``index`` of the synthetic stream ``seed`` (same inputs, same bytes)."""
    rng = np.random.default_rng([seed, index])
    scene = scene or SCENES[int(rng.integers(len(SCENES)))]
    skill = skill or SKILLS[int(rng.integers(len(SKILLS)))]
    fps = meta.fps
    n = max(len(skill.phases) * 6, int(rng.uniform(*duration_s) * fps))
    state = _trajectory(rng, n, len(skill.phases), skill, fps)
    lead = 3
    action = np.concatenate([state[lead:], np.repeat(state[-1:], lead, axis=0)])
    action = action + rng.normal(0, 0.002, size=action.shape)
    state = state + rng.normal(0, 0.0005, size=state.shape)
    state = np.clip(state, LOWER, UPPER)
    action = np.clip(action, LOWER, UPPER)
    period = 1e9 / fps
    t0 = start_time_ns + index * 3_600_000_000_000 // 40 + int(rng.integers(0, 10**9))
    jitter = rng.normal(0, 0.0015 * period, size=n).clip(-0.3 * period, 0.3 * period)
    ts = (t0 + np.arange(n) * period + jitter).astype(np.int64)
    images: dict[str, np.ndarray | list[bytes]] = {}
    image_ts: dict[str, np.ndarray] = {}
    for cam in meta.cameras:
        if cam.kind == "color":
            arm = 0 if cam.name.endswith("left") else 1
            frames = _render(rng, state, cam.width, scene.colour, arm)
            images[cam.name] = [encode_image(f, "jpeg") for f in frames]
        else:
            depth = np.full((n, cam.height, cam.width), 900, dtype=np.uint16)
            depth += (np.arange(cam.height, dtype=np.uint16) * 4)[None, :, None]
            depth += (state[:, 3] * 50).astype(np.uint16)[:, None, None]
            # sensor noise (a separate stream, so the other draws keep their values)
            noise = np.random.default_rng([seed, index, 7]).integers(0, 4, size=depth.shape)
            images[cam.name] = depth + noise.astype(np.uint16)
        image_ts[cam.name] = ts + int(0.004e9) + rng.integers(-1_000_000, 1_000_000, size=n)
    bounds = np.linspace(0, n, len(skill.phases) + 1).astype(int)
    segments = [
        Segment(
            start_frame=int(bounds[k]),
            end_frame=int(bounds[k + 1]),
            skill=phase,
            text=f"{phase} ({skill.skill})",
        )
        for k, phase in enumerate(skill.phases)
    ]
    success = bool(rng.random() < success_rate)
    operator = int(rng.integers(1, 13))
    ep_id = uuid.uuid5(_NAMESPACE, f"{meta.provenance.centre_id}/{seed}/{index}").hex[:16]
    episode_meta = EpisodeMeta(
        episode_id=f"{meta.provenance.centre_id}:{ep_id}",
        scene_id=scene.scene_id,
        scene_type=scene.scene_type,
        site=meta.provenance.site,
        lighting=scene.lighting,
        objects=list(scene.objects),
        robot_model=ROBOT_MODEL,
        robot_serial=f"H2-{int(rng.integers(1, 101)):05d}",
        operator_id=f"op-{operator:04d}",
        operator_level=("L1", "L2", "L3")[operator % 3],
        skill=skill.skill,
        instruction_en=skill.instruction_en,
        instruction_zh=skill.instruction_zh,
        segments=segments,
        success=success,
        failure_cause=None if success else FAILURE_CAUSES[int(rng.integers(len(FAILURE_CAUSES)))],
        extra={"synthetic": True, "seed": seed, "scene_description": scene.description},
    )
    return Episode(
        meta=episode_meta,
        timestamp_ns=ts,
        features={"state": state.astype(np.float32), "action": action.astype(np.float32)},
        images=images,
        image_timestamps_ns=image_ts,
    )


def synth_episodes(
    meta: DatasetMeta,
    count: int,
    *,
    seed: int = 0,
    first_index: int = 0,
    duration_s: tuple[float, float] = (8.0, 20.0),
) -> Iterator[Episode]:
    """``count`` episodes, lazily (memory holds one at a time)."""
    for i in range(first_index, first_index + count):
        yield synth_episode(meta, i, seed=seed, duration_s=duration_s)


def synth_dataset(
    path: str | Path,
    episodes: int,
    *,
    seed: int = 0,
    meta: DatasetMeta | None = None,
    duration_s: tuple[float, float] = (8.0, 20.0),
    append: bool = False,
    first_index: int = 0,
    on_episode: object = None,
) -> Dataset:
    """Write ``episodes`` synthetic episodes to ``path`` and open the result."""
    meta = meta or synth_meta()
    with DatasetWriter(path, None if append else meta, append=append) as writer:
        for ep in synth_episodes(
            meta, episodes, seed=seed, first_index=first_index, duration_s=duration_s
        ):
            writer.add_episode(ep)
            if callable(on_episode):
                on_episode(ep)
    return open_dataset(path)
