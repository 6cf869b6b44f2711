"""A gathered batch seen as the list of its samples, so torch's DataLoader takes it as is.

``DataLoader`` with a batch sampler calls ``dataset.__getitems__(indices)`` and hands the
result to its ``collate_fn``, which expects a list of samples. ``SampleBatch`` is that list
without building one dict per sample: item ``j`` is a ``BatchRow``, a read-only mapping that
indexes row ``j`` of the batch's arrays on demand. The collate registered for ``BatchRow``
(``torch_adapter.collate``) recognises rows taken in order from one or more batches and
returns slices of the batch's arrays instead of stacking sample by sample; any other collate
function still sees ordinary per-sample mappings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

__all__ = ["BatchRow", "SampleBatch", "batch_size", "row_dicts"]


def batch_size(data: Mapping[str, Any]) -> int:
    """Number of samples in a gathered batch (every batch has ``index``)."""
    return len(data["index"])


class SampleBatch(Sequence["BatchRow"]):
    """The samples of one gathered batch (``data``: key -> array or list, batch first)."""

    __slots__ = ("_n", "data")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._n = batch_size(data)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, j: int) -> BatchRow: ...
    @overload
    def __getitem__(self, j: slice) -> list[BatchRow]: ...
    def __getitem__(self, j: int | slice) -> BatchRow | list[BatchRow]:
        if isinstance(j, slice):
            return [BatchRow(self, r) for r in range(*j.indices(self._n))]
        if j < 0:
            j += self._n
        if not 0 <= j < self._n:
            raise IndexError(f"row {j} out of range ({self._n} samples)")
        return BatchRow(self, j)

    def __iter__(self) -> Iterator[BatchRow]:
        return (BatchRow(self, j) for j in range(self._n))

    def __repr__(self) -> str:
        return f"SampleBatch({self._n} samples, keys={list(self.data)})"


class BatchRow(Mapping[str, Any]):
    """Sample ``row`` of a ``SampleBatch``: each value is read from the batch when asked."""

    __slots__ = ("batch", "row")

    def __init__(self, batch: SampleBatch, row: int) -> None:
        self.batch = batch
        self.row = row

    def __getitem__(self, key: str) -> Any:
        return self.batch.data[key][self.row]

    def __iter__(self) -> Iterator[str]:
        return iter(self.batch.data)

    def __len__(self) -> int:
        return len(self.batch.data)

    def __repr__(self) -> str:
        return f"BatchRow({self.row} of {len(self.batch)})"


def row_dicts(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The samples of a gathered batch as plain dicts (values index the batch's arrays)."""
    keys = list(data)
    columns = [list(value) for value in data.values()]  # split along the batch axis, in C
    for values in zip(*columns, strict=True):
        yield dict(zip(keys, values, strict=True))
