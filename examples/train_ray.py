"""Train a tiny behaviour-cloning policy with Ray Train (CPU), streaming an embodex dataset
through Ray Data: ``load(...).to_ray()``.

The dataset is opened on the driver (selection, windows, QC filter and normalisation
statistics: metadata only); the frames are read by Ray Data read tasks on the cluster's
workers — from a folder every node sees, or streamed from ``s3://`` and verified against
the manifest — and each Ray Train worker takes its shard of the stream with
``get_dataset_shard``. The policy maps the joint state to the next ``--horizon`` actions;
padded steps past an episode's end (``action_is_pad``) are left out of the loss. The loss
of each epoch is printed (``loss <epoch> <value>``) by the driver at the end, then the
number of steps and the loss of the first batch before and after training.

Usage:
    python examples/train_ray.py DATASET_OR_URL [--workers 2] [--epochs 3] [--qc all]
    RAY_ADDRESS=head-node:6379 python examples/train_ray.py s3://bucket/week01

For ``s3://`` the workers need the store's ``AWS_*`` variables: set them on the nodes,
or they are passed from this process to the read tasks (``--pass-aws-env``, the default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

import torch
from torch import nn

from embodex.train import load


def build_policy(state_dim: int, action_dim: int, horizon: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(state_dim, 128),
        nn.ReLU(),
        nn.Linear(128, action_dim * horizon),
        nn.Unflatten(1, (horizon, action_dim)),
    )


def train_loop(config: dict[str, Any]) -> None:
    """Runs on each Ray Train worker."""
    import ray.train
    import ray.train.torch

    torch.manual_seed(0)
    stats = {k: {s: torch.as_tensor(v) for s, v in d.items()} for k, d in config["stats"].items()}
    s_mean, s_std = stats["state"]["mean"], stats["state"]["std"].clamp_min(1e-6)
    a_mean, a_std = stats["action"]["mean"], stats["action"]["std"].clamp_min(1e-6)
    model = ray.train.torch.prepare_model(
        build_policy(config["state_dim"], config["action_dim"], config["horizon"])
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=config["lr"])
    shard = ray.train.get_dataset_shard("train")
    losses: list[float] = []
    steps: list[float] = []  # every step's loss
    first: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def batch_loss(state: torch.Tensor, target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        error = ((model(state) - target) ** 2).mean(-1)
        return error[keep].mean()

    for _epoch in range(config["epochs"]):
        total, batches = 0.0, 0
        for batch in shard.iter_torch_batches(batch_size=config["batch_size"]):
            state = (batch["state"].float() - s_mean) / s_std
            target = (batch["action"].float() - a_mean) / a_std
            keep = ~batch["action_is_pad"]
            if first is None:
                first = (state, target, keep)
            loss = batch_loss(state, target, keep)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss)
            batches += 1
            steps.append(float(loss))
        losses.append(total / max(batches, 1))
        ray.train.report({"epoch": len(losses), "loss": losses[-1]})
    if ray.train.get_context().get_world_rank() == 0:  # the driver prints them
        assert first is not None
        with torch.no_grad():
            after = float(batch_loss(*first))  # the first batch again, after training
        with open(config["losses_file"], "w") as f:
            json.dump({"epochs": losses, "steps": steps, "first_after": after}, f)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dataset", help="dataset directory or s3:// URL")
    p.add_argument("--address", default=None, help="Ray cluster (default: RAY_ADDRESS or local)")
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Ray Train workers (1 CPU each, less on a "
        "cluster too small to leave one to the data reading)",
    )
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--horizon", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--qc", default="pass", choices=["pass", "pass+warn", "all"])
    p.add_argument("--storage", default=None, help="where Ray Train keeps the run (shared)")
    p.add_argument("--no-pass-aws-env", dest="pass_aws", action="store_false")
    args = p.parse_args(argv)

    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    ray.init(address=args.address, log_to_driver=False)
    ds = load(
        args.dataset, features=["state", "action"], cameras=[], horizon=args.horizon, qc=args.qc
    )
    runtime_env = None
    if args.pass_aws and "://" in args.dataset:
        env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        runtime_env = {"env_vars": env}
    train = ds.to_ray(runtime_env=runtime_env).select_columns(["state", "action", "action_is_pad"])
    norm = ds.norm_stats()
    config: dict[str, Any] = {
        "stats": {k: {s: v.tolist() for s, v in norm[k].items()} for k in ("state", "action")},
        "state_dim": int(norm["state"]["mean"].shape[0]),
        "action_dim": int(norm["action"]["mean"].shape[0]),
        "horizon": args.horizon,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
    }
    storage = os.path.abspath(args.storage or tempfile.mkdtemp(prefix="embodex-ray-train-"))
    os.makedirs(storage, exist_ok=True)
    config["losses_file"] = os.path.join(storage, "losses.json")
    # Ray Data's read tasks need a CPU of their own: train workers holding every CPU of a
    # small cluster would wait for data forever
    cpus = float(ray.cluster_resources().get("CPU", 1))
    per_worker = min(1.0, max(0.1, (cpus - 1) / args.workers))
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=config,
        datasets={"train": train},
        scaling_config=ScalingConfig(
            num_workers=args.workers, use_gpu=False, resources_per_worker={"CPU": per_worker}
        ),
        run_config=RunConfig(name="embodex-bc", storage_path=storage),
    )
    t0 = time.monotonic()
    trainer.fit()
    print(
        f"trained on {len(ds)} samples of {ds.num_episodes} episodes, {args.workers} worker(s), "
        f"{time.monotonic() - t0:.1f} s"
    )
    with open(config["losses_file"]) as f:  # written by worker 0 (a shared folder)
        losses = json.load(f)
    for epoch, loss in enumerate(losses["epochs"], start=1):
        print(f"loss {epoch} {loss:.5f}")
    steps = losses["steps"]
    print(
        f"steps {len(steps)}: the first batch's loss {steps[0]:.5f} before training, "
        f"{losses['first_after']:.5f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
