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

Images come as ``image_format`` says (:mod:`.image_layout`; default ``(C, H, W)`` float32 in
[0, 1]), converted a whole batch at a time, in the worker, straight into the shared memory
the batch travels in. ``transform`` (a callable taking and returning one sample's dict of
tensors, like torchvision's and LeRobot's ``transform``) runs on every sample after that
conversion, in the DataLoader worker that reads it (the main process with
``num_workers=0``): with ``spawn`` it must pickle (a module-level function or a
torchvision ``v2`` transform, not a lambda). With a transform a batch is handed to the
collate as one dict per sample, which torch's default collate stacks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from .image_layout import DEFAULT_IMAGE_FORMAT, check_image_format, chw_float, chw_shape
from .image_layout import image_columns as _image_columns
from .iterable import worker_slot

if TYPE_CHECKING:
    from .dataset import EpisodeDataset
    from .iterable import EpisodeIterable

__all__ = [
    "TorchEpisodeDataset",
    "TorchEpisodeIterable",
    "Transform",
    "collate",
    "register_collate",
    "to_tensors",
]

#: a per-sample hook: one sample's dict of tensors in, the sample to collate out
Transform = Callable[[dict[str, Any]], Any]

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


def _shared_empty(shape: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
    """An uninitialised tensor in shared memory (what a worker's batch travels in)."""
    elem = torch.from_numpy(np.empty(0, dtype=dtype))
    storage = torch.UntypedStorage._new_shared(  # type: ignore[no-untyped-call]
        int(np.prod(shape)) * dtype.itemsize
    )
    return elem.set_(storage).view(shape)


def _shared(value: Any) -> Any:
    """``value`` as a tensor in shared memory (arrays), else as ``_tensor`` makes it.

    A DataLoader worker hands each batch to the main process through shared memory; a
    tensor in private memory is moved there when it is sent, which costs far more than a
    copy. torch's default collate stacks into shared storage for that reason; this copies
    into it. (Decoding frames straight into shared storage measured slower: each fresh
    page of it faults while the decoder writes.)"""
    if not isinstance(value, np.ndarray):
        return _tensor(value)
    out = _shared_empty(value.shape, value.dtype)
    out.numpy()[...] = value
    return out


def _image_tensor(value: Any, depth: bool, shared: bool) -> Any:
    """Decoded frames as ``(..., C, H, W)`` float32 in [0, 1], written once, into shared
    memory in a worker; encoded frames (a list) as they are."""
    if not isinstance(value, np.ndarray):
        return _tensor(value)
    shape = chw_shape(value.shape, depth)
    if shared:
        out = _shared_empty(shape, np.dtype(np.float32))
    else:
        out = torch.empty(shape, dtype=torch.float32)
    chw_float(value, depth=depth, out=out.numpy())
    return out


def _gathered(
    ds: EpisodeDataset,
    indices: list[int],
    images: Mapping[str, bool] | None = None,
    *,
    whole: bool = True,
) -> dict[str, Any]:
    """``ds.get_batch(indices)`` as tensors, in shared memory inside a DataLoader worker
    when the batch travels ``whole`` (per-sample transforms are collated anew: private
    memory); the image keys in ``images`` (key -> depth) as ``chw_float``."""
    batch = ds.get_batch(indices)
    shared = whole and torch.utils.data.get_worker_info() is not None
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if images and key in images:
            out[key] = _image_tensor(value, images[key], shared)
        else:
            out[key] = _shared(value) if shared else _tensor(value)
    return out


def _image_keys(ds: EpisodeDataset, image_format: str) -> dict[str, bool]:
    """The image keys to convert (key -> depth): none for ``hwc_uint8`` or encoded frames."""
    if check_image_format(image_format) != "chw_float" or not ds.spec.decode_images:
        return {}
    return _image_columns(ds.meta, ds.spec.cameras)


def _per_sample(batch: dict[str, Any], transform: Transform) -> list[Any]:
    """``transform`` of every sample of a gathered batch (views of its tensors)."""
    return [transform(dict(row)) for row in SampleBatch(batch)]


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

    Images are ``(C, H, W)`` float32 in [0, 1] (``image_format="chw_float"``, the default)
    or ``(H, W, C)`` uint8 as stored (``"hwc_uint8"``); ``transform`` runs on each sample
    (see the module doc). ``ds[i]``, ``__getitems__`` and the DataLoader's batches agree.
    """

    def __init__(
        self,
        ds: EpisodeDataset,
        *,
        image_format: str = DEFAULT_IMAGE_FORMAT,
        transform: Transform | None = None,
    ) -> None:
        self.ds = ds
        self.image_format = image_format
        self.transform = transform
        self._images = _image_keys(ds, image_format)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> Any:
        sample = self.ds[i]
        images = self._images
        out = {
            k: _image_tensor(v, images[k], False) if k in images else _tensor(v)
            for k, v in sample.items()
        }
        return out if self.transform is None else self.transform(out)

    def __getitems__(self, indices: list[int]) -> Any:
        """A whole batch, gathered at once (DataLoader calls this with a batch sampler):
        a ``SampleBatch``, or with a transform the list of transformed samples."""
        batch = _gathered(self.ds, indices, self._images, whole=self.transform is None)
        if self.transform is not None:
            return _per_sample(batch, self.transform)
        return SampleBatch(batch)


class TorchEpisodeIterable(IterableDataset[Mapping[str, Any]]):
    """``EpisodeIterable`` as a ``torch.utils.data.IterableDataset``; each DataLoader worker
    takes its own contiguous part of the rank's share (exactly once overall). Images and
    ``transform`` as the stream's ``image_format`` and ``transform`` say (module doc)."""

    def __init__(self, stream: EpisodeIterable) -> None:
        self.stream = stream
        self._images = _image_keys(stream.ds, stream.image_format)

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[Any]:
        """This worker's samples, gathered ``ITERABLE_CHUNK`` at a time; each item is a
        read-only mapping of tensors (``dict(item)`` for a dict), or what the transform
        returns."""
        worker, num_workers = worker_slot()
        ds = self.stream.ds
        transform = self.stream.transform
        indices = self.stream.indices(worker, num_workers)
        while chunk := list(itertools.islice(indices, ITERABLE_CHUNK)):
            batch = _gathered(ds, chunk, self._images, whole=transform is None)
            if transform is None:
                yield from SampleBatch(batch)
            else:
                yield from _per_sample(batch, transform)
