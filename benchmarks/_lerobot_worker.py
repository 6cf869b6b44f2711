"""Runs inside LeRobot's venv (.venv-lerobot, ``make lerobot-venv``): times LeRobotDataset on
a dataset exported with ``embodex export lerobot`` and prints one JSON object.

Usage: python _lerobot_worker.py ROOT --horizon 50 --samples 200 --batches 6
       python _lerobot_worker.py --check
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a complete local dataset needs no Hub

import numpy as np
import torch

# LeRobot imports here thanks to the torchvision workaround .venv-lerobot carries
# (scripts/lerobot_tv_shim.py)
from lerobot.datasets.lerobot_dataset import LeRobotDataset


def _rate(fn, indices, min_time: float) -> float:  # type: ignore[no-untyped-def]
    done, start = 0, time.perf_counter()
    for i in indices:
        fn(i)
        done += 1
        if time.perf_counter() - start >= min_time and done >= 20:
            break
    return done / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--horizon", type=int, default=50)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.check:
        print("lerobot.datasets imports")
        return 0
    t = time.perf_counter()
    plain = LeRobotDataset("local/bench", root=args.root)
    fps = plain.fps
    chunk = LeRobotDataset(
        "local/bench",
        root=args.root,
        delta_timestamps={"action": [k / fps for k in range(args.horizon)]},
    )
    open_s = time.perf_counter() - t
    n = len(chunk)
    rng = np.random.default_rng(args.seed)
    picks = rng.integers(0, n, args.samples).tolist()
    sample = chunk[picks[0]]
    shapes = {k: list(v.shape) for k, v in sample.items() if hasattr(v, "shape")}
    random_rate = _rate(lambda i: chunk[i], picks, args.min_time)
    sequential_rate = _rate(lambda i: chunk[i], range(n), args.min_time)
    loader = torch.utils.data.DataLoader(
        chunk,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=2,
        generator=torch.Generator().manual_seed(args.seed),
    )
    it = iter(loader)
    next(it)  # workers started and warm
    start, batches = time.perf_counter(), 0
    for _ in range(args.batches):
        next(it)
        batches += 1
    loader_rate = batches * args.batch_size / (time.perf_counter() - start)
    print(
        json.dumps(
            {
                "frames": n,
                "open_s": open_s,
                "shapes": shapes,
                "random_chunk_per_s": random_rate,
                "sequential_per_s": sequential_rate,
                "dataloader_2w_per_s": loader_rate,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
