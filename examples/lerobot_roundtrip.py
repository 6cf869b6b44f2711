"""Export an embodex dataset to LeRobot v3.0, load it with LeRobot, and import it back.

Run it where both embodex (``pip install 'embodex[lerobot]'``) and LeRobot are installed
(``make lerobot-venv`` builds such an environment in ``.venv-lerobot``)::

    python examples/lerobot_roundtrip.py --out /tmp/roundtrip
    python examples/lerobot_roundtrip.py --dataset datasets/week01 --out /tmp/week01

Without LeRobot it still exports, imports back and compares: the embodex half of the trip.
It exits non-zero if anything differs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.format import Dataset, open_dataset
from embodex.format.exporters.lerobot import export_lerobot
from embodex.format.importers.lerobot import import_lerobot


def load_in_lerobot(source: Dataset, root: Path) -> str:
    """Read every frame through LeRobot's own LeRobotDataset and compare with the source."""
    try:
        import torch
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError as exc:
        return f"LeRobot is not installed here ({exc.name}): skipped loading it in LeRobot"
    except RuntimeError as exc:  # e.g. a torchvision build that does not match torch
        return f"LeRobot cannot be imported here ({exc}): skipped loading it in LeRobot"
    lr = LeRobotDataset("local/embodex-roundtrip", root=root)
    assert len(lr) == source.num_frames, (len(lr), source.num_frames)
    state = np.concatenate([v.feature("state") for v in source])
    action = np.concatenate([v.feature("action") for v in source])
    camera = source.meta.cameras[0].name
    images = np.concatenate([np.stack(v.images(camera)[:]) for v in source])
    for i in range(len(lr)):
        item = lr[i]
        assert np.array_equal(item["observation.state"].numpy(), state[i]), f"state {i}"
        assert np.array_equal(item["action"].numpy(), action[i]), f"action {i}"
        pixels = item[f"observation.images.{camera}"].numpy().transpose(1, 2, 0) * 255
        assert np.abs(np.rint(pixels) - images[i]).max() <= 1, f"image {i}"
    batch = next(iter(torch.utils.data.DataLoader(lr, batch_size=8)))
    shape = tuple(batch["observation.state"].shape)
    return (
        f"LeRobotDataset: {len(lr)} frames of {lr.num_episodes} episodes match "
        f"(state, action, {camera} images); a DataLoader batch of state is {shape}"
    )


def compare_back(source: Dataset, back: Dataset) -> str:
    assert back.episode_ids == source.episode_ids
    for a, b in zip(source, back, strict=True):
        assert a.meta == b.meta, a.episode_id
        assert np.array_equal(a.timestamp_ns, b.timestamp_ns), a.episode_id
        for name in source.meta.features:
            assert np.array_equal(a.feature(name), b.feature(name)), (a.episode_id, name)
    return f"imported back: {len(back)} episodes with the same ids, metadata, times and features"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, help="an embodex dataset (default: synthetic)")
    parser.add_argument("--out", type=Path, default=Path("lerobot-roundtrip"))
    parser.add_argument("--episodes", type=int, default=4, help="synthetic episodes")
    args = parser.parse_args(argv)

    shutil.rmtree(args.out, ignore_errors=True)
    if args.dataset is not None:
        source = open_dataset(args.dataset)
    else:
        meta = synth_meta(image_size=64, cameras=("head", "hand_left"))
        source = synth_dataset(
            args.out / "source", args.episodes, seed=1, meta=meta, duration_s=(2.0, 4.0)
        )
    report = export_lerobot(source, args.out / "lerobot")
    print(f"exported {report.episodes} episodes ({report.frames} frames) to {report.path}")
    print(load_in_lerobot(source, report.path))
    import_lerobot(report.path, args.out / "back")
    print(compare_back(source, open_dataset(args.out / "back")))
    print("round trip ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
