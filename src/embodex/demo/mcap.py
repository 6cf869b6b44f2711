"""Sample ROS 2 MCAP recordings for demos and tests (``embodex synth OUT --layout mcap``).

Each episode is one ``.mcap`` file written with ``mcap-ros2-support``, as a ROS 2 robot
would record it: ``/joint_states`` (``sensor_msgs/JointState``, measured positions and
velocities) at ``joint_hz``, ``/joint_command`` (commanded positions) at the same rate but
its own clock phase, and ``/camera/<name>/image/compressed`` (``sensor_msgs/CompressedImage``,
JPEG) at ``camera_hz``. Header stamps carry recorder jitter; the log time is the stamp plus
a transport delay. The folder also gets ``topics.yaml`` (the ``--map`` file) and
``embodex-sidecar.yaml`` (licence and provenance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import MissingExtraError
from .synth import JOINT_NAMES, SCENES, SKILLS, synth_episode, synth_meta

__all__ = ["COMPRESSED_IMAGE_MSGDEF", "IMU_MSGDEF", "JOINT_STATE_MSGDEF", "write_mcap_sample"]

_HEADER_DEPS = """
================================================================================
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id
================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
"""
#: ROS 2 message definitions in the concatenated form MCAP schemas use.
JOINT_STATE_MSGDEF = (
    "std_msgs/Header header\nstring[] name\nfloat64[] position\nfloat64[] velocity\n"
    "float64[] effort\n" + _HEADER_DEPS
)
COMPRESSED_IMAGE_MSGDEF = "std_msgs/Header header\nstring format\nuint8[] data\n" + _HEADER_DEPS
#: sensor_msgs/Imu (a stream at its own rate, format 1.1).
IMU_MSGDEF = (
    "std_msgs/Header header\ngeometry_msgs/Quaternion orientation\n"
    "float64[9] orientation_covariance\ngeometry_msgs/Vector3 angular_velocity\n"
    "float64[9] angular_velocity_covariance\ngeometry_msgs/Vector3 linear_acceleration\n"
    "float64[9] linear_acceleration_covariance\n" + _HEADER_DEPS + "\n"
    "================================================================================\n"
    "MSG: geometry_msgs/Quaternion\nfloat64 x\nfloat64 y\nfloat64 z\nfloat64 w\n"
    "================================================================================\n"
    "MSG: geometry_msgs/Vector3\nfloat64 x\nfloat64 y\nfloat64 z\n"
)

START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def _stamp(ns: int) -> dict[str, int]:
    return {"sec": ns // 1_000_000_000, "nanosec": ns % 1_000_000_000}


def write_mcap_sample(
    out: str | Path,
    *,
    episodes: int = 2,
    seed: int = 0,
    duration_s: float = 2.0,
    joint_hz: float = 100.0,
    camera_hz: float = 30.0,
    image_size: int = 48,
    cameras: tuple[str, ...] = ("head",),
) -> Path:
    """Write ``episodes`` recordings ``episode_NNN.mcap`` plus ``topics.yaml`` and a sidecar.

    Trajectories come from :func:`embodex.demo.synth.synth_episode` (sampled at ``joint_hz``),
    so they look like real teleoperation. Returns ``out``.
    """
    try:
        from mcap_ros2.writer import Writer
    except ImportError:
        raise MissingExtraError("mcap-ros2-support", "mcap") from None

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    meta = synth_meta(cameras=cameras, image_size=image_size)
    meta = meta.model_copy(update={"fps": joint_hz})
    joints = list(JOINT_NAMES)
    for e in range(episodes):
        ep = synth_episode(meta, e, seed=seed, duration_s=(duration_s, duration_s))
        state = ep.features["state"].astype(np.float64)
        action = ep.features["action"].astype(np.float64)
        n = len(state)
        t0 = START_NS + e * 60_000_000_000
        period = 1e9 / joint_hz
        jitter = rng.normal(0, 0.02 * period, size=n).clip(-0.2 * period, 0.2 * period)
        js_t = (t0 + np.arange(n) * period + jitter).astype(np.int64)
        cmd_t = (t0 + int(0.4 * period) + np.arange(n) * period).astype(np.int64)
        velocity = np.gradient(state, axis=0) * joint_hz
        path = root / f"episode_{e:03d}.mcap"
        with path.open("wb") as f:
            writer = Writer(f)
            js_schema = writer.register_msgdef("sensor_msgs/JointState", JOINT_STATE_MSGDEF)
            img_schema = writer.register_msgdef(
                "sensor_msgs/CompressedImage", COMPRESSED_IMAGE_MSGDEF
            )
            messages: list[tuple[int, str, Any, dict[str, Any]]] = []
            for i in range(n):
                messages.append(
                    (int(js_t[i]), "/joint_states", js_schema, {
                        "header": {"stamp": _stamp(int(js_t[i])), "frame_id": "base"},
                        "name": joints, "position": state[i].tolist(),
                        "velocity": velocity[i].tolist(), "effort": [],
                    })
                )  # fmt: skip
                messages.append(
                    (int(cmd_t[i]), "/joint_command", js_schema, {
                        "header": {"stamp": _stamp(int(cmd_t[i])), "frame_id": "base"},
                        "name": joints, "position": action[i].tolist(),
                        "velocity": [], "effort": [],
                    })
                )  # fmt: skip
            frames_n = int(n * camera_hz / joint_hz)
            for cam in cameras:
                cam_t = t0 + int(2e6) + (np.arange(frames_n) * 1e9 / camera_hz).astype(np.int64)
                cam_t = cam_t + rng.integers(-500_000, 500_000, size=frames_n)
                source = ep.images[cam]
                assert isinstance(source, list)  # synth colour cameras are JPEG bytes
                for k in range(frames_n):
                    data = source[min(round(k * joint_hz / camera_hz), n - 1)]
                    messages.append(
                        (int(cam_t[k]), f"/camera/{cam}/image/compressed", img_schema, {
                            "header": {"stamp": _stamp(int(cam_t[k])), "frame_id": cam},
                            "format": "rgb8; jpeg compressed bgr8", "data": data,
                        })
                    )  # fmt: skip
            messages.sort(key=lambda m: m[0])
            for stamp, topic, schema, msg in messages:
                delay = int(rng.integers(200_000, 3_000_000))  # transport delay before logging
                writer.write_message(topic, schema, msg, log_time=stamp + delay, publish_time=stamp)
            writer.finish()  # type: ignore[no-untyped-call]
    scene, skill = SCENES[0], SKILLS[0]
    topic_map = {
        "fps": camera_hz,
        "clock": "header",
        "reference": "/joint_states",
        "tolerance_ms": 40,
        "units": "rad",
        "features": {
            "state": {"topic": "/joint_states", "field": "position", "role": "state"},
            "state.velocity": {
                "topic": "/joint_states", "field": "velocity", "role": "observation",
                "unit": "rad/s",
            },
            "action": {"topic": "/joint_command", "field": "position", "role": "action"},
        },
        "cameras": {cam: {"topic": f"/camera/{cam}/image/compressed"} for cam in cameras},
    }  # fmt: skip
    sidecar = {
        "licence": "CC-BY-NC-4.0",
        "name": "ros2-sample",
        "provenance": {
            "centre_id": meta.provenance.centre_id,
            "centre_name": meta.provenance.centre_name,
            "site": meta.provenance.site,
        },
        "robot": {"model": meta.embodiments[0].model, "serial": "H2-00042"},
        "defaults": {
            "scene": {"scene_id": scene.scene_id, "scene_type": scene.scene_type},
            "operator": {"id": "op-0003", "level": "L2"},
            "skill": skill.skill,
            "instruction_en": skill.instruction_en,
            "success": True,
        },
    }
    (root / "topics.yaml").write_text(yaml.safe_dump(topic_map, sort_keys=False), "utf-8")
    (root / "embodex-sidecar.yaml").write_text(
        yaml.safe_dump(sidecar, sort_keys=False, allow_unicode=True), "utf-8"
    )
    return root
