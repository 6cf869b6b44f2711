"""Import the AgiBot World raw layout (Alpha / Beta releases) into an embodex dataset.

The source is the folder the AgiBot World tars extract into::

    task_info/task_<task>.json                              episodes, task name, labels
    proprio_stats/<task>/<episode>/proprio_stats.h5         joint state, actions, timestamps
    observations/<task>/<episode>/videos/<cam>_color.mp4    one video per camera
    observations/<task>/<episode>/depth/head_depth_NNNNNN.png
    parameters/<task>/<episode>/parameters/camera/<cam>_intrinsic_params.json

Episodes are the entries of each ``task_info`` list; episode folders that no list names are
left out and reported in ``ImportReport.notes``. One h5 row is one frame; every video must
hold exactly one frame per row and the depth folder one PNG per row.

What each embodex field holds:

``state`` (20, float32)
    ``state/joint/position`` (14: left arm 7, right arm 7; rad), ``state/effector/position``
    (2: left, right gripper; see below), ``state/head/position`` (yaw, pitch; rad),
    ``state/waist/position`` (pitch rad, lift m). Joint names and units are in the
    embodiment (:data:`JOINT_NAMES`, :data:`UNITS`).
``action`` (20, float32)
    The same groups from ``action/*/position``. AgiBot writes the gripper action as 0 = open
    .. 1 = closed. When an action group has fewer rows than the state and an
    ``action/<group>/index`` dataset, the commands are scattered into a copy of the measured
    state at those rows (the robot held its pose elsewhere); an empty action group is the
    measured state throughout. Both are recorded in ``EpisodeMeta.extra["agibot"]
    ["action_filled"]``. An action group longer than the state is an error.
``action.base_velocity`` (2, float32)
    ``action/robot/velocity`` (vx m/s, yaw rate rad/s); declared only when every readable
    episode has it.

Gripper units: the raw state is a reading in mm that grows as the gripper closes (values of
about 35 open to 118 closed were reported in OpenDriveLab/AgiBot-World issue #133), while
the action is 0..1. So the two agree, the state is mapped linearly,
``(mm - lo) / (hi - lo)``, with ``[lo, hi]`` the sidecar's ``effector_state_range_mm``
(default ``[0, 120]``; set it from your gripper). Values are not clipped, so the mm reading
is recoverable; the range is stored in ``DatasetMeta.extra["agibot"]``. Dexterous-hand
episodes (12 effector values) are rejected.

Cameras: ``videos/<stem>.mp4`` becomes camera ``<stem>`` without ``_color``
(``head_color`` -> ``head``). Frames are decoded with PyAV and stored as JPEG. The set of
cameras is the sidecar's ``cameras`` list, or else every known camera found in any episode;
an episode missing one of them is bad, and so is a video whose stem is neither known
(:data:`KNOWN_CAMERAS`) nor declared. Depth PNGs become camera ``head_depth`` (png16, mm).
Intrinsics come from ``<cam>_intrinsic_params.json`` (``ppx``/``ppy`` are cx/cy); where an
episode's differ from the dataset's (those of the first episode that has them), they are
kept in that episode's ``extra``. Extrinsics, end-effector poses, tactile videos and the
fisheye cameras' calibration are not imported.

Time: the h5 root dataset ``timestamp`` (int64 ns) gives the frame times; each video's
frame times are its PTS offsets added to the first h5 timestamp. Without ``timestamp`` the
frames are timed ``start + i / fps`` (``start_time_ns`` from the sidecar, default 0), the
cameras get no times and ``EpisodeMeta.timestamps_synthesized`` is True.

Labels: ``label_info.action_config`` entries become segments ``[start_frame, end_frame)``
(``skill``, ``action_text``); ranges past the episode end are clipped and empty ones are
dropped, both counted in ``extra``. The episode's ``skill`` is the sidecar's (per episode,
per task, or the ``skill`` map by task id), else the slug of ``task_name``.
``instruction_en`` / ``instruction_zh`` come from the sidecar, else from ``task_name``
(``english_task_name`` when present) according to its script. ``init_scene_text`` describes
the starting scene rather than the instruction, so it goes to ``extra``.

Sidecar (YAML, :data:`SIDECAR_FILE` in the source folder unless given) supplies what the
layout lacks. Only ``licence`` is required::

    licence: CC-BY-NC-SA-4.0             # required; embodex never guesses a licence
    name: agibot-world-beta
    provenance: {centre_id: acme, centre_name: ACME Robotics, site: Shanghai, contact: a@b.c}
    robot: {model: AgiBot_A2D, serial: A2D-0001}
    fps: 30
    start_time_ns: 0                     # only for recordings without timestamps
    episode_id_prefix: acme              # default: provenance.centre_id; "" for none
    cameras: [head_color, hand_left_color, hand_right_color]
    depth: true
    effector_state_range_mm: [35, 120]
    limits: {lower: [...20], upper: [...20], velocity: [...20]}
    skill: {327: pick_place}             # by task id
    defaults: {scene: {scene_id, scene_type, site, lighting, objects}, operator: {id, level},
               success: true}
    tasks: {327: {...same keys as defaults, plus skill, instruction_en, instruction_zh}}
    episodes: {648642: {...same keys, plus robot_serial, failure_cause, start_time_ns}}

Episode ids are ``<prefix>:agibot-<task>-<episode>``. Without ``provenance`` the dataset is
credited to the public AgiBot World release; set it when the recordings are your own.

Errors: a sidecar problem (no licence, unknown key) is a ``ConfigError`` before anything is
read. A bad episode (missing or corrupt h5 or video, frame counts that disagree, timestamps
that go backwards, an unknown camera, already in the dataset when appending) raises
``ImportSourceError`` naming the file and episode; with ``skip_bad=True`` it is listed in
``ImportReport.skipped`` and the rest is packaged.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import h5py
import numpy as np
from PIL import Image
from pydantic import Field, ValidationError, field_validator

from ...errors import ConfigError, ImportSourceError
from ..episode import Episode
from ..images import encode_image
from ..models import (
    Camera,
    DatasetMeta,
    Embodiment,
    EpisodeMeta,
    Feature,
    Intrinsics,
    Provenance,
    Segment,
)
from ..reader import open_dataset
from .common import EpisodeSink, ImportReport, already_imported, existing_episode_ids
from .sidecar import Operator as _Operator
from .sidecar import Overrides as _Overrides
from .sidecar import Scene as _Scene
from .sidecar import Strict as _Strict
from .sidecar import load_sidecar, parse_sidecar, require_licence

__all__ = [
    "DEPTH_CAMERA",
    "JOINT_NAMES",
    "KNOWN_CAMERAS",
    "SIDECAR_FILE",
    "UNITS",
    "ImportReport",
    "camera_name",
    "import_agibot",
    "load_sidecar",
]

#: The sidecar looked for in the source folder when none is given.
SIDECAR_FILE = "embodex-sidecar.yaml"
SOURCE_FORMAT = "agibot-world-raw"

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
_GROUPS: tuple[tuple[str, int], ...] = (("joint", 14), ("effector", 2), ("head", 2), ("waist", 2))
_EFFECTOR = slice(14, 16)

DEFAULT_EFFECTOR_RANGE_MM = (0.0, 120.0)
#: Robot type the LeRobot AgiBot port uses for these recordings.
DEFAULT_ROBOT_MODEL = "AgiBot_A2D"

_SLUG = r"^[a-z][a-z0-9_]*$"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DEPTH_RE = re.compile(r"head_depth_(\d+)\.png")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

_SKIP_HINT = "or pass skip_bad=True (--skip-bad) to package the other episodes."
_COUNT_HINT = "The streams of this recording are not aligned; re-export it, " + _SKIP_HINT


# -- sidecar ---------------------------------------------------------------------------


class _Robot(_Strict):
    model: str = Field(default=DEFAULT_ROBOT_MODEL, min_length=1)
    serial: str | None = None


class _Limits(_Strict):
    lower: list[float] | None = None
    upper: list[float] | None = None
    velocity: list[float] | None = None


def _default_provenance() -> Provenance:
    return Provenance(centre_id="agibot-world", centre_name="AgiBot World")


class _Sidecar(_Strict):
    licence: str = Field(min_length=1)
    name: str = Field(default="agibot-world", min_length=1)
    description: str | None = None
    provenance: Provenance = Field(default_factory=_default_provenance)
    robot: _Robot = Field(default_factory=_Robot)
    fps: float = Field(default=30.0, gt=0)
    start_time_ns: int = 0
    episode_id_prefix: str | None = None
    cameras: list[str] | None = None
    depth: bool = True
    effector_state_range_mm: tuple[float, float] = DEFAULT_EFFECTOR_RANGE_MM
    limits: _Limits | None = None
    skill: str | dict[str, str] | None = None
    defaults: _Overrides = Field(default_factory=_Overrides)
    tasks: dict[str, _Overrides] = Field(default_factory=dict)
    episodes: dict[str, _Overrides] = Field(default_factory=dict)

    @field_validator("skill", "tasks", "episodes", mode="before")
    @classmethod
    def _str_keys(cls, value: Any) -> Any:
        # YAML reads `327:` as an int key; ids are matched as strings.
        if isinstance(value, Mapping):
            return {str(k): v for k, v in value.items()}
        return value

    @field_validator("effector_state_range_mm")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("must be [lo, hi] with lo < hi")
        return value

    def prefix(self) -> str:
        if self.episode_id_prefix is not None:
            return self.episode_id_prefix
        return self.provenance.centre_id

    def overrides(self, task: str, episode: str) -> _Overrides:
        """Defaults, then the task's, then the episode's settings; later ones win."""
        layers = (self.defaults, self.tasks.get(task), self.episodes.get(episode))
        layered = _Overrides.layered(*layers)
        out = layered.model_dump(exclude_none=True)
        if "skill" not in out:
            if isinstance(self.skill, str):
                out["skill"] = self.skill
            elif self.skill is not None and task in self.skill:
                out["skill"] = self.skill[task]
        return _Overrides.model_validate(out)


def _parse_sidecar(raw: Mapping[str, Any], where: str) -> _Sidecar:
    data = dict(raw)
    if "licence" not in data and "license" in data:
        data["licence"] = data.pop("license")
    require_licence(data.get("licence"), where)
    sidecar = parse_sidecar(_Sidecar, data, where, __name__)
    for stem in sidecar.cameras or []:
        if not re.fullmatch(_SLUG, camera_name(stem)) or camera_name(stem) == DEPTH_CAMERA:
            raise ConfigError(
                f"sidecar {where}: cameras: {stem!r} does not make a camera name",
                hint="List video file stems such as head_color (lower case, digits, '_').",
            )
    prefix = sidecar.prefix()
    if prefix and not _ID_RE.fullmatch(f"{prefix}:agibot-1-1"):
        raise ConfigError(
            f"sidecar {where}: episode id prefix {prefix!r} is not a valid id",
            hint="Use letters, digits and . _ - (set episode_id_prefix or provenance.centre_id).",
        )
    return sidecar


def _resolve_sidecar(src: Path, sidecar: str | Path | Mapping[str, Any] | None) -> _Sidecar:
    if isinstance(sidecar, Mapping):
        return _parse_sidecar(sidecar, "sidecar mapping")
    if sidecar is not None:
        return _parse_sidecar(load_sidecar(sidecar), str(sidecar))
    default = src / SIDECAR_FILE
    if default.is_file():
        return _parse_sidecar(load_sidecar(default), str(default))
    return _parse_sidecar({}, f"no sidecar given and no {default}")


# -- discovery -------------------------------------------------------------------------


def camera_name(stem: str) -> str:
    """The embodex camera name of a video stem: ``hand_left_color`` -> ``hand_left``."""
    base = stem[: -len("_color")] if stem.endswith("_color") else stem
    return re.sub(r"[^a-z0-9_]", "_", base.lower())


def _sort_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


@dataclass
class _Source:
    task: str
    episode: str
    info: dict[str, Any]
    task_file: Path
    h5: Path
    obs: Path
    params: Path
    embodex_id: str


def _read_task_info(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportSourceError(
            f"cannot read task info: {exc}",
            path=str(path),
            hint="Restore the file from the release (it is a JSON list, one entry per episode).",
        ) from exc
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ImportSourceError(
            "task info is not a JSON list of episode objects",
            path=str(path),
            hint="Restore the file from the release (it is a JSON list, one entry per episode).",
        )
    return data


def _discover(src: Path, prefix: str, notes: list[str]) -> list[_Source]:
    info_dir = src / "task_info"
    files = sorted(info_dir.glob("task_*.json")) if info_dir.is_dir() else []
    if not files:
        raise ImportSourceError(
            "no task_info/task_<id>.json file",
            path=str(info_dir),
            hint="Point at the extracted AgiBot World root (it holds task_info/, "
            "observations/, proprio_stats/ and parameters/); extract the .tar files first.",
        )
    tasks = sorted(((p.stem[len("task_") :], p) for p in files), key=lambda t: _sort_key(t[0]))
    sources: list[_Source] = []
    for task, path in tasks:
        if not _PLAIN_ID.fullmatch(task):
            raise ImportSourceError(
                f"task id {task!r} in the file name is not a plain id",
                path=str(path),
                hint="Name task info files task_<number>.json.",
            )
        seen: set[str] = set()
        for i, entry in enumerate(_read_task_info(path)):
            raw_id = entry.get("episode_id")
            episode = str(raw_id) if isinstance(raw_id, int | str) else ""
            if not _PLAIN_ID.fullmatch(episode) or isinstance(raw_id, bool):
                raise ImportSourceError(
                    f"entry {i} has no usable episode_id ({raw_id!r})",
                    path=str(path),
                    hint="Each entry needs an integer episode_id; restore the file.",
                )
            if episode in seen:
                raise ImportSourceError(
                    f"episode_id {episode} is listed twice",
                    path=str(path),
                    hint="Remove the duplicate entry.",
                )
            seen.add(episode)
            local = f"agibot-{task}-{episode}"
            sources.append(
                _Source(
                    task=task,
                    episode=episode,
                    info=entry,
                    task_file=path,
                    h5=src / "proprio_stats" / task / episode / "proprio_stats.h5",
                    obs=src / "observations" / task / episode,
                    params=src / "parameters" / task / episode,
                    embodex_id=f"{prefix}:{local}" if prefix else local,
                )
            )
        obs_task = src / "observations" / task
        if obs_task.is_dir():
            unlisted = sorted(
                (d.name for d in obs_task.iterdir() if d.is_dir() and d.name not in seen),
                key=_sort_key,
            )
            if unlisted:
                more = ", ..." if len(unlisted) > 5 else ""
                notes.append(
                    f"task {task}: {len(unlisted)} episode folder(s) under observations/ are "
                    f"not in {path.name} and were not imported: {', '.join(unlisted[:5])}{more}"
                )
    return sources


# -- the plan: dataset schema decided before the first episode is written -----------------


@dataclass
class _CameraPlan:
    stem: str
    camera: Camera


@dataclass
class _Plan:
    cameras: list[_CameraPlan]
    depth: Camera | None
    base_velocity: bool
    allowed_stems: frozenset[str]


def _intrinsics_file(s: _Source, name: str) -> Path | None:
    # The release nests a second parameters/ folder; an early Alpha did not.
    for base in (s.params / "parameters" / "camera", s.params / "camera"):
        p = base / f"{name}_intrinsic_params.json"
        if p.is_file():
            return p
    return None


def _read_intrinsics(path: Path) -> Intrinsics:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    block = data.get("intrinsic", data)
    if not isinstance(block, dict):
        raise ValueError("'intrinsic' is not an object")
    dist_keys = ("k1", "k2", "p1", "p2", "k3")
    distortion = [float(block.get(k, 0.0)) for k in dist_keys]
    has_dist = any(k in block for k in dist_keys)
    return Intrinsics(
        fx=float(block["fx"]),
        fy=float(block["fy"]),
        cx=float(block["ppx"]),
        cy=float(block["ppy"]),
        distortion_model="plumb_bob" if has_dist else None,
        distortion=distortion if has_dist else [],
    )


def _probe_video(path: Path) -> tuple[int, int] | None:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            ctx = container.streams.video[0].codec_context
            return int(ctx.width), int(ctx.height)
    except (av.error.FFmpegError, OSError, ValueError):
        return None


def _probe_depth(folder: Path) -> tuple[int, int] | None:
    for p in sorted(folder.glob("head_depth_*.png"))[:1]:
        try:
            with Image.open(p) as img:
                return int(img.size[0]), int(img.size[1])
        except (OSError, ValueError):
            return None
    return None


def _has_velocity(path: Path) -> bool | None:
    """True/False when readable; None when the file cannot be read (reported later)."""
    try:
        with h5py.File(path, "r") as f:
            rows = f["state/joint/position"].shape[0]
            vel = f.get("action/robot/velocity")
            return vel is not None and rows > 0 and tuple(vel.shape) == (rows, 2)
    except (OSError, KeyError, ValueError, TypeError):
        return None


def _plan(src: Path, sources: list[_Source], sc: _Sidecar, notes: list[str]) -> _Plan:
    allowed = frozenset(KNOWN_CAMERAS) | frozenset(sc.cameras or [])
    if sc.cameras is not None:
        stems = list(dict.fromkeys(sc.cameras))
    else:
        found: set[str] = set()
        for s in sources:
            vdir = s.obs / "videos"
            if vdir.is_dir():
                found.update(p.stem for p in vdir.glob("*.mp4") if p.stem in KNOWN_CAMERAS)
        stems = [c for c in KNOWN_CAMERAS if c in found]
    if any((s.obs / "tactile").is_dir() for s in sources):
        notes.append("tactile/ videos were found and are not imported")
    cameras: list[_CameraPlan] = []
    for stem in stems:
        name = camera_name(stem)
        size = None
        for s in sources:
            path = s.obs / "videos" / f"{stem}.mp4"
            if path.is_file() and (size := _probe_video(path)) is not None:
                break
        if size is None:
            raise ImportSourceError(
                f"no episode has a readable {stem}.mp4",
                path=str(src / "observations"),
                hint="Extract the observation tars, or leave the camera out of the sidecar's "
                "`cameras` list.",
            )
        intr = None
        for s in sources:
            ipath = _intrinsics_file(s, name)
            if ipath is None:
                continue
            try:
                intr = _read_intrinsics(ipath)
                break
            except (OSError, ValueError, KeyError, TypeError, ValidationError):
                continue  # that episode reports it; the dataset takes the next good one
        cam = Camera(
            name=name, kind="color", width=size[0], height=size[1], encoding="jpeg",
            intrinsics=intr,
        )  # fmt: skip
        cameras.append(_CameraPlan(stem, cam))
    depth = None
    if sc.depth:
        for s in sources:
            dsize = _probe_depth(s.obs / "depth")
            if dsize is not None:
                depth = Camera(
                    name=DEPTH_CAMERA, kind="depth", width=dsize[0], height=dsize[1],
                    encoding="png16", depth_unit="mm",
                )  # fmt: skip
                break
    flags = [f for f in (_has_velocity(s.h5) for s in sources) if f is not None]
    return _Plan(cameras, depth, bool(flags) and all(flags), allowed)


def _dataset_meta(sc: _Sidecar, plan: _Plan) -> DatasetMeta:
    lim = sc.limits or _Limits()
    names = list(JOINT_NAMES)
    lo, hi = sc.effector_state_range_mm
    vector = (
        "14 arm joints (rad), left/right gripper (0 open .. 1 closed), head yaw/pitch (rad), "
        "waist pitch (rad) and lift (m); see the embodiment"
    )
    try:
        embodiment = Embodiment(
            model=sc.robot.model,
            dof=len(names),
            joint_names=names,
            units=list(UNITS),
            position_lower=lim.lower,
            position_upper=lim.upper,
            velocity_limit=lim.velocity,
        )
    except ValidationError as exc:
        raise ConfigError(
            f"sidecar limits: {exc.errors()[0]['msg']}",
            hint=f"Give 20 values per list, in the order {', '.join(JOINT_NAMES)}.",
        ) from None
    features = {
        "state": Feature(
            shape=[len(names)], names=names, role="state",
            description=f"Measured positions: {vector}. Gripper = (mm - {lo}) / ({hi} - {lo}).",
        ),
        "action": Feature(
            shape=[len(names)], names=names, role="action",
            description=f"Commanded positions (AgiBot action/*/position): {vector}.",
        ),
    }  # fmt: skip
    if plan.base_velocity:
        features["action.base_velocity"] = Feature(
            shape=[2], names=["vx", "yaw_rate"], role="action",
            description="Commanded base velocity: vx (m/s), yaw rate (rad/s).",
        )  # fmt: skip
    cameras = [c.camera for c in plan.cameras] + ([plan.depth] if plan.depth else [])
    try:
        return DatasetMeta(
            name=sc.name,
            licence=sc.licence,
            description=sc.description or "Imported from the AgiBot World raw layout.",
            provenance=sc.provenance,
            embodiments=[embodiment],
            cameras=cameras,
            features=features,
            fps=sc.fps,
            extra={
                "agibot": {
                    "source_format": SOURCE_FORMAT,
                    "effector_state_range_mm": [lo, hi],
                }
            },
        )
    except ValidationError as exc:
        raise ConfigError(f"sidecar: {exc.errors()[0]['msg']}") from None


# -- one episode -------------------------------------------------------------------------


@dataclass
class _Proprio:
    timestamps: np.ndarray | None
    state: np.ndarray
    action: np.ndarray
    velocity: np.ndarray | None
    filled: dict[str, str]


def _read_proprio(f: h5py.File, s: _Source, sc: _Sidecar, velocity: bool) -> _Proprio:
    eid, where = s.embodex_id, str(s.h5)

    def bad(message: str, hint: str | None = None) -> ImportSourceError:
        return ImportSourceError(message, path=where, episode=eid, hint=hint)

    def need(key: str, width: int) -> np.ndarray:
        d = f.get(key)
        if not isinstance(d, h5py.Dataset):
            raise bad(
                f"dataset {key} is missing", "Restore the file from the release, " + _SKIP_HINT
            )
        arr = np.asarray(d[()], dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != width:
            if key.endswith("effector/position") and arr.ndim == 2 and arr.shape[1] == 12:
                raise bad(
                    f"{key} has 12 values per row (a dexterous hand); only grippers are supported",
                    "Import gripper tasks only, " + _SKIP_HINT,
                )
            raise bad(f"{key} has shape {arr.shape}, expected (N, {width})")
        return arr

    parts: list[np.ndarray] = []
    n = 0
    for group, width in _GROUPS:
        arr = need(f"state/{group}/position", width)
        if not parts:
            n = len(arr)
            if n == 0:
                raise bad(
                    "state/joint/position has no rows", "Drop empty recordings, " + _SKIP_HINT
                )
        elif len(arr) != n:
            raise bad(
                f"state/{group}/position has {len(arr)} rows, state/joint/position has {n}",
                _COUNT_HINT,
            )
        parts.append(arr)
    lo, hi = sc.effector_state_range_mm
    parts[1] = (parts[1] - lo) / (hi - lo)
    state = np.concatenate(parts, axis=1)

    actions: list[np.ndarray] = []
    filled: dict[str, str] = {}
    col = 0
    for group, width in _GROUPS:
        held = state[:, col : col + width]
        col += width
        key = f"action/{group}/position"
        d = f.get(key)
        if not isinstance(d, h5py.Dataset) or d.size == 0:
            actions.append(held.copy())
            filled[group] = "state"
            continue
        values = np.asarray(d[()], dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != width:
            raise bad(f"{key} has shape {values.shape}, expected (N, {width})")
        rows = len(values)
        if rows > n:
            raise bad(f"{key} has {rows} rows, the state has {n}", _COUNT_HINT)
        if rows == n:
            actions.append(values)
            continue
        idx_d = f.get(f"action/{group}/index")
        index = np.asarray(idx_d[()]) if isinstance(idx_d, h5py.Dataset) else None
        if index is None or index.shape != (rows,) or index.dtype.kind not in "iu":
            raise bad(
                f"{key} has {rows} rows, the state has {n}, and action/{group}/index does "
                "not say which rows they are",
                _COUNT_HINT,
            )
        if rows and (index.min() < 0 or index.max() >= n or len(np.unique(index)) != rows):
            raise bad(f"action/{group}/index has rows outside 0..{n - 1} or repeats", _COUNT_HINT)
        # Rows the operator sent no command for keep the measured pose (AgiBot's own
        # converters do the same); the fill is recorded in the episode's extra.
        out = held.copy()
        out[index.astype(np.int64)] = values
        actions.append(out)
        filled[group] = "scattered"
    action = np.concatenate(actions, axis=1)

    vel = None
    if velocity:
        vel = need("action/robot/velocity", 2)
        if len(vel) != n:
            raise bad(f"action/robot/velocity has {len(vel)} rows, the state has {n}", _COUNT_HINT)

    ts = None
    d = f.get("timestamp")
    if isinstance(d, h5py.Dataset) and d.size > 0:
        raw = np.asarray(d[()])
        if raw.dtype.kind not in "iu":
            raise bad(
                f"timestamp has dtype {raw.dtype}; expected int64 nanoseconds",
                "Convert the timestamps to int64 ns, " + _SKIP_HINT,
            )
        if raw.shape != (n,):
            raise bad(f"timestamp has shape {raw.shape}, the state has {n} rows", _COUNT_HINT)
        ts = raw.astype(np.int64)
        steps = np.diff(ts)
        if steps.size and (steps <= 0).any():
            i = int(np.argmax(steps <= 0)) + 1
            raise bad(
                f"timestamp goes backwards or repeats at row {i} "
                f"({int(ts[i - 1])} -> {int(ts[i])} ns)",
                "The recorder clock jumped; re-time the recording, " + _SKIP_HINT,
            )
    return _Proprio(ts, state, action, vel, filled)


@dataclass
class _Video:
    frames: list[bytes]
    offsets_ns: np.ndarray | None  # PTS relative to the first frame


def _decode_video(path: Path, cam: Camera, eid: str) -> _Video:
    frames: list[bytes] = []
    pts: list[int | None] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ImportSourceError(
                    "cannot decode the video: it has no video stream", path=str(path), episode=eid,
                    hint="Restore the file from the release, " + _SKIP_HINT,
                )  # fmt: skip
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            time_base = stream.time_base
            for frame in container.decode(stream):
                if (frame.width, frame.height) != (cam.width, cam.height):
                    raise ImportSourceError(
                        f"frames are {frame.width}x{frame.height}, camera {cam.name} is "
                        f"{cam.width}x{cam.height} in the other episodes",
                        path=str(path), episode=eid,
                        hint="Import episodes with different camera sizes separately, "
                        + _SKIP_HINT,
                    )  # fmt: skip
                frames.append(encode_image(frame.to_ndarray(format="rgb24"), "jpeg"))
                pts.append(frame.pts)
    except ImportSourceError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ImportSourceError(
            f"cannot decode the video: {exc}",
            path=str(path),
            episode=eid,
            hint="The file is corrupt or truncated; download it again, " + _SKIP_HINT,
        ) from exc
    offsets = None
    if frames and time_base is not None and all(p is not None for p in pts):
        num, den = int(time_base.numerator), int(time_base.denominator)
        first = int(pts[0] or 0)
        # integer arithmetic: exact nanoseconds, rounded half up
        offsets = np.array(
            [((int(p or 0) - first) * num * 2_000_000_000 + den) // (2 * den) for p in pts],
            dtype=np.int64,
        )
    return _Video(frames, offsets)


def _load_depth(folder: Path, cam: Camera, n: int, eid: str) -> list[bytes]:
    def bad(message: str, path: Path, hint: str | None = None) -> ImportSourceError:
        return ImportSourceError(message, path=str(path), episode=eid, hint=hint)

    files: list[tuple[int, Path]] = []
    if folder.is_dir():
        for p in folder.glob("head_depth_*.png"):
            m = _DEPTH_RE.fullmatch(p.name)
            if m:
                files.append((int(m.group(1)), p))
    files.sort()
    if not files:
        raise bad(
            "depth frames are missing", folder, "Extract them from the release, " + _SKIP_HINT
        )
    if len(files) != n:
        raise bad(f"{len(files)} depth frames, proprio_stats.h5 has {n} rows", folder, _COUNT_HINT)
    for expect, (number, p) in enumerate(files):
        if number != expect:
            raise bad(f"depth frame {expect:06d} is missing (found {p.name})", folder, _COUNT_HINT)
    out: list[bytes] = []
    for _, p in files:
        data = p.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                mode, size = img.mode, img.size
                arr = None if mode == "I;16" else np.asarray(img)
        except (OSError, ValueError) as exc:
            raise bad(
                f"cannot read the depth frame: {exc}", p, "Restore it, " + _SKIP_HINT
            ) from exc
        if size != (cam.width, cam.height):
            raise bad(
                f"depth frame is {size[0]}x{size[1]}, the dataset's is {cam.width}x{cam.height}", p
            )
        if arr is None:
            out.append(data)  # already 16-bit PNG: stored as delivered
        elif arr.ndim == 2 and arr.dtype.kind in "iu" and arr.min() >= 0 and arr.max() <= 65535:
            out.append(encode_image(arr.astype(np.uint16), "png16"))
        else:
            raise bad(f"depth frame has mode {mode}; expected 16-bit millimetres", p)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _jsonable_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _segments(s: _Source, n: int, extra: dict[str, Any]) -> list[Segment]:
    label = s.info.get("label_info")
    config = label.get("action_config") if isinstance(label, dict) else None
    if config is None:
        return []
    if not isinstance(config, list):
        raise ImportSourceError(
            "label_info.action_config is not a list",
            path=str(s.task_file),
            episode=s.embodex_id,
            hint="Restore the task info file, " + _SKIP_HINT,
        )
    segments: list[Segment] = []
    clipped = dropped = 0
    for i, item in enumerate(config):
        try:
            start, end = int(item["start_frame"]), int(item["end_frame"])
        except (KeyError, TypeError, ValueError):
            raise ImportSourceError(
                f"label_info.action_config[{i}] has no integer start_frame / end_frame",
                path=str(s.task_file),
                episode=s.embodex_id,
                hint="Fix the label, " + _SKIP_HINT,
            ) from None
        if end > n:
            end, clipped = n, clipped + 1
        if start < 0 or end <= start:
            dropped += 1
            continue
        text = item.get("action_text") or item.get("english_action_text") or ""
        segments.append(
            Segment(start_frame=start, end_frame=end, skill=str(item.get("skill") or ""),
                    text=str(text))
        )  # fmt: skip
    if clipped:
        extra["segments_clipped"] = clipped
    if dropped:
        extra["segments_dropped"] = dropped
    return segments


def _episode_meta(
    s: _Source, sc: _Sidecar, model: str, n: int, extra: dict[str, Any]
) -> EpisodeMeta:
    ov = sc.overrides(s.task, s.episode)
    task_name = str(s.info.get("task_name") or "").strip()
    english = str(s.info.get("english_task_name") or "").strip()
    scene_text = str(s.info.get("init_scene_text") or "").strip()
    zh_name = bool(_CJK.search(task_name))
    if task_name:
        extra["task_name"] = task_name
    if scene_text:
        extra["init_scene_text"] = scene_text
    segments = _segments(s, n, extra)
    scene = ov.scene or _Scene()
    operator = ov.operator or _Operator()
    return EpisodeMeta(
        episode_id=s.embodex_id,
        scene_id=scene.scene_id,
        scene_type=scene.scene_type,
        site=scene.site or sc.provenance.site,
        lighting=scene.lighting,
        objects=scene.objects or [],
        robot_model=model,
        robot_serial=ov.robot_serial or sc.robot.serial,
        operator_id=operator.id,
        operator_level=operator.level,
        skill=ov.skill or _slug(english or task_name) or f"task_{s.task}",
        instruction_en=ov.instruction_en or english or (task_name if not zh_name else None) or None,
        instruction_zh=ov.instruction_zh or (task_name if zh_name else None),
        segments=segments,
        success=ov.success,
        failure_cause=ov.failure_cause,
        timestamps_synthesized=False,
        extra={"agibot": extra},
    )


def _load_episode(
    s: _Source, plan: _Plan, meta: DatasetMeta, sc: _Sidecar, pool: ThreadPoolExecutor
) -> Episode:
    eid = s.embodex_id
    if not s.h5.is_file():
        raise ImportSourceError(
            "proprio_stats.h5 is missing",
            path=str(s.h5),
            episode=eid,
            hint="Extract the matching proprio_stats tar, " + _SKIP_HINT,
        )
    try:
        with h5py.File(s.h5, "r") as f:
            proprio = _read_proprio(f, s, sc, plan.base_velocity)
    except ImportSourceError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ImportSourceError(
            f"cannot read proprio_stats.h5: {exc}",
            path=str(s.h5),
            episode=eid,
            hint="The file is corrupt or truncated; download it again, " + _SKIP_HINT,
        ) from exc
    n = len(proprio.state)

    vdir = s.obs / "videos"
    present = {p.stem: p for p in vdir.glob("*.mp4")} if vdir.is_dir() else {}
    unknown = sorted(set(present) - plan.allowed_stems)
    if unknown:
        raise ImportSourceError(
            f"unknown camera video {unknown[0]}.mp4",
            path=str(present[unknown[0]]),
            episode=eid,
            hint="Declare it in the sidecar's `cameras` list to import it as a camera, remove "
            "the file, " + _SKIP_HINT,
        )
    for cp in plan.cameras:
        if cp.stem not in present:
            raise ImportSourceError(
                f"camera video {cp.stem}.mp4 is missing",
                path=str(vdir / f"{cp.stem}.mp4"),
                episode=eid,
                hint="Extract it from the observation tar, " + _SKIP_HINT,
            )
    futures: list[Future[_Video]] = [
        pool.submit(_decode_video, present[cp.stem], cp.camera, eid) for cp in plan.cameras
    ]
    try:
        depth = _load_depth(s.obs / "depth", plan.depth, n, eid) if plan.depth else None
    finally:
        wait(futures)
    videos = [fut.result() for fut in futures]  # the first failing camera raises

    extra: dict[str, Any] = {"task_id": _jsonable_id(s.task), "episode_id": _jsonable_id(s.episode)}
    if proprio.filled:
        extra["action_filled"] = proprio.filled
    images: dict[str, list[bytes]] = {}
    for cp, video in zip(plan.cameras, videos, strict=True):
        if len(video.frames) != n:
            raise ImportSourceError(
                f"{cp.stem}.mp4 has {len(video.frames)} frames, proprio_stats.h5 has {n} rows",
                path=str(present[cp.stem]),
                episode=eid,
                hint=_COUNT_HINT,
            )
        images[cp.camera.name] = video.frames
    if depth is not None and plan.depth is not None:
        images[plan.depth.name] = depth

    differing: dict[str, Any] = {}
    for cp in plan.cameras:
        ipath = _intrinsics_file(s, cp.camera.name)
        if ipath is None:
            continue
        try:
            intr = _read_intrinsics(ipath)
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ImportSourceError(
                f"cannot read camera intrinsics: {exc}",
                path=str(ipath),
                episode=eid,
                hint="Restore the file from the parameters tar, " + _SKIP_HINT,
            ) from exc
        if intr != cp.camera.intrinsics:
            differing[cp.camera.name] = intr.model_dump(mode="json")
    if differing:
        extra["intrinsics"] = differing

    episode_meta = _episode_meta(s, sc, meta.embodiments[0].model, n, extra)
    image_ts: dict[str, np.ndarray] = {}
    if proprio.timestamps is not None:
        ts = proprio.timestamps
        for cp, video in zip(plan.cameras, videos, strict=True):
            if video.offsets_ns is not None:
                image_ts[cp.camera.name] = ts[0] + video.offsets_ns
    else:
        ov = sc.overrides(s.task, s.episode)
        start = ov.start_time_ns if ov.start_time_ns is not None else sc.start_time_ns
        ts = start + np.round(np.arange(n, dtype=np.float64) * (1e9 / sc.fps)).astype(np.int64)
        episode_meta.timestamps_synthesized = True
    features = {"state": proprio.state, "action": proprio.action}
    if proprio.velocity is not None:
        features["action.base_velocity"] = proprio.velocity
    return Episode(
        meta=episode_meta,
        timestamp_ns=ts,
        features=features,
        images=images,
        image_timestamps_ns=image_ts,
    )


# -- the import ----------------------------------------------------------------------------


def _existing(out: Path, append: bool, meta: DatasetMeta) -> set[str]:
    """Ids already in ``out``; also checks the gripper mapping matches the earlier import."""
    ids = existing_episode_ids(out, append, meta)
    if ids:
        old = open_dataset(out).meta.extra.get("agibot", {}).get("effector_state_range_mm")
        new_range = meta.extra["agibot"]["effector_state_range_mm"]
        if old is not None and list(old) != list(new_range):
            raise ConfigError(
                f"{out} maps gripper mm over {old}, the sidecar says {new_range}",
                hint="Use the same effector_state_range_mm as the earlier import.",
            )
    return ids


def import_agibot(
    src: str | Path,
    out: str | Path,
    *,
    sidecar: str | Path | Mapping[str, Any] | None = None,
    skip_bad: bool = False,
    append: bool = False,
    on_episode: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import the AgiBot World raw layout at ``src`` into the embodex dataset ``out``.

    ``sidecar`` is a YAML path or an already-loaded mapping; by default
    ``src/embodex-sidecar.yaml`` is used when it exists (the module docstring lists its
    keys; ``licence`` is required). ``append=True`` adds to an existing dataset (same
    licence and schema). ``on_episode`` is called with each episode id once it is written.
    Episodes are written one at a time through ``DatasetWriter`` and published together at
    the end; on any error nothing new is published.

    Raises ``ConfigError`` (sidecar), ``ImportSourceError`` (a bad recording, unless
    ``skip_bad``; or nothing importable), ``DatasetExistsError`` and ``SchemaError``.

    Example::

        report = import_agibot("AgiBotWorld-Beta", "out/agibot", sidecar="agibot.yaml",
                               skip_bad=True)
        for episode_id, reason in report.skipped:
            print(episode_id, reason)
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ImportSourceError(
            "source folder does not exist",
            path=str(src),
            hint="Give the folder that holds task_info/, observations/ and proprio_stats/.",
        )
    sc = _resolve_sidecar(src, sidecar)
    report = ImportReport(dataset=out)
    sources = _discover(src, sc.prefix(), report.notes)
    plan = _plan(src, sources, sc, report.notes)
    meta = _dataset_meta(sc, plan)
    existing = _existing(out, append, meta)

    workers = max(1, min(4, len(plan.cameras)))
    with (
        EpisodeSink(out, report, append=append, on_episode=on_episode) as sink,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        for s in sources:
            try:
                if s.embodex_id in existing:
                    raise already_imported(out, s.embodex_id, _SKIP_HINT)
                episode = _load_episode(s, plan, meta, sc, pool)
            except ImportSourceError as exc:
                sink.skip(s.embodex_id, exc, skip_bad)
                continue
            sink.add(meta, episode)
        sink.finish(src, listed=len(sources))
    return report
