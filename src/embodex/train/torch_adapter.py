"""PyTorch adapters: map-style and iterable datasets of tensors (needs the torch extra).

Both read through the batched path. With a batch sampler (any ``batch_size``), DataLoader
calls ``TorchEpisodeDataset.__getitems__``, which gathers the batch with
``EpisodeDataset.get_batch`` and returns it as a ``SampleBatch``; the iterable gathers the
stream a chunk at a time and yields rows of those chunks. The collate registered here for
such rows (in torch's ``default_collate_fn_map``, torch's own way to extend
``default_collate``) hands the gathered tensors over whole, or as slices when a batch spans
chunks, instead of stacking sample by sample. A custom ``collate_fn`` still sees one mapping
per sample; :func:`collate` is the same logic for use inside one.

Both hold the ``EpisodeDataset`` whose pickled form is its source and selection, never its
memory maps or frames; each DataLoader worker maps the shards itself (after ``fork`` the
inherited maps are dropped, with ``spawn`` the dataset is reopened from its path).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import LoaderConfigError

try:
    import torch
    from torch.utils.data import Dataset, IterableDataset, default_collate
    from torch.utils.data._utils.collate import default_collate_fn_map
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise LoaderConfigError(
        "the PyTorch adapters need torch", hint="pip install 'embodex[torch]'."
    ) from exc

from .batch import BatchRow, SampleBatch
from .iterable import worker_slot

if TYPE_CHECKING:
    from .dataset import EpisodeDataset
    from .iterable import EpisodeIterable

__all__ = [
    "TorchEpisodeDataset",
    "TorchEpisodeIterable",
    "collate",
    "register_collate",
    "to_tensors",
]

#: samples gathered at once by the iterable (latency of its first batch vs Python per chunk)
ITERABLE_CHUNK = 256


def _tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return torch.as_tensor(value)
    if isinstance(value, list) and value and not isinstance(value[0], str):
        return [_tensor(v) for v in value]  # encoded images of a batch
    return value


def to_tensors(sample: dict[str, Any]) -> dict[str, Any]:
    """numpy arrays and scalars as tensors (sharing memory), in a sample or a gathered
    batch; strings stay strings."""
    return {key: _tensor(value) for key, value in sample.items()}


def _shared(value: Any) -> Any:
    """``value`` as a tensor in shared memory (arrays), else as ``_tensor`` makes it.

    A DataLoader worker hands each batch to the main process through shared memory; a
    tensor in private memory is moved there when it is sent, which costs far more than a
    copy. torch's default collate stacks into shared storage for that reason; this copies
    into it. (Decoding frames straight into shared storage measured slower: each fresh
    page of it faults while the decoder writes.)"""
    if not isinstance(value, np.ndarray):
        return _tensor(value)
    elem = torch.from_numpy(np.empty(0, dtype=value.dtype))
    storage = torch.UntypedStorage._new_shared(value.nbytes)  # type: ignore[no-untyped-call]
    out = elem.set_(storage).view(value.shape)
    out.numpy()[...] = value
    return out


def _gathered(ds: EpisodeDataset, indices: list[int]) -> dict[str, Any]:
    """``ds.get_batch(indices)`` as tensors, in shared memory inside a DataLoader worker."""
    batch = ds.get_batch(indices)
    if torch.utils.data.get_worker_info() is None:
        return to_tensors(batch)
    return {key: _shared(value) for key, value in batch.items()}


def _cat(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return first.clone() if len(parts) == 1 else torch.cat(parts)
    if isinstance(first, np.ndarray):
        return torch.from_numpy(np.concatenate(parts))
    return [_tensor(x) for part in parts for x in part]


def collate(batch: Sequence[Any], *, collate_fn_map: dict[Any, Any] | None = None) -> Any:
    """A batch from a ``SampleBatch``, rows of gathered batches, or plain samples.

    A whole ``SampleBatch`` is returned as its tensors; rows taken in order from gathered
    batches become slices of them (concatenated when they span batches); anything else
    goes through torch's ``default_collate``. The result equals ``default_collate`` of the
    same samples one by one.
    """
    if isinstance(batch, SampleBatch):
        return to_tensors(batch.data)
    runs: list[list[Any]] = []  # [SampleBatch, start, stop]
    for row in batch:
        if not isinstance(row, BatchRow):
            return default_collate([dict(r) for r in batch])
        last = runs[-1] if runs else None
        if last is not None and last[0] is row.batch and last[2] == row.row:
            last[2] += 1
        else:
            runs.append([row.batch, row.row, row.row + 1])
    if not runs:
        return default_collate(list(batch))
    whole = runs[0][0]
    if len(runs) == 1 and runs[0][1] == 0 and runs[0][2] == len(whole):
        return to_tensors(whole.data)
    keys = list(whole.data)
    if any(list(r[0].data) != keys for r in runs):
        return default_collate([dict(r) for r in batch])
    return {key: _cat([b.data[key][a:z] for b, a, z in runs]) for key in keys}


def register_collate() -> None:
    """Let torch's ``default_collate`` take gathered batches whole (see the module doc)."""
    default_collate_fn_map[BatchRow] = collate


register_collate()


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

    def __getitems__(self, indices: list[int]) -> SampleBatch:
        """A whole batch, gathered at once (DataLoader calls this with a batch sampler)."""
        return SampleBatch(_gathered(self.ds, indices))


class TorchEpisodeIterable(IterableDataset[Mapping[str, Any]]):
    """``EpisodeIterable`` as a ``torch.utils.data.IterableDataset``; each DataLoader worker
    takes its own contiguous part of the rank's share (exactly once overall)."""

    def __init__(self, stream: EpisodeIterable) -> None:
        self.stream = stream

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[BatchRow]:
        """This worker's samples, gathered ``ITERABLE_CHUNK`` at a time; each item is a
        read-only mapping of tensors (``dict(item)`` for a dict)."""
        worker, num_workers = worker_slot()
        ds = self.stream.ds
        indices = self.stream.indices(worker, num_workers)
        while chunk := list(itertools.islice(indices, ITERABLE_CHUNK)):
            yield from SampleBatch(_gathered(ds, chunk))
