"""Train a small behaviour-cloning policy on an embodex dataset (PyTorch, CPU).

The policy is an MLP from the last ``--history`` joint states to the next ``--horizon``
actions (an action chunk, as ACT and diffusion policies predict). It loads through the
library: ``embodex.train.load`` with a window, the selection's own normalisation
statistics, and a DataLoader with worker processes. Padded steps past the episode end are
masked out of the loss. It prints the loss as it falls.

Usage:
    python examples/train_bc.py DATASET_OR_URL [--steps 300] [--workers 2] [--qc pass]
    python examples/train_bc.py demo-output/bc --synth 20 --steps 300   # synthesise first
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from embodex.train import load


def build_policy(state_dim: int, action_dim: int, history: int, horizon: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(state_dim * history, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, action_dim * horizon),
        nn.Unflatten(1, (horizon, action_dim)),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dataset", help="dataset directory or s3:// URL")
    p.add_argument("--synth", type=int, default=0, help="first write N synthetic episodes there")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--history", type=int, default=2)
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--qc", default="pass", choices=["pass", "pass+warn", "all"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    args = p.parse_args(argv)

    if args.synth and not Path(args.dataset).exists():
        from embodex.demo.synth import synth_dataset, synth_meta

        synth_dataset(args.dataset, args.synth, seed=args.seed, meta=synth_meta(cameras=()))

    torch.manual_seed(args.seed)
    ds = load(
        args.dataset,
        features=["state", "action"],
        cameras=[],
        history=args.history,
        horizon=args.horizon,
        qc=args.qc,
    )
    norm = ds.norm_stats()
    s_mean, s_std = (torch.from_numpy(norm["state"][k]) for k in ("mean", "std"))
    a_mean, a_std = (torch.from_numpy(norm["action"][k]) for k in ("mean", "std"))
    s_std, a_std = s_std.clamp_min(1e-3), a_std.clamp_min(1e-3)
    width = ds.meta.features["state"].shape[0]
    policy = build_policy(width, ds.meta.features["action"].shape[0], args.history, args.horizon)
    opt = torch.optim.Adam(policy.parameters(), lr=args.lr)
    loader = DataLoader(
        ds.torch(),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        drop_last=True,
        persistent_workers=args.workers > 0,
        generator=torch.Generator().manual_seed(args.seed),
    )
    print(
        f"training on {ds.num_episodes} episodes, {len(ds)} frames "
        f"({ds.report.get('excluded_by_qc', 0)} episodes cut by qc={args.qc!r}), "
        f"{args.workers} loader workers",
        flush=True,
    )
    losses: list[float] = []
    step, start = 0, time.perf_counter()
    while step < args.steps:
        for batch in loader:
            state = (batch["state"] - s_mean) / s_std
            target = (batch["action"] - a_mean) / a_std
            keep = (~batch["action_is_pad"]).unsqueeze(-1).float()
            pred = policy(state)
            loss = ((pred - target) ** 2 * keep).sum() / (keep.sum() * target.shape[-1])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if step % args.log_every == 0 or step == 1:
                print(f"step {step:4d}  loss {losses[-1]:.4f}", flush=True)
            if step >= args.steps:
                break
    took = time.perf_counter() - start
    k = max(1, min(10, len(losses) // 5))
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    rate = step * args.batch_size / took
    print(f"loss {first:.4f} -> {last:.4f} in {step} steps ({rate:.0f} samples/s)")
    if args.json:
        print(json.dumps({"steps": step, "first_loss": first, "last_loss": last}))
    return 0 if last < first else 1


if __name__ == "__main__":
    sys.exit(main())
