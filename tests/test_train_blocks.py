"""The key-frame-block sampler and ``iterable(shuffle="blocks")``: every sample exactly once
per epoch, blocks that follow GOP boundaries, one decode per block, values equal to ds[i]."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from embodex.errors import LoaderConfigError
from embodex.format import open_dataset
from embodex.train import load
from embodex.train.blocks import DEFAULT_BLOCK

from .test_train_batch import _assert_same_batch, _per_sample, _same, video_root  # noqa: F401


def _key_starts(root: Path) -> list[int]:
    """Sample indices where the head camera's key frame changes (episode starts included)."""
    ref = open_dataset(root)
    out, base = [], 0
    for eid in ref.episode_ids:
        seq = ref.episode(eid).images("head")
        kp = np.asarray(seq.key_pts)  # type: ignore[attr-defined]
        out += (base + np.r_[0, np.flatnonzero(kp[1:] != kp[:-1]) + 1]).tolist()
        base += len(kp)
    return out


def test_blocks_follow_gop_boundaries_and_cover_every_index(video_root: Path) -> None:  # noqa: F811
    ds = load(video_root, qc="all", features=["state"], cameras=["head"])
    bounds = ds.key_frame_blocks()
    assert bounds[:-1].tolist() == _key_starts(video_root) and bounds[-1] == len(ds)
    assert len(bounds) > 6  # GOP 8 over 30 + 20 frames: several blocks per episode
    sampler = ds.block_sampler(seed=3)
    epochs = []
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert sorted(order) == list(range(len(ds))) and len(sampler) == len(ds)
        # the order is whole blocks, each in increasing order
        j, starts = 0, bounds.tolist()
        while j < len(order):
            b = starts.index(order[j])
            size = starts[b + 1] - starts[b]
            assert order[j : j + size] == list(range(starts[b], starts[b + 1]))
            j += size
        epochs.append(order)
    assert epochs[0] != epochs[1]  # a new block order per epoch
    sampler.set_epoch(0)
    assert list(sampler) == epochs[0]  # and the same one for the same (seed, epoch)


def test_block_sampler_batches_equal_samples_and_decode_once_per_block(
    video_root: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from embodex.format.videostore import VideoDecoder

    seeks: list[int] = []
    real = VideoDecoder._seek

    def counting(self: VideoDecoder, key_pts: int) -> None:
        seeks.append(key_pts)
        real(self, key_pts)

    ds = load(video_root, qc="all", cameras=["head", "wrist"], horizon=3)
    order = list(ds.block_sampler(seed=1))
    monkeypatch.setattr(VideoDecoder, "_seek", counting)
    batches = [ds.get_batch(order[a : a + 8]) for a in range(0, len(order), 8)]
    blocks = len(ds.key_frame_blocks()) - 1
    assert len(seeks) <= blocks + len(batches)  # a block split by a batch seeks twice at most
    monkeypatch.setattr(VideoDecoder, "_seek", real)
    fresh = load(video_root, qc="all", cameras=["head", "wrist"], horizon=3)
    for a, batch in zip(range(0, len(order), 8), batches, strict=True):
        want = [fresh[i] for i in order[a : a + 8]]
        for key in batch:
            assert all(_same(batch[key][j], s[key]) for j, s in enumerate(want)), key
    # through torch's DataLoader, per-sample path and batched path alike
    loader = DataLoader(ds.torch(), batch_size=10, sampler=ds.block_sampler(seed=2))
    seen = []
    for batch in loader:
        _assert_same_batch(batch, _per_sample(fresh, batch["index"].tolist()))
        seen += batch["index"].tolist()
    assert seen == list(ds.block_sampler(seed=2))
    assert isinstance(next(iter(loader))["image.head"], torch.Tensor)


@pytest.mark.parametrize(("world", "workers"), [(1, 1), (2, 3)])
def test_iterable_in_blocks_is_exactly_once(video_root: Path, world: int, workers: int) -> None:  # noqa: F811
    ds = load(video_root, qc="all", features=["state"], cameras=["head"])
    bounds = ds.key_frame_blocks()
    block_of = np.searchsorted(bounds, np.arange(len(ds)), side="right") - 1
    seen: list[int] = []
    for rank in range(world):
        stream = ds.iterable(
            shuffle="blocks", seed=5, rank=rank, world_size=world, shuffle_buffer=20
        )
        for worker in range(workers):
            got = list(stream.indices(worker, workers))
            seen += got
            # runs of one block stay together and in order
            runs = [got[0]] if got else []
            for a, b in itertools.pairwise(got):
                if b != a + 1 or block_of[b] != block_of[a]:
                    runs.append(b)
            assert len(runs) <= len(set(block_of[got].tolist())) + 2
    assert sorted(seen) == list(range(len(ds)))
    stream = ds.iterable(shuffle="blocks", seed=5)
    for s in list(stream)[::7]:
        want = ds[int(s["index"])]
        assert all(_same(s[k], want[k]) for k in want)
    with pytest.raises(LoaderConfigError, match="shuffle='gop'"):
        ds.iterable(shuffle="gop")  # type: ignore[arg-type]


def test_without_video_blocks_are_fixed_runs(video_root: Path) -> None:  # noqa: F811
    ds = load(video_root, qc="all", features=["state"], cameras=["wrist"])  # JPEG only
    bounds = ds.key_frame_blocks()
    assert bounds.tolist() == [*range(0, 30, DEFAULT_BLOCK), *range(30, 50, DEFAULT_BLOCK), 50]
    assert sorted(ds.block_sampler()) == list(range(len(ds)))
