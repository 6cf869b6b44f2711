"""Small synthetic recordings in raw vendor layouts, for tests and the demo.

``write_agibot_sample`` writes a tree in the AgiBot World raw layout (see
:mod:`embodex.format.importers.agibot`): ``task_info`` JSON, ``proprio_stats.h5`` with the
real key names and units (gripper state in mm, gripper action 0..1, int64 ns timestamps),
one MP4 per camera, 16-bit depth PNGs, intrinsics JSON, and an ``embodex-sidecar.yaml``.
Motion and pictures come from :mod:`embodex.demo.synth`. ``defects`` breaks chosen episodes the
way real deliveries break, so importers can be tested against them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import av
import h5py
import numpy as np
import yaml
from PIL import Image

from ..format import Camera, DatasetMeta, Embodiment, Feature, Provenance, VideoClip
from ..format.images import decode_image
from ..format.importers.agibot import SIDECAR_FILE, camera_name
from .synth import JOINT_NAMES, SCENES, SKILLS, synth_episode

__all__ = [
    "AGIBOT_DEFECTS",
    "DEFAULT_AGIBOT_CAMERAS",
    "SAMPLE_EFFECTOR_RANGE_MM",
    "write_agibot_sample",
]

DEFAULT_AGIBOT_CAMERAS: tuple[str, ...] = ("head_color", "hand_left_color", "hand_right_color")
#: Gripper mm readings of the sample: open .. closed (declared in its sidecar).
SAMPLE_EFFECTOR_RANGE_MM = (35.0, 120.0)

#: Defect name -> what it does to the chosen episode(s).
AGIBOT_DEFECTS: dict[str, str] = {
    "missing_h5": "proprio_stats.h5 is deleted",
    "corrupt_h5": "proprio_stats.h5 is cut to its first 1000 bytes",
    "missing_mp4": "the first camera's video is deleted",
    "corrupt_mp4": "the first camera's video is cut to half its bytes",
    "frame_mismatch": "the first camera's video has 3 frames fewer than the h5",
    "depth_mismatch": "the last depth PNG is deleted",
    "state_mismatch": "state/head/position has one row fewer than state/joint/position",
    "long_action": "action/joint/position has 5 rows more than the state",
    "sparse_action": "action/joint/position keeps every other row, with action/joint/index "
    "(valid input: the importer fills the gaps from the state)",
    "empty_action": "action/waist/position is empty (valid input)",
    "timestamps_backwards": "two neighbouring timestamps are swapped",
    "unknown_camera": "an extra video thermal_color.mp4 appears",
    "no_velocity": "action/robot/velocity is empty",
}
_GLOBAL_DEFECTS = ("no_licence",)


def _defect_episodes(defects: Mapping[str, Any] | None, episodes: int) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for name, value in (defects or {}).items():
        if name in _GLOBAL_DEFECTS:
            continue
        if name not in AGIBOT_DEFECTS:
            known = ", ".join([*AGIBOT_DEFECTS, *_GLOBAL_DEFECTS])
            raise ValueError(f"unknown defect {name!r}; known: {known}")
        if isinstance(value, bool):
            raise ValueError(f"defect {name}: give the episode index (or indices) to break")
        chosen = {value} if isinstance(value, int) else set(value)
        if any(not 0 <= i < episodes for i in chosen):
            raise ValueError(f"defect {name}: episode indices must be in 0..{episodes - 1}")
        out[name] = chosen
    return out


def _write_video(
    path: Path, frames: np.ndarray, fps: int, codec: str, gop: int | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{codec} is not a video codec")
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        # one thread: a multi-threaded encoder need not give the same bytes twice
        stream.codec_context.thread_count = 1
        if gop is not None:
            stream.codec_context.gop_size = gop  # a recorder's key-frame interval
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _render_meta(stems: Sequence[str], width: int, fps: int) -> DatasetMeta:
    """A throwaway dataset schema so embodex.demo.synth renders one square picture per camera."""
    names = list(JOINT_NAMES)
    return DatasetMeta(
        name="agibot-sample-render",
        licence="CC0-1.0",
        provenance=Provenance(centre_id="synth", centre_name="synth"),
        embodiments=[
            Embodiment(model="synth", dof=len(names), joint_names=names, units=["1"] * len(names))
        ],
        cameras=[
            Camera(name=camera_name(s), width=width, height=width, encoding="jpeg") for s in stems
        ],
        features={"state": Feature(shape=[len(names)]), "action": Feature(shape=[len(names)])},
        fps=float(fps),
    )


def _sidecar(
    root: Path, task_id: int, skill: str, zh: str, scene: Any, first_ep: int, no_licence: bool
) -> None:
    path = root / SIDECAR_FILE
    data: dict[str, Any] = {}
    if path.exists():  # a second task written into the same root adds to the first's
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = loaded if isinstance(loaded, dict) else {}
    data.update(
        {
            "name": "agibot-sample",
            "description": "Synthetic recordings in the AgiBot World raw layout "
            "(embodex.demo.raw).",
            "provenance": {
                "centre_id": "sample-centre",
                "centre_name": "Sample Collection Centre",
                "site": "Shanghai",
                "contact": "data@example.org",
            },
            "robot": {"model": "AgiBot_A2D", "serial": "A2D-0001"},
            "fps": 30,
            "start_time_ns": 1_767_225_600_000_000_000,
            "effector_state_range_mm": list(SAMPLE_EFFECTOR_RANGE_MM),
            "defaults": {"operator": {"id": "op-0001", "level": "L2"}, "success": True},
        }
    )
    if no_licence:
        data.pop("licence", None)
    else:
        data["licence"] = "CC-BY-NC-SA-4.0"
    data.setdefault("skill", {})[task_id] = skill
    data.setdefault("tasks", {})[task_id] = {
        "instruction_zh": zh,
        "scene": {
            "scene_id": scene.scene_id,
            "scene_type": scene.scene_type,
            "lighting": scene.lighting,
            "objects": list(scene.objects),
        },
    }
    data.setdefault("episodes", {})[first_ep] = {
        "success": False,
        "failure_cause": "grasp_missed",
        "robot_serial": "A2D-0002",
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")


def write_agibot_sample(
    root: str | Path,
    *,
    episodes: int = 4,
    seed: int = 0,
    task_id: int = 327,
    first_episode_id: int = 648642,
    fps: int = 30,
    frames: tuple[int, int] = (36, 54),
    cameras: Sequence[str] = DEFAULT_AGIBOT_CAMERAS,
    size: tuple[int, int] = (64, 48),
    depth: bool = True,
    with_timestamps: bool = True,
    codec: str = "mpeg4",
    gop: int | None = None,
    task_name: str | None = None,
    defects: Mapping[str, int | Sequence[int] | bool] | None = None,
) -> Path:
    """Write ``episodes`` recordings of task ``task_id`` in the AgiBot World layout; return root.

    ``size`` is (width, height) of every camera; ``frames`` the range of frames per episode.
    ``cameras`` are video stems (``head_color``...). Without ``with_timestamps`` the h5 has no
    ``timestamp`` dataset (older exports). ``codec`` is any PyAV encoder: the default
    ``mpeg4`` gives the same bytes on every run (libx264 here does not, even on one
    thread); the real release is AV1 (``libsvtav1``); ``libx264`` with ``size=(640, 480)`` and
    ``gop=30`` (one key frame a second) gives recorder-like H.264. ``gop`` is the key-frame
    interval (the encoder's default when None). ``task_name`` replaces the English
    task name (pass Chinese text to test language detection).

    ``defects`` maps a name of :data:`AGIBOT_DEFECTS` to the episode index (or indices) to
    break; ``{"no_licence": True}`` leaves the licence out of the sidecar. The sidecar
    ``embodex-sidecar.yaml`` holds licence, provenance, robot, the gripper mm range, scene
    and operator; writing a second task into the same root adds to it. Same arguments, same
    bytes.
    """
    root = Path(root)
    width, height = size
    if width % 2 or height % 2:
        raise ValueError("size must be even (yuv420p video)")
    broken = _defect_episodes(defects, episodes)
    no_licence = bool((defects or {}).get("no_licence", False))
    task = str(task_id)
    rng = np.random.default_rng([seed, task_id])
    skill = SKILLS[int(rng.integers(len(SKILLS)))]
    scene = SCENES[int(rng.integers(len(SCENES)))]
    render = _render_meta(cameras, width, fps)
    lo, hi = SAMPLE_EFFECTOR_RANGE_MM
    name = task_name or skill.instruction_en.rstrip(".")
    entries: list[dict[str, Any]] = []

    for i in range(episodes):
        ep = str(first_episode_id + i)
        bad = {k for k, v in broken.items() if i in v}
        synth = synth_episode(
            render, i, seed=seed * 100_003 + task_id, scene=scene, skill=skill,
            duration_s=(frames[0] / fps, frames[1] / fps),
        )  # fmt: skip
        n = synth.num_frames
        state = np.asarray(synth.features["state"], dtype=np.float64)
        action = np.asarray(synth.features["action"], dtype=np.float64)
        t = np.arange(n) / fps

        # -- proprio_stats.h5
        h5_path = root / "proprio_stats" / task / ep / "proprio_stats.h5"
        h5_path.parent.mkdir(parents=True, exist_ok=True)
        empty = np.zeros((0,), dtype=np.float32)
        with h5py.File(h5_path, "w") as f:
            if with_timestamps:
                ts = np.asarray(synth.timestamp_ns, dtype=np.int64).copy()
                if "timestamps_backwards" in bad:
                    k = n // 2
                    ts[k], ts[k + 1] = ts[k + 1], ts[k]
                f["timestamp"] = ts
            head = state[:, 16:18][:-1] if "state_mismatch" in bad else state[:, 16:18]
            f["state/joint/position"] = state[:, :14]
            f["state/joint/current_value"] = state[:, :14] * 1000.0
            f["state/effector/position"] = lo + state[:, 14:16] * (hi - lo)
            f["state/head/position"] = head
            f["state/waist/position"] = state[:, 18:20]
            ends = np.stack([0.4 + 0.1 * np.sin(state[:, [0, 7]])] * 3, axis=-1)
            f["state/end/position"] = ends
            f["state/end/orientation"] = np.tile([0.0, 0.0, 0.0, 1.0], (n, 2, 1))
            for key in ("robot/position", "robot/orientation", "joint/velocity", "joint/effort"):
                f[f"state/{key}"] = empty
            joint = action[:, :14]
            if "long_action" in bad:
                joint = np.concatenate([joint, joint[-5:]])
            if "sparse_action" in bad:
                f["action/joint/index"] = np.arange(0, n, 2, dtype=np.int64)
                joint = joint[::2]
            else:
                f["action/joint/index"] = np.arange(len(joint), dtype=np.int64)
            f["action/joint/position"] = joint
            f["action/effector/position"] = action[:, 14:16]
            f["action/head/position"] = action[:, 16:18]
            f["action/waist/position"] = empty if "empty_action" in bad else action[:, 18:20]
            f["action/end/position"] = ends
            f["action/end/orientation"] = np.tile([0.0, 0.0, 0.0, 1.0], (n, 2, 1))
            if "no_velocity" in bad:
                f["action/robot/velocity"] = empty
            else:
                f["action/robot/velocity"] = np.stack(
                    [0.05 * np.sin(2 * np.pi * t), 0.1 * np.cos(2 * np.pi * t)], axis=1
                )
            for key in ("effector/force", "joint/effort", "joint/velocity", "robot/position"):
                f[f"action/{key}"] = empty
        if "corrupt_h5" in bad:
            h5_path.write_bytes(h5_path.read_bytes()[:1000])
        if "missing_h5" in bad:
            h5_path.unlink()
            h5_path.parent.rmdir()

        # -- videos
        obs = root / "observations" / task / ep
        for c, stem in enumerate(cameras):
            encoded = synth.images[camera_name(stem)]
            assert not isinstance(encoded, VideoClip)  # synth renders JPEG frames
            pictures = np.stack([decode_image(bytes(b), "jpeg") for b in encoded])[:, :height]
            if c == 0 and "frame_mismatch" in bad:
                pictures = pictures[:-3]
            path = obs / "videos" / f"{stem}.mp4"
            _write_video(path, pictures, fps, codec, gop)
            if c == 0 and "corrupt_mp4" in bad:
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            if c == 0 and "missing_mp4" in bad:
                path.unlink()
        if "unknown_camera" in bad and cameras:
            shutil.copy(obs / "videos" / f"{cameras[-1]}.mp4", obs / "videos" / "thermal_color.mp4")

        # -- depth: mm, nearer where the right arm reaches
        if depth:
            ddir = obs / "depth"
            ddir.mkdir(parents=True, exist_ok=True)
            rows = (np.arange(height, dtype=np.int32) * 6)[:, None]
            cols = (np.arange(width, dtype=np.int32) * 2)[None, :]
            noise = np.random.default_rng([seed, task_id, i, 7])  # sensor noise, own stream
            for k in range(n):
                if "depth_mismatch" in bad and k == n - 1:
                    break
                mm = 800 + rows + cols + int(200 * np.sin(state[k, 10]))
                mm = mm + noise.integers(0, 4, size=mm.shape)
                Image.fromarray(mm.astype(np.uint16)).save(ddir / f"head_depth_{k:06d}.png")

        # -- calibration
        cdir = root / "parameters" / task / ep / "parameters" / "camera"
        cdir.mkdir(parents=True, exist_ok=True)
        for stem in cameras:
            cam = camera_name(stem)
            focal = width * (0.9 if cam == "head" else 0.7)
            intr = {"fx": focal, "fy": focal, "ppx": width / 2 - 0.5, "ppy": height / 2 - 0.5}
            (cdir / f"{cam}_intrinsic_params.json").write_text(json.dumps({"intrinsic": intr}))
            pose = {"rotation_matrix": np.eye(3).tolist(), "translation_vector": [0.1, 0.0, 1.2]}
            (cdir / f"{cam}_extrinsic_params.json").write_text(json.dumps({"extrinsic": pose}))

        entries.append(
            {
                "episode_id": int(ep),
                "task_name": name,
                "init_scene_text": f"The robot stands at the {scene.description.lower()}.",
                "label_info": {
                    "action_config": [
                        {
                            "start_frame": seg.start_frame,
                            "end_frame": seg.end_frame,
                            "action_text": seg.text,
                            "skill": seg.skill.capitalize(),
                        }
                        for seg in synth.meta.segments
                    ]
                },
            }
        )

    info = root / "task_info" / f"task_{task}.json"
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text(json.dumps(entries, ensure_ascii=False, indent=1), encoding="utf-8")
    _sidecar(root, task_id, skill.skill, skill.instruction_zh, scene, first_episode_id, no_licence)
    return root
