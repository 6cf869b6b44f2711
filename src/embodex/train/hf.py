"""``EpisodeDataset.to_hf()``: a Hugging Face ``datasets.Dataset`` over the mapped shards.

The frames of the selected episodes are zero-copy slices of the memory-mapped shard tables,
concatenated (which only lists the slices) and wrapped in ``datasets``' in-memory table
type, which holds a pyarrow table as is. No frame is copied or written to the HF cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import LoaderConfigError

if TYPE_CHECKING:
    from .dataset import EpisodeDataset

__all__ = ["hf_columns", "to_hf_dataset"]

_BOOKKEEPING = ("episode_index", "frame_index", "timestamp_ns")


def hf_columns(ds: EpisodeDataset) -> list[str]:
    """The loaded columns: bookkeeping, features and the encoded images of chosen cameras."""
    cams = [ds.meta.camera(c).column for c in ds.spec.cameras]
    return [*_BOOKKEEPING, *ds.spec.features, *cams]


def to_hf_dataset(ds: EpisodeDataset, *, columns: Sequence[str] | None = None) -> Any:
    """See :meth:`EpisodeDataset.to_hf`. Raises ``LoaderConfigError`` for unknown columns."""
    try:
        import datasets
        from datasets.table import InMemoryTable
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise LoaderConfigError(
            "to_hf() needs the Hugging Face datasets package",
            hint="pip install 'embodex[hf]'.",
        ) from exc
    cols = list(columns) if columns is not None else hf_columns(ds)
    pieces: list[pa.Table] = []
    for k in range(ds.num_episodes):
        table = ds._table(ds._shard[k]).table
        missing = [c for c in cols if c not in table.column_names]
        if missing:
            raise LoaderConfigError(
                f"to_hf(columns=...) names {missing[0]!r}, which is not a frame column",
                hint=f"Frame columns: {', '.join(table.column_names)}.",
            )
        pieces.append(table.select(cols).slice(ds._row[k], ds._count[k]))
    frames = pa.concat_tables(pieces)  # lists the slices' chunks; copies nothing
    key = f"{ds.dataset.digest}|{cols}|".encode() + ds._positions.tobytes()
    fingerprint = hashlib.sha256(key).hexdigest()[:32]
    return datasets.Dataset(InMemoryTable(frames), fingerprint=fingerprint)
