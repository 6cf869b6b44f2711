"""``EpisodeDataset.to_hf()``: a Hugging Face ``datasets.Dataset`` over the mapped shards.

Built on the HF exporter's :func:`embodex.format.exporters.hf.to_hf_dataset` (so the loader
and ``embodex export hf`` agree on the layout: features as fixed-length lists, cameras as
``datasets.Image`` holding the stored bytes), in memory: every column is a zero-copy slice
of the memory-mapped shards, so no frame is copied and nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import LoaderConfigError, MissingExtraError

if TYPE_CHECKING:
    from .dataset import EpisodeDataset

__all__ = ["hf_columns", "to_hf_dataset"]

_BOOKKEEPING = ("episode_index", "frame_index", "timestamp_ns")


def hf_columns(ds: EpisodeDataset) -> list[str]:
    """The loaded columns: bookkeeping, features, and the chosen cameras' images."""
    cams = [ds.meta.camera(c) for c in ds.spec.cameras]
    images = [col for c in cams for col in (c.column, c.timestamp_column)]
    return [*_BOOKKEEPING, *ds.spec.features, *images]


def to_hf_dataset(ds: EpisodeDataset, *, columns: Sequence[str] | None = None) -> Any:
    """See :meth:`EpisodeDataset.to_hf`. Raises ``LoaderConfigError`` for unknown columns
    and ``MissingExtraError`` without the ``hf`` extra."""
    try:
        from ..format.exporters import hf as exporter
    except MissingExtraError as exc:  # pragma: no cover - exercised only without the extra
        raise LoaderConfigError(
            "to_hf() needs the Hugging Face datasets package", hint="pip install 'embodex[hf]'."
        ) from exc
    selection = ds.dataset.select(episode_ids=ds.episode_ids)
    frames = exporter.to_hf_dataset(selection, cameras=list(ds.spec.cameras))
    wanted = list(columns) if columns is not None else hf_columns(ds)
    missing = [c for c in wanted if c not in frames.column_names]
    if missing:
        raise LoaderConfigError(
            f"to_hf(columns=...) names {missing[0]!r}, which is not a frame column",
            hint=f"Frame columns: {', '.join(frames.column_names)}.",
        )
    return frames.select_columns(wanted)
