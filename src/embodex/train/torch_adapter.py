"""PyTorch adapters: map-style and iterable datasets of tensors (needs the torch extra).

Both hold the ``EpisodeDataset`` whose pickled form is its source and selection, never its
memory maps or frames; each DataLoader worker maps the shards itself (after ``fork`` the
inherited maps are dropped, with ``spawn`` the dataset is reopened from its path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import LoaderConfigError

try:
    import torch
    from torch.utils.data import Dataset, IterableDataset
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise LoaderConfigError(
        "the PyTorch adapters need torch", hint="pip install 'embodex[torch]'."
    ) from exc

from .iterable import worker_slot

if TYPE_CHECKING:
    from .dataset import EpisodeDataset
    from .iterable import EpisodeIterable

__all__ = ["TorchEpisodeDataset", "TorchEpisodeIterable", "to_tensors"]


def to_tensors(sample: dict[str, Any]) -> dict[str, Any]:
    """numpy arrays and scalars as tensors (sharing memory); strings stay strings."""
    out: dict[str, Any] = {}
    for key, value in sample.items():
        if isinstance(value, np.ndarray):
            out[key] = torch.from_numpy(value)
        elif isinstance(value, np.generic):
            out[key] = torch.as_tensor(value)
        else:
            out[key] = value
    return out


class TorchEpisodeDataset(Dataset[dict[str, Any]]):
    """``EpisodeDataset`` as a map-style ``torch.utils.data.Dataset`` of tensors.

    Images stay ``(H, W, C)`` uint8: convert on the GPU (``x.permute(0, 3, 1, 2) / 255``).
    """

    def __init__(self, ds: EpisodeDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return to_tensors(self.ds[i])


class TorchEpisodeIterable(IterableDataset[dict[str, Any]]):
    """``EpisodeIterable`` as a ``torch.utils.data.IterableDataset``; each DataLoader worker
    takes its own contiguous part of the rank's share (exactly once overall)."""

    def __init__(self, stream: EpisodeIterable) -> None:
        self.stream = stream

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker, num_workers = worker_slot()
        ds = self.stream.ds
        for i in self.stream.indices(worker, num_workers):
            yield to_tensors(ds[i])
