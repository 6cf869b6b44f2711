"""PyTorch adapters and distributed iteration: DataLoader workers (fork and spawn), small
pickles, memory maps reopened per worker, exactly-once coverage across ranks and workers."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from embodex.train import EpisodeDataset, load

from ._train_data import module_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return module_dataset(tmp_path_factory, "torch", episodes=8)


@pytest.fixture(scope="module")
def ds(root: Path) -> EpisodeDataset:
    return load(root, qc="all", cameras=["head"], history=2, horizon=8)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers(ds: EpisodeDataset, context: str) -> None:
    picks = np.random.default_rng(0).choice(len(ds), 48, replace=False).tolist()
    loader = DataLoader(
        ds.torch(),
        batch_size=8,
        sampler=picks,
        num_workers=2,
        multiprocessing_context=context,
    )
    seen = []
    for batch in loader:
        assert batch["action"].shape == (8, 8, 20) and batch["action"].dtype == torch.float32
        image = batch["image.head"]  # (C, H, W) float32 in [0, 1], as torchvision gives
        assert image.shape == (8, 3, 32, 32) and image.dtype == torch.float32
        assert batch["action_is_pad"].dtype == torch.bool
        for j, i in enumerate(batch["index"].tolist()):
            want = ds[i]
            assert np.array_equal(batch["state"][j].numpy(), want["state"])
            assert np.array_equal(batch["action"][j].numpy(), want["action"])
            hwc = want["image.head"].astype(np.float32) / np.float32(255)
            assert np.array_equal(image[j].numpy(), hwc.transpose(2, 0, 1))
            assert batch["episode_id"][j] == want["episode_id"]
        seen += batch["index"].tolist()
    assert seen == picks


def test_pickle_is_small_and_holds_no_frames(ds: EpisodeDataset) -> None:
    ds[0]  # map shards and build views first: they must not travel
    blob = pickle.dumps(ds.torch())
    assert len(blob) < 20_000
    again = pickle.loads(blob).ds
    assert again._open == {} and not any(again._entries)
    assert np.array_equal(again[7]["action"], ds[7]["action"])


def test_memory_maps_reopened_after_fork(ds: EpisodeDataset) -> None:
    ds[0]
    assert ds._open
    parent_table = next(iter(ds._open.values()))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: inherited maps must be gone, then reopened on use
        try:
            ok = not ds._open and not any(ds._entries)
            ds[1]
            ok = ok and next(iter(ds._open.values())) is not parent_table
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    got = os.read(read, 1)
    os.waitpid(pid, 0)
    assert got == b"1"
    assert next(iter(ds._open.values())) is parent_table  # the parent keeps its maps


def _collect(ds: EpisodeDataset, world: int, workers: int, **kw: int) -> list[list[int]]:
    streams = []
    for rank in range(world):
        it = ds.iterable(rank=rank, world_size=world, **kw)
        for w in range(workers):
            streams.append(list(it.indices(w, workers)))
    return streams


@pytest.mark.parametrize(("world", "workers"), [(1, 1), (2, 3), (3, 2), (4, 1), (5, 4)])
def test_exactly_once_across_ranks_and_workers(
    ds: EpisodeDataset, world: int, workers: int
) -> None:
    streams = _collect(ds, world, workers, shuffle_buffer=64, seed=11)
    flat = [i for s in streams for i in s]
    assert sorted(flat) == list(range(len(ds)))
    per_rank = [sum(len(s) for s in streams[r * workers : (r + 1) * workers]) for r in range(world)]
    assert max(per_rank) - min(per_rank) <= 1
    assert [len(ds.iterable(rank=r, world_size=world)) for r in range(world)] == per_rank


def test_iteration_is_deterministic_and_shuffled(ds: EpisodeDataset) -> None:
    a = _collect(ds, 2, 2, shuffle_buffer=64, seed=5)
    assert a == _collect(ds, 2, 2, shuffle_buffer=64, seed=5)
    assert a != _collect(ds, 2, 2, shuffle_buffer=64, seed=6)
    it = ds.iterable(seed=5, shuffle_buffer=64)
    first = list(it.indices())
    it.set_epoch(1)
    second = list(it.indices())
    assert sorted(first) == sorted(second) and first != second
    assert first != sorted(first)
    plain = ds.iterable(shuffle=False)
    assert list(plain.indices()) == list(range(len(ds)))


def test_episode_aware_order(ds: EpisodeDataset) -> None:
    """Before the shuffle buffer each consumer reads whole episodes, shards grouped."""
    starts = ds.episode_starts
    it = ds.iterable(seed=2, shuffle_buffer=0)
    order = list(it.indices())
    episodes = np.searchsorted(starts, order, side="right") - 1
    runs = [int(e) for j, e in enumerate(episodes) if j == 0 or e != episodes[j - 1]]
    assert sorted(runs) == list(range(ds.num_episodes))  # each episode one contiguous run
    shards = [ds._shard[e] for e in runs]
    shard_runs = [s for j, s in enumerate(shards) if j == 0 or s != shards[j - 1]]
    assert len(shard_runs) == len(set(shards))  # each shard read in one go


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_iterable_through_dataloader_workers(ds: EpisodeDataset, context: str) -> None:
    seen: list[int] = []
    for rank in range(2):
        stream = ds.iterable(rank=rank, world_size=2, seed=1, shuffle_buffer=32)
        stream.set_epoch(3)
        loader = DataLoader(
            stream.torch(), batch_size=16, num_workers=2, multiprocessing_context=context
        )
        assert len(loader.dataset) == len(stream)  # type: ignore[arg-type]
        for batch in loader:
            seen += batch["index"].tolist()
    assert sorted(seen) == list(range(len(ds)))


def _interleaved(parts: list[list[int]], batch: int) -> list[int]:
    """What a DataLoader yields from per-worker streams: batches taken round-robin."""
    batches = [[p[i : i + batch] for i in range(0, len(p), batch)] for p in parts]
    out: list[int] = []
    for k in range(max(len(b) for b in batches)):
        for b in batches:
            if k < len(b):
                out += b[k]
    return out


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_persistent_workers_follow_set_epoch(ds: EpisodeDataset, context: str) -> None:
    """Workers that live across epochs read the epoch set in the main process."""
    stream = ds.iterable(seed=4, shuffle_buffer=16)
    loader = DataLoader(
        stream.torch(),
        batch_size=16,
        num_workers=2,
        persistent_workers=True,
        multiprocessing_context=context,
    )
    orders = []
    for epoch in range(3):
        stream.set_epoch(epoch)
        order = [i for batch in loader for i in batch["index"].tolist()]
        assert sorted(order) == list(range(len(ds)))  # every frame once per epoch
        expected = _interleaved([list(stream.indices(w, 2)) for w in range(2)], 16)
        assert order == expected, f"epoch {epoch} came in another epoch's order"
        orders.append(order)
    assert orders[0] != orders[1] != orders[2] != orders[0]


def test_the_stream_itself_in_a_dataloader_points_to_torch(ds: EpisodeDataset) -> None:
    from embodex.errors import LoaderConfigError

    stream = ds.iterable(seed=1)
    with pytest.raises(LoaderConfigError, match="cannot be indexed") as info:
        next(iter(DataLoader(stream, batch_size=4)))  # type: ignore[arg-type]
    assert "stream.torch()" in info.value.hint
    stream.set_epoch(3)
    copy = pickle.loads(pickle.dumps(stream))  # an ordinary pickle keeps the epoch
    assert copy.epoch == 3 and list(copy.indices()) == list(stream.indices())
    copy.set_epoch(4)
    assert stream.epoch == 3  # and is no longer shared with the original


def test_rank_and_buffer_validation(ds: EpisodeDataset) -> None:
    from embodex.errors import LoaderConfigError

    with pytest.raises(LoaderConfigError, match="rank=2"):
        ds.iterable(rank=2, world_size=2)
    with pytest.raises(LoaderConfigError, match="shuffle_buffer"):
        ds.iterable(shuffle_buffer=-1)
