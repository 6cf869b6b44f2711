"""Key-frame blocks: shuffling in GOP-sized pieces so neighbouring samples share one decode.

A frame of a video camera decodes from its key frame: at random it costs up to a whole GOP
of decoding, in order one frame. A *block* is a run of consecutive frames of one episode
that lie in one GOP of every video camera loaded (a new block starts at every key frame of
any of them; without a video camera, every ``DEFAULT_BLOCK`` frames). Shuffling the blocks
and keeping the frames of a block together and in order lets the decoder seek once per
block and decode it once, front to back (``cameras.decode_video_frames`` sorts a batch's
frames by PTS; the per-sample path continues the running decode).

The price is randomness: the samples of a batch come in runs of a block (a GOP, e.g. 30
frames = 1 s at 30 fps), so they are correlated within a run, as with a sequence loader; the
order of blocks, and so of episodes and moments, is uniformly random per epoch, and every
sample is still seen exactly once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

__all__ = ["DEFAULT_BLOCK", "BlockShuffleSampler", "block_order"]

#: block length in frames when no video camera is loaded
DEFAULT_BLOCK = 32


def block_order(bounds: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every index of the blocks ``bounds`` (block ``b`` is ``bounds[b]:bounds[b + 1]``),
    the blocks in a random order, each block's indices in increasing order; and the length
    of each block in that order."""
    lens = np.diff(bounds)
    order = rng.permutation(len(lens))
    starts, lens = bounds[:-1][order], lens[order]
    ends = np.cumsum(lens)
    total = int(ends[-1]) if len(ends) else 0
    offs = np.arange(total, dtype=np.int64) - np.repeat(ends - lens, lens)
    out: np.ndarray = np.repeat(starts, lens) + offs
    return out, lens


class _Blocked(Protocol):
    def key_frame_blocks(self) -> np.ndarray: ...


class BlockShuffleSampler:
    """A sampler (for ``DataLoader(sampler=...)``) of every sample index once per epoch,
    in key-frame blocks shuffled by ``(seed, epoch)`` (see the module doc).

    Call :meth:`set_epoch` before each epoch, as with ``DistributedSampler``. Works without
    torch: iterating it gives ints.
    """

    def __init__(self, ds: _Blocked, *, seed: int = 0) -> None:
        self.bounds = ds.key_frame_blocks()
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        return iter(block_order(self.bounds, rng)[0].tolist())
