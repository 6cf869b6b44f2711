"""``EpisodeIterable``: deterministic, exactly-once streams for data-parallel training.

One epoch is one pass over every selected frame. With ``shuffle`` the order is drawn from
``(seed, epoch)`` alone, so every rank computes the same global order without talking:

1. shards in a random order, and the episodes of each shard in a random order (each
   consumer then reads a few shards front to back, which keeps streamed downloads and the
   page cache effective), the frames of each episode in a random order;
2. that sequence of N frames cut into ``world_size`` contiguous parts whose sizes differ
   by at most one (so ranks run the same number of steps, give or take one sample), and
   each rank's part cut the same way among its DataLoader workers — the cuts fall by frame
   count, not at episode boundaries, so a consumer gets a contiguous run of the sequence:
   whole episodes plus, at either end of its part, a piece of an episode whose other
   frames go to the neighbouring consumer;
3. each consumer's part passed through a shuffle buffer of ``shuffle_buffer`` frames,
   seeded by ``(seed, epoch, rank, worker)``, which mixes frames across episodes.

With ``shuffle="blocks"`` (for video cameras) the unit of steps 1 and 3 is a key-frame block
(:mod:`embodex.train.blocks`) instead of a frame: each episode's blocks in a random order,
each block's frames together and in order, and the buffer holds about ``shuffle_buffer``
frames' worth of blocks and shuffles the blocks. A cut of step 2 may split a block between
two consumers; each gets its piece.

The union over ranks and workers is every frame exactly once, whatever ``world_size`` and
number of workers. Memory is the shuffle buffer plus one episode's frame order.

The epoch lives in shared memory: DataLoader workers that outlive an epoch
(``persistent_workers=True``) read the value :meth:`EpisodeIterable.set_epoch` wrote in the
main process when they start the next epoch, so every epoch gets its own order.
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from multiprocessing.context import assert_spawning
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from ..errors import LoaderConfigError
from .batch import row_dicts
from .blocks import block_order
from .image_layout import DEFAULT_IMAGE_FORMAT, check_image_format

if TYPE_CHECKING:
    from .dataset import EpisodeDataset
    from .torch_adapter import TorchEpisodeIterable

__all__ = ["EpisodeIterable", "worker_slot"]


def worker_slot() -> tuple[int, int]:
    """(worker id, number of workers) inside a torch DataLoader worker, else (0, 1)."""
    torch = sys.modules.get("torch")  # never import torch just to ask
    if torch is None:
        return 0, 1
    info = torch.utils.data.get_worker_info()
    return (0, 1) if info is None else (int(info.id), int(info.num_workers))


def _shared_int(value: int) -> Any:
    """A 64-bit integer in shared memory (inherited by forked workers, passed to spawned
    ones when they start)."""
    return multiprocessing.Value("q", value, lock=False)


def _part(lo: int, hi: int, index: int, parts: int) -> tuple[int, int]:
    size = hi - lo
    return lo + size * index // parts, lo + size * (index + 1) // parts


class EpisodeIterable:
    """Iterate over this rank's share of an epoch (see the module doc for the order).

    Call :meth:`set_epoch` before each epoch, as with PyTorch's ``DistributedSampler``
    (persistent DataLoader workers see it too). Iterating it yields numpy samples. For a
    ``DataLoader`` pass :meth:`torch` (a ``torch.utils.data.IterableDataset`` of tensors
    whose share is split further among the workers): the stream itself cannot be indexed,
    and DataLoader would index it.

    Example::

        stream = ds.iterable(shuffle_buffer=20_000, seed=0, rank=rank, world_size=world)
        loader = DataLoader(stream.torch(), batch_size=64, num_workers=4)
        for epoch in range(10):
            stream.set_epoch(epoch)
            for batch in loader: ...
    """

    def __init__(
        self,
        ds: EpisodeDataset,
        *,
        shuffle_buffer: int = 10_000,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool | Literal["blocks"] = True,
        image_format: str = DEFAULT_IMAGE_FORMAT,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        check_image_format(image_format)
        if shuffle not in (True, False, "blocks"):
            raise LoaderConfigError(
                f"shuffle={shuffle!r}: use True, False or 'blocks' (key-frame blocks)"
            )
        if world_size < 1 or not 0 <= rank < world_size:
            raise LoaderConfigError(
                f"rank={rank} world_size={world_size}: need 0 <= rank < world_size",
                hint="Pass torch.distributed.get_rank() and get_world_size().",
            )
        if shuffle_buffer < 0:
            raise LoaderConfigError(f"shuffle_buffer={shuffle_buffer} must be >= 0")
        self.ds = ds
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        #: how :meth:`torch` delivers images and the per-sample hook it applies
        self.image_format = image_format
        self.transform = transform
        self._epoch: Any = _shared_int(0)

    @property
    def epoch(self) -> int:
        return int(self._epoch.value)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order to yield next; seen by DataLoader workers already running
        (persistent workers) when they start their next pass."""
        self._epoch.value = int(epoch)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        try:
            assert_spawning(self)  # pickled to start a worker process: share the epoch
        except RuntimeError:
            state["_epoch"] = self.epoch  # any other pickle: a plain number
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state["_epoch"], int):
            state["_epoch"] = _shared_int(state["_epoch"])
        self.__dict__.update(state)

    def __getitem__(self, index: object) -> Any:
        # DataLoader takes anything that is not a torch IterableDataset for a map-style
        # dataset and indexes it: say what to pass instead of "not subscriptable".
        raise LoaderConfigError(
            "an EpisodeIterable is a stream and cannot be indexed (DataLoader indexes "
            "anything that is not a torch IterableDataset)",
            hint="Pass stream.torch() to DataLoader (tensors, split among its workers), or "
            "iterate the stream itself for numpy samples.",
        )

    def _rank_range(self) -> tuple[int, int]:
        return _part(0, len(self.ds), self.rank, self.world_size)

    def __len__(self) -> int:
        """Frames this rank yields per epoch (all its workers together)."""
        lo, hi = self._rank_range()
        return hi - lo

    def _episode_order(self) -> np.ndarray:
        """Selected-episode positions in this epoch's order (identical on every rank)."""
        k = np.arange(self.ds.num_episodes)
        if not self.shuffle:
            return k
        rng = np.random.default_rng([self.seed, self.epoch])
        codes = self.ds._shard_code  # each episode's shard as its position in sorted names
        shard_key = rng.permutation(len(self.ds._shard_names))[codes]
        episode_key = rng.permutation(len(k))
        return k[np.lexsort((episode_key, shard_key))]

    def indices(self, worker: int = 0, num_workers: int = 1) -> Iterator[int]:
        """Sample indices this (rank, worker) yields this epoch, in order."""
        runs = self._ordered(worker, num_workers)
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker, num_workers])
        if self.shuffle == "blocks":
            if self.shuffle_buffer > 1:
                bounds = self.ds.key_frame_blocks()
                mean = max(1, int(bounds[-1]) // max(1, len(bounds) - 1))
                runs = _buffer_shuffle(runs, max(1, self.shuffle_buffer // mean), rng)
            return (i for run in runs for i in run.tolist())
        stream: Iterator[int] = (i for run in runs for i in run.tolist())
        if self.shuffle and self.shuffle_buffer > 1:
            stream = _buffer_shuffle(stream, self.shuffle_buffer, rng)
        return stream

    def _ordered(self, worker: int, num_workers: int) -> Iterator[np.ndarray]:
        """This consumer's part of the epoch's sequence, as runs of sample indices: an
        episode's part each, or with ``shuffle="blocks"`` a block's part each."""
        lo, hi = _part(*self._rank_range(), worker, num_workers)
        if lo >= hi:
            return
        order = self._episode_order()
        counts = self.ds._count_np[order]
        ends = np.cumsum(counts)  # position in the epoch's sequence where each episode ends
        first = int(np.searchsorted(ends, lo, side="right"))
        last = int(np.searchsorted(ends, hi, side="left"))
        # streamed datasets: download this consumer's shards in the order it will read them
        names = [self.ds._shard[int(k)] for k in order[first : last + 1]]
        self.ds.source.prefetch(list(dict.fromkeys(names)))
        starts = self.ds._starts_np
        bounds = self.ds.key_frame_blocks() if self.shuffle == "blocks" else None
        pos = int(ends[first - 1]) if first else 0
        for j in range(first, len(order)):
            if pos >= hi:
                return
            k = int(order[j])
            n = int(counts[j])
            a, b = max(lo - pos, 0), min(hi - pos, n)
            base = int(starts[k])
            rng = np.random.default_rng([self.seed, self.epoch, 1 + k])
            if bounds is not None:  # this episode's blocks, shuffled, each cut to [a, b)
                mine = bounds[np.searchsorted(bounds, base) : np.searchsorted(bounds, base + n) + 1]
                frames, lens = block_order(mine, rng)
                run_ends = np.cumsum(lens)
                for s, e in zip((run_ends - lens).tolist(), run_ends.tolist(), strict=True):
                    s, e = max(s, a), min(e, b)
                    if s < e:
                        yield frames[s:e]
            else:
                frames = rng.permutation(n) if self.shuffle else np.arange(n)
                yield base + frames[a:b]
            pos += n

    def iter_batches(self, batch_size: int = 256) -> Iterator[dict[str, Any]]:
        """This (rank, worker)'s samples in stream order, as gathered batches of
        ``batch_size`` (``EpisodeDataset.get_batch``; the last may be shorter)."""
        if batch_size < 1:
            raise LoaderConfigError(f"batch_size={batch_size} must be >= 1")
        worker, num_workers = worker_slot()
        indices = self.indices(worker, num_workers)
        while chunk := list(itertools.islice(indices, batch_size)):
            yield self.ds.get_batch(chunk)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.iter_batches():
            yield from row_dicts(batch)

    def torch(self) -> TorchEpisodeIterable:
        """A ``torch.utils.data.IterableDataset`` of tensors splitting the stream among
        DataLoader workers, images and per-sample transform as given to
        ``ds.iterable(image_format=..., transform=...)``. Needs the ``torch`` extra."""
        from .torch_adapter import TorchEpisodeIterable

        return TorchEpisodeIterable(self)


_T = TypeVar("_T")


def _buffer_shuffle(stream: Iterator[_T], size: int, rng: np.random.Generator) -> Iterator[_T]:
    """Classic shuffle buffer: fill ``size`` items, then emit a random one per new item."""
    buf: list[_T] = []
    draws: list[int] = []
    for item in stream:
        if len(buf) < size:
            buf.append(item)
            continue
        if not draws:
            draws = rng.integers(0, size, 4096).tolist()
        j = draws.pop()
        out, buf[j] = buf[j], item
        yield out
    order = rng.permutation(len(buf)).tolist()
    for j in order:
        yield buf[j]
