"""Load a LeRobot v3.0 dataset with LeRobot's own ``LeRobotDataset`` and dump what it returns.

Runs inside .venv-lerobot (scripts/lerobot_venv.sh), never in the main venv: the tests call
it in a subprocess and compare its output with the embodex source dataset.

    python tests/lerobot_probe.py --self-check
    python tests/lerobot_probe.py ROOT OUT.npz [--delta] [--pyav-decoder]

``--pyav-decoder`` replaces LeRobot's video frame decoder (torchcodec, or torchvision's
VideoReader; neither works on this CPU-only machine: PyPI's torchcodec links CUDA torch and
torchvision 0.28 has no VideoReader) with a PyAV one. Everything else stays LeRobot's: which
file, which time span (from_timestamp + timestamp), the tolerance check, the item layout.

OUT.npz holds, for every frame in LeRobot's order, each feature LeRobot returns (images as
uint8 HWC, as LeRobot's float CHW in [0, 1] times 255, rounded), plus ``task`` strings and
metadata (``info.json`` of the call: episodes, fps, per-episode rows) as JSON.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing file must fail, never download


def _use_pyav_decoder() -> None:
    import av
    import numpy as np
    import torch
    from lerobot.datasets import lerobot_dataset

    cache: dict[str, list[tuple[float, object]]] = {}

    def decode(path: object, timestamps: list[float], tolerance_s: float, backend: object = None):
        key = str(path)
        if key not in cache:
            with av.open(key) as container:
                cache[key] = [
                    (float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)
                ]
        frames = cache[key]
        times = np.array([t for t, _ in frames])
        out = []
        for ts in timestamps:
            i = int(np.argmin(np.abs(times - ts)))
            if abs(times[i] - ts) > tolerance_s:  # LeRobot's own rule for video queries
                raise AssertionError(f"no frame within {tolerance_s}s of {ts} in {key}")
            out.append(torch.from_numpy(frames[i][1]).permute(2, 0, 1).float() / 255.0)
        return torch.stack(out)

    lerobot_dataset.decode_video_frames = decode


def main(argv: list[str]) -> int:
    if "--pyav-decoder" in argv:
        _use_pyav_decoder()
    import numpy as np
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    if argv[:1] == ["--self-check"]:
        print("lerobot dataset import ok", LeRobotDataset.__name__)
        return 0
    root, out = argv[0], argv[1]
    argv = argv[2:]
    ds = LeRobotDataset("local/embodex-export", root=root)
    arrays: dict[str, list[object]] = {}
    tasks: list[str] = []
    subtasks: list[str] = []
    for i in range(len(ds)):
        item = ds[i]
        for key, value in item.items():
            if key in ("task", "subtask"):
                (tasks if key == "task" else subtasks).append(str(value))
                continue
            if isinstance(value, torch.Tensor):
                arr = value.numpy()
                if key in ds.meta.camera_keys:
                    arr = np.rint(arr.transpose(1, 2, 0) * 255.0).astype(np.uint8)
                arrays.setdefault(key, []).append(arr)
    saved = {k: np.stack(v) for k, v in arrays.items()}
    episodes = [
        {k: v for k, v in ds.meta.episodes[i].items() if not k.startswith("stats/")}
        for i in range(ds.meta.total_episodes)
    ]
    meta = {
        "len": len(ds),
        "num_episodes": ds.num_episodes,
        "fps": ds.fps,
        "camera_keys": list(ds.meta.camera_keys),
        "features": list(ds.meta.features),
        "tasks": tasks,
        "subtasks": subtasks,
        "episodes": episodes,
        "stats_keys": sorted(ds.meta.stats) if ds.meta.stats is not None else None,
    }
    if "--delta" in argv:
        # delta_timestamps: the action chunk LeRobot policies train on, padded at the edges.
        first_camera = ds.meta.camera_keys[0] if ds.meta.camera_keys else None
        deltas = {"action": [0.0, 1.0 / ds.fps, 2.0 / ds.fps]}
        if first_camera:
            deltas[first_camera] = [-1.0 / ds.fps, 0.0]
        windowed = LeRobotDataset(
            "local/embodex-export", root=root, episodes=[1], delta_timestamps=deltas
        )
        last = windowed[len(windowed) - 1]
        saved["delta_action_last"] = last["action"].numpy()
        saved["delta_action_is_pad_last"] = last["action_is_pad"].numpy()
        meta["delta_len"] = len(windowed)
    saved["meta_json"] = np.frombuffer(json.dumps(meta, default=str).encode(), dtype=np.uint8)
    np.savez(out, **saved)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
