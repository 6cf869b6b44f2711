"""Import the AgiBot World raw layout (Alpha / Beta releases) into an embodex dataset.

The source is the folder the AgiBot World tars extract into::

    task_info/task_<task>.json                              episodes, task name, labels
    proprio_stats/<task>/<episode>/proprio_stats.h5         joint state, actions, timestamps
    observations/<task>/<episode>/videos/<cam>_color.mp4    one video per camera
    observations/<task>/<episode>/depth/head_depth_NNNNNN.png
    parameters/<task>/<episode>/parameters/camera/<cam>_intrinsic_params.json

**specs/format.md §9.1 is the normative mapping** (every h5 dataset, unit, the gripper
scaling, times, cameras, depth, calibration, labels, every sidecar key and every error);
this module follows it. In short: ``state`` and ``action`` are float32[20] (14 arm joints
in rad, two grippers normalised 0 open .. 1 closed, head yaw/pitch, waist pitch and lift),
``action.base_velocity`` is ``action/robot/velocity`` when every episode has it; the gripper
state in mm is mapped over the sidecar's ``effector_state_range_mm``; times come from the h5
``timestamp`` (else they are synthesised and flagged); videos become JPEG cameras named
without ``_color``, depth PNGs camera ``head_depth`` with the intrinsics of the camera it is
registered to; ``label_info.action_config`` entries become segments.

The sidecar (:class:`~embodex.format.importers.agibot_sidecar.Sidecar`, YAML, by default
``SRC/embodex-sidecar.yaml``) supplies what the layout lacks; ``licence`` and ``provenance``
are required (``provenance: agibot-world-public`` for the public release itself)::

    licence: CC-BY-NC-SA-4.0
    provenance: {centre_id: acme, centre_name: ACME Robotics, site: Shanghai}
    robot: {model: AgiBot_A2D, serial: A2D-0001}
    effector_state_range_mm: [35, 120]
    defaults: {scene: {scene_id: S04, scene_type: restaurant}, operator: {id: op-7}}

Episode ids are ``<prefix>:agibot-<task>-<episode>``. A sidecar problem is a
``ConfigError`` before any episode is packaged; a bad episode raises ``ImportSourceError``
naming the file and episode, or with ``skip_bad=True`` is listed in
``ImportReport.skipped`` while the rest is packaged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from pydantic import ValidationError

from ...errors import ConfigError, ImportSourceError, SchemaError
from ...units import count, plural
from ..episode import Episode
from ..models import (
    Camera,
    DatasetMeta,
    Embodiment,
    EpisodeMeta,
    Feature,
    Intrinsics,
    Segment,
    Stream,
)
from ..reader import open_dataset
from ..videostore import VideoClip, VideoEncoding, VideoIndex, probe_index
from .agibot_layout import (
    COUNT_HINT,
    DEPTH_CAMERA,
    JOINT_NAMES,
    KNOWN_CAMERAS,
    SKIP_HINT,
    UNITS,
    camera_mount,
    camera_name,
)
from .agibot_media import (
    Video,
    decode_video,
    index_video,
    intrinsics_file,
    load_depth,
    probe_depth,
    probe_video,
    pts_offsets_ns,
    read_intrinsics,
)
from .agibot_proprio import GripperMap, has_velocity, load_proprio
from .agibot_sidecar import Limits, Sidecar, resolve_sidecar
from .agibot_streams import read_streams, stream_models
from .common import (
    EpisodeSink,
    ImportReport,
    VideoPolicy,
    already_imported,
    existing_episode_ids,
    record_repair,
)
from .sidecar import SIDECAR_FILE, Operator, Scene, load_sidecar

__all__ = [
    "DEPTH_CAMERA",
    "JOINT_NAMES",
    "KNOWN_CAMERAS",
    "SIDECAR_FILE",
    "UNITS",
    "ImportReport",
    "VideoPolicy",
    "camera_name",
    "import_agibot",
    "load_sidecar",
]

SOURCE_FORMAT = "agibot-world-raw"

_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


# -- discovery -------------------------------------------------------------------------


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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
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
                    f"task {task}: {count(len(unlisted), 'episode folder')} under observations/ "
                    f"{plural('is', len(unlisted))} not in {path.name} and "
                    f"{plural('was', len(unlisted))} not imported: {', '.join(unlisted[:5])}{more}"
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
    depth_intrinsics_from: str | None = None
    #: streams at their own rate from the h5 (sidecar ``streams``, format 1.1)
    streams: list[Stream] = field(default_factory=list)


def _camera_encoding(path: Path, policy: VideoPolicy) -> str:
    """The encoding of a colour camera: JPEG frames, or video in the recorder's codec when
    it can be kept (else the policy's codec, which re-encoding produces)."""
    if policy.cameras == "jpeg":
        return "jpeg"
    if policy.reencode == "always":
        return policy.codec
    try:
        codec = probe_index(path).codec
    except (SchemaError, av.error.FFmpegError, OSError, ValueError):
        codec = None
    return codec or policy.codec


def _plan(
    src: Path, sources: list[_Source], sc: Sidecar, notes: list[str], policy: VideoPolicy
) -> _Plan:
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
        first: Path | None = None
        for s in sources:
            path = s.obs / "videos" / f"{stem}.mp4"
            if path.is_file() and (size := probe_video(path)) is not None:
                first = path
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
            ipath = intrinsics_file(s.params, name)
            if ipath is None:
                continue
            try:
                intr = read_intrinsics(ipath)
                break
            except (OSError, ValueError, KeyError, TypeError, ValidationError):
                continue  # that episode reports it; the dataset takes the next good one
        assert first is not None
        encoding = _camera_encoding(first, policy)
        cam = Camera(
            name=name, kind="color", width=size[0], height=size[1], encoding=encoding,
            storage="frame" if encoding == "jpeg" else "video", intrinsics=intr,
            mount=sc.camera_mounts.get(stem) or camera_mount(stem),
        )  # fmt: skip
        cameras.append(_CameraPlan(stem, cam))
    depth = None
    depth_from: str | None = None
    if sc.depth:
        for s in sources:
            dsize = probe_depth(s.obs / "depth")
            if dsize is not None:
                depth = Camera(
                    name=DEPTH_CAMERA, kind="depth", width=dsize[0], height=dsize[1],
                    encoding="png16", depth_unit="mm", mount="head",
                )  # fmt: skip
                intr, depth_from = _depth_intrinsics(sources, sc, cameras, dsize, notes)
                depth = depth.model_copy(update={"intrinsics": intr})
                break
    flags = [f for f in (has_velocity(s.h5) for s in sources) if f is not None]
    streams = stream_models(sc.streams, [s.h5 for s in sources])
    return _Plan(cameras, depth, bool(flags) and all(flags), allowed, depth_from, streams)


def _depth_intrinsics(
    sources: list[_Source],
    sc: Sidecar,
    cameras: list[_CameraPlan],
    size: tuple[int, int],
    notes: list[str],
) -> tuple[Intrinsics | None, str | None]:
    """The depth camera's intrinsics and where they come from: its own
    ``head_depth_intrinsic_params.json`` when an episode has one; else those of the colour
    camera it is registered to (sidecar ``depth_aligned_to``, default ``head_color``:
    AgiBot's head depth is aligned to head_color, pixel for pixel), provided the sizes
    match; else none (noted; QC then warns)."""
    for s in sources:
        ipath = intrinsics_file(s.params, DEPTH_CAMERA)
        if ipath is None:
            continue
        try:
            return read_intrinsics(ipath), ipath.name
        except (OSError, ValueError, KeyError, TypeError, ValidationError):
            continue
    target = sc.depth_aligned_to
    if target is None:
        notes.append(f"{DEPTH_CAMERA} has no intrinsics file and depth_aligned_to is null")
        return None, None
    cam = next((c.camera for c in cameras if c.camera.name == camera_name(target)), None)
    if cam is None or cam.intrinsics is None:
        notes.append(
            f"{DEPTH_CAMERA} has no intrinsics: no intrinsics file, and camera "
            f"{camera_name(target)} (depth_aligned_to) is not imported or not calibrated"
        )
        return None, None
    if (cam.width, cam.height) != size:
        notes.append(
            f"{DEPTH_CAMERA} has no intrinsics: it is {size[0]}x{size[1]}, camera {cam.name} "
            f"(depth_aligned_to) is {cam.width}x{cam.height}, so it cannot be registered to it"
        )
        return None, None
    return cam.intrinsics, f"camera {cam.name} (depth_aligned_to)"


def _dataset_meta(sc: Sidecar, plan: _Plan, policy: VideoPolicy) -> DatasetMeta:
    lim = sc.limits or Limits()
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
            hint=f"Give 20 values per list, in the order {', '.join(JOINT_NAMES)} "
            "(specs/format.md §9.1.3).",
        ) from None
    features = {
        "state": Feature(
            shape=[len(names)], names=names, role="state",
            description=f"Measured positions: {vector}. {_gripper_text(sc, lo, hi)}",
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
            provenance=sc.centre,
            embodiments=[embodiment],
            cameras=cameras,
            features=features,
            fps=sc.fps,
            streams=plan.streams,
            extra={
                "agibot": {
                    "source_format": SOURCE_FORMAT,
                    "effector_state_range_mm": [lo, hi],
                    "effector_state_unit": sc.effector_state_unit,
                    "effector_state_open": sc.effector_state_open,
                    "video": policy.as_json(),
                    **(
                        {"depth_intrinsics_from": plan.depth_intrinsics_from}
                        if plan.depth_intrinsics_from
                        else {}
                    ),
                }
            },
        )
    except ValidationError as exc:
        raise ConfigError(
            f"sidecar: {exc.errors()[0]['msg']}",
            hint="Fix that key of the sidecar YAML; the keys are listed in specs/format.md §9.1.3.",
        ) from None


# -- one episode -------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _jsonable_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _segments(s: _Source, n: int, extra: dict[str, Any], repairs: dict[str, Any]) -> list[Segment]:
    label = s.info.get("label_info")
    config = label.get("action_config") if isinstance(label, dict) else None
    if config is None:
        return []
    if not isinstance(config, list):
        raise ImportSourceError(
            "label_info.action_config is not a list",
            path=str(s.task_file),
            episode_id=s.embodex_id,
            hint="Restore the task info file, " + SKIP_HINT,
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
                episode_id=s.embodex_id,
                hint="Fix the label, " + SKIP_HINT,
            ) from None
        if end > n:
            if start < n:
                record_repair(
                    repairs,
                    "segment_clipped",
                    f"sub-task segment {i} ends at frame {end}, past the last frame "
                    f"({n - 1}); clipped to end at {n}",
                    (max(start, 0), n),
                )
            end, clipped = n, clipped + 1
        if start < 0 or end <= start:
            record_repair(
                repairs,
                "segment_dropped",
                f"sub-task segment {i} [{start}, {int(item['end_frame'])}) is empty or outside "
                f"the {n} frames; dropped",
            )
            dropped += 1
            continue
        # action_text is usually Chinese; english_action_text, where given, is English
        text = str(item.get("action_text") or "")
        english = str(item.get("english_action_text") or "")
        zh = bool(_CJK.search(text))
        segments.append(
            Segment(start_frame=start, end_frame=end, skill=str(item.get("skill") or ""),
                    text_en=english or ("" if zh else text), text_zh=text if zh else "")
        )  # fmt: skip
    if clipped:
        extra["segments_clipped"] = clipped
    if dropped:
        extra["segments_dropped"] = dropped
    return segments


def _episode_meta(
    s: _Source, sc: Sidecar, model: str, n: int, extra: dict[str, Any]
) -> EpisodeMeta:
    repairs: dict[str, Any] = {}
    ov = sc.overrides(s.task, s.episode)
    task_name = str(s.info.get("task_name") or "").strip()
    english = str(s.info.get("english_task_name") or "").strip()
    scene_text = str(s.info.get("init_scene_text") or "").strip()
    zh_name = bool(_CJK.search(task_name))
    if task_name:
        extra["task_name"] = task_name
    if scene_text:
        extra["init_scene_text"] = scene_text
    segments = _segments(s, n, extra, repairs)
    if extra.get("action_filled"):
        groups = ", ".join(f"{g} ({how})" for g, how in sorted(extra["action_filled"].items()))
        record_repair(
            repairs,
            "action_filled",
            f"action rows the recorder did not command were filled from the measured state: "
            f"{groups}",
        )
    scene = ov.scene or Scene()
    operator = ov.operator or Operator()
    return EpisodeMeta(
        episode_id=s.embodex_id,
        scene_id=scene.scene_id,
        scene_type=scene.scene_type,
        site=scene.site or sc.centre.site,
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
        extra={"agibot": extra, **repairs},
    )


_FRACTION_NOTE = (
    "gripper state readings never leave [0, 1.5] although the sidecar says mm: if the "
    "recorder stores an opening fraction, set effector_state_unit: fraction (and "
    "effector_state_open: high when 1 is open) and import again — mapped as mm, the grippers "
    "barely move and QC's gripper rules cannot see them"
)


def _gripper_text(sc: Sidecar, lo: float, hi: float) -> str:
    base = f"(mm - {lo}) / ({hi} - {lo})" if sc.effector_state_unit == "mm" else "the fraction"
    return f"Gripper = 1 - {base}." if sc.effector_state_open == "high" else f"Gripper = {base}."


def _gripper_map(sc: Sidecar) -> GripperMap:
    return GripperMap(
        range_mm=sc.effector_state_range_mm,
        unit=sc.effector_state_unit,
        open=sc.effector_state_open,
    )


def _video_clip(
    path: Path, cam: Camera, n: int, eid: str, policy: VideoPolicy
) -> tuple[VideoClip, VideoIndex, str]:
    """A camera video as the writer's input: remuxed when the policy allows, else
    re-encoded; with the choice as recorded in the episode's ``extra.agibot.video``."""
    index = index_video(path, cam, eid)
    if index.frames != n:
        raise ImportSourceError(
            f"{path.name} has {index.frames} frames, proprio_stats.h5 has {n} rows",
            path=str(path),
            episode_id=eid,
            hint=COUNT_HINT,
        )
    reason = None
    if policy.reencode == "always":
        reason = "the policy re-encodes every video"
    elif index.codec != cam.encoding:
        reason = f"codec {index.codec_name}, the camera stores {cam.encoding}"
    elif index.max_gop > policy.max_gop:
        reason = f"key frames {index.max_gop} frames apart (over {policy.max_gop})"
    elif not index.has_key[0]:
        reason = "the first frame does not decode from a key frame"
    if reason is not None and policy.reencode == "never":
        raise ImportSourceError(
            f"the video cannot be kept as recorded ({reason})",
            path=str(path),
            episode_id=eid,
            hint="Allow re-encoding (`VideoPolicy(reencode='auto')`), store JPEG frames "
            "(`VideoPolicy(cameras='jpeg')`), " + SKIP_HINT,
        )
    clip = VideoClip(path, 0, n, reencode=reason is not None, index=index)
    return clip, index, "remux" if reason is None else f"reencode: {reason}"


def _load_episode(
    s: _Source,
    plan: _Plan,
    meta: DatasetMeta,
    sc: Sidecar,
    pool: ThreadPoolExecutor,
    policy: VideoPolicy,
    notes: list[str] | None = None,
) -> Episode:
    eid = s.embodex_id
    proprio = load_proprio(s.h5, eid, _gripper_map(sc), plan.base_velocity)
    if proprio.gripper_looks_fractional and notes is not None and _FRACTION_NOTE not in notes:
        notes.append(_FRACTION_NOTE)
    n = len(proprio.state)

    vdir = s.obs / "videos"
    present = {p.stem: p for p in vdir.glob("*.mp4")} if vdir.is_dir() else {}
    unknown = sorted(set(present) - plan.allowed_stems)
    if unknown:
        raise ImportSourceError(
            f"unknown camera video {unknown[0]}.mp4",
            path=str(present[unknown[0]]),
            episode_id=eid,
            hint="Declare it in the sidecar's `cameras` list to import it as a camera, remove "
            "the file, " + SKIP_HINT,
        )
    for cp in plan.cameras:
        if cp.stem not in present:
            raise ImportSourceError(
                f"camera video {cp.stem}.mp4 is missing",
                path=str(vdir / f"{cp.stem}.mp4"),
                episode_id=eid,
                hint="Extract it from the observation tar, " + SKIP_HINT,
            )
    extra: dict[str, Any] = {"task_id": _jsonable_id(s.task), "episode_id": _jsonable_id(s.episode)}
    if proprio.filled:
        extra["action_filled"] = proprio.filled
    images: dict[str, list[bytes] | VideoClip] = {}
    offsets: dict[str, np.ndarray | None] = {}
    framed = [cp for cp in plan.cameras if not cp.camera.is_video]
    futures: list[Future[Video]] = [
        pool.submit(decode_video, present[cp.stem], cp.camera, eid) for cp in framed
    ]
    try:
        choices: dict[str, str] = {}
        for cp in plan.cameras:
            if cp.camera.is_video:
                clip, index, choice = _video_clip(present[cp.stem], cp.camera, n, eid, policy)
                images[cp.camera.name] = clip
                offsets[cp.camera.name] = pts_offsets_ns(index.pts, index.time_base)
                choices[cp.camera.name] = choice
        if choices:
            extra["video"] = choices
        depth = load_depth(s.obs / "depth", plan.depth, n, eid) if plan.depth else None
    finally:
        wait(futures)
    videos = [fut.result() for fut in futures]  # the first failing camera raises
    for cp, video in zip(framed, videos, strict=True):
        if len(video.frames) != n:
            raise ImportSourceError(
                f"{cp.stem}.mp4 has {len(video.frames)} frames, proprio_stats.h5 has {n} rows",
                path=str(present[cp.stem]),
                episode_id=eid,
                hint=COUNT_HINT,
            )
        images[cp.camera.name] = video.frames
        offsets[cp.camera.name] = video.offsets_ns
    if depth is not None and plan.depth is not None:
        images[plan.depth.name] = depth

    differing: dict[str, Any] = {}
    for cp in plan.cameras:
        ipath = intrinsics_file(s.params, cp.camera.name)
        if ipath is None:
            continue
        try:
            intr = read_intrinsics(ipath)
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ImportSourceError(
                f"cannot read camera intrinsics: {exc}",
                path=str(ipath),
                episode_id=eid,
                hint="Restore the file from the parameters tar, " + SKIP_HINT,
            ) from exc
        if intr != cp.camera.intrinsics:
            differing[cp.camera.name] = intr.model_dump(mode="json")
    if differing:
        extra["intrinsics"] = differing

    episode_meta = _episode_meta(s, sc, meta.embodiments[0].model, n, extra)
    image_ts: dict[str, np.ndarray] = {}
    if proprio.timestamps is not None:
        ts = proprio.timestamps
        for name, offset in offsets.items():
            if offset is not None:
                image_ts[name] = ts[0] + offset
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
        streams=read_streams(s.h5, sc.streams, plan.streams, eid),
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
                path=out,
            )
        prev = open_dataset(out).meta.extra.get("agibot", {})
        for key, default in (("effector_state_unit", "mm"), ("effector_state_open", "low")):
            was, now = prev.get(key, default), meta.extra["agibot"][key]
            if was != now:
                raise ConfigError(
                    f"{out} was imported with {key}: {was}, the sidecar says {now}",
                    hint=f"Use the same {key} as the earlier import.",
                    path=out,
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
    video: VideoPolicy | None = None,
    ray: str | None = None,
) -> ImportReport:
    """Import the AgiBot World raw layout at ``src`` into the embodex dataset ``out``.

    ``ray`` (``"auto"`` or a cluster address) reads and decodes each episode in a Ray task
    on the cluster; the driver writes them in the same order through the same writer, so the
    dataset is byte-identical to a local run's (see specs/scale.md).

    ``video`` (:class:`VideoPolicy`) chooses how cameras are stored: by default as video,
    the recorder's bitstream copied as is (remux) when its codec and key-frame spacing are
    usable and re-encoded once otherwise; ``VideoPolicy(cameras="jpeg")`` stores JPEG frames.

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
    sc = resolve_sidecar(src, sidecar)
    report = ImportReport(dataset=out)
    sources = _discover(src, sc.prefix(), report.notes)
    policy = video or VideoPolicy()
    plan = _plan(src, sources, sc, report.notes, policy)
    meta = _dataset_meta(sc, plan, policy)
    existing = _existing(out, append, meta)

    workers = max(1, min(4, len(plan.cameras)))
    encoding = VideoEncoding(gop=policy.gop)
    with (
        EpisodeSink(
            out, report, append=append, on_episode=on_episode, video_encoding=encoding
        ) as sink,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        if ray is None:
            loaded: Iterator[_Loaded] = (
                _load_one(s, plan, meta, sc, policy, existing, out, pool) for s in sources
            )
        else:
            from ..cluster import ordered_map

            loaded = ordered_map(
                ray, _load_one, sources, plan, meta, sc, policy, existing, out, name="package"
            )
        for s, (episode, error, notes) in zip(sources, loaded, strict=True):
            report.notes.extend(n for n in notes if n not in report.notes)
            if error is not None:
                sink.skip(s.embodex_id, error, skip_bad)
                continue
            assert episode is not None
            sink.add(meta, episode)
        sink.finish(src, listed=len(sources))
    return report


#: One episode read: the episode, or the reason it is bad, and the notes it raised.
_Loaded = tuple[Episode | None, ImportSourceError | None, list[str]]


def _load_one(
    s: _Source,
    plan: _Plan,
    meta: DatasetMeta,
    sc: Sidecar,
    policy: VideoPolicy,
    existing: set[str],
    out: Path,
    pool: ThreadPoolExecutor | None = None,
) -> _Loaded:
    """Read one episode (the unit of work, here or in a Ray task); a bad one is returned,
    not raised, so the driver reports it exactly as a local run does."""
    notes: list[str] = []
    try:
        if s.embodex_id in existing:
            raise already_imported(out, s.embodex_id, SKIP_HINT)
        if pool is not None:
            return _load_episode(s, plan, meta, sc, pool, policy, notes), None, notes
        with ThreadPoolExecutor(max_workers=max(1, min(4, len(plan.cameras)))) as own:
            return _load_episode(s, plan, meta, sc, own, policy, notes), None, notes
    except ImportSourceError as exc:
        return None, exc, notes
