"""Write a LeRobot v3.0 dataset with LeRobot's own writer, and save what was written.

Runs inside .venv-lerobot (scripts/lerobot_venv.sh), never in the main venv: the tests call
it in a subprocess, import the result with ``embodex package --from lerobot`` and compare
with what was written and with what LeRobot's ``LeRobotDataset`` reads back.

    python tests/lerobot_writer.py ROOT OUT.npz [--no-video]

The dataset is made the way LeRobot users make theirs: ``LeRobotDataset.create`` with a
features dict, ``add_frame`` per frame, ``save_episode`` per episode, ``finalize``. It has
a 6-joint ``observation.state`` and ``action``, an image camera ``observation.images.head``
(48×32, stored as PNG by LeRobot) and, unless ``--no-video``, a video camera
``observation.images.wrist`` (64×64, encoded by LeRobot's own video encoder) whose frames
change from frame to frame so that a misaligned decode shows. Three episodes (two tasks,
one episode of each length 10, 11, 12) at 15 fps.

OUT.npz holds the frames exactly as given to ``add_frame``, in order: ``state``,
``action``, ``head``, ``wrist`` (uint8 HWC), ``episode_index``, and ``tasks`` as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FPS = 15
TASKS = ["pick the cup", "place the cup", "pick the cup"]


def _wrist(i: int, ep: int) -> object:
    import numpy as np

    # a bright square moving across a dark gradient: every frame differs from its neighbours
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    img[..., 0] = np.linspace(0, 120, 64, dtype=np.uint8)[None, :]
    img[..., 2] = 40 * ep
    x = 4 * i
    img[20:36, x : x + 16] = (230, 220, 40)
    return img


def main(argv: list[str]) -> int:
    import numpy as np
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root, out = Path(argv[0]), Path(argv[1])
    video = "--no-video" not in argv
    joints = [f"joint_{i}" for i in range(6)]
    features = {
        "observation.state": {"dtype": "float32", "shape": (6,), "names": joints},
        "action": {"dtype": "float32", "shape": (6,), "names": joints},
        "observation.images.head": {
            "dtype": "image",
            "shape": (32, 48, 3),
            "names": ["height", "width", "channels"],
        },
    }
    if video:
        features["observation.images.wrist"] = {
            "dtype": "video",
            "shape": (64, 64, 3),
            "names": ["height", "width", "channels"],
        }
    ds = LeRobotDataset.create(
        "local/lerobot-written",
        fps=FPS,
        features=features,
        root=root,
        robot_type="so100",
        use_videos=video,
        image_writer_threads=0,
    )
    rng = np.random.default_rng(7)
    written: dict[str, list[object]] = {"state": [], "action": [], "head": [], "wrist": []}
    episode_index: list[int] = []
    for ep, task in enumerate(TASKS):
        for i in range(10 + ep):
            frame = {
                "observation.state": rng.standard_normal(6).astype(np.float32),
                "action": rng.standard_normal(6).astype(np.float32),
                "observation.images.head": rng.integers(0, 256, (32, 48, 3), dtype=np.uint8),
                "task": task,
            }
            if video:
                frame["observation.images.wrist"] = _wrist(i, ep)
            written["state"].append(frame["observation.state"])
            written["action"].append(frame["action"])
            written["head"].append(frame["observation.images.head"])
            if video:
                written["wrist"].append(frame["observation.images.wrist"])
            episode_index.append(ep)
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()
    arrays = {k: np.stack(v) for k, v in written.items() if v}
    arrays["episode_index"] = np.asarray(episode_index)
    arrays["tasks"] = np.frombuffer(json.dumps(TASKS).encode(), dtype=np.uint8)
    np.savez(out, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
