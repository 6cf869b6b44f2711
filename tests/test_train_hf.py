"""``to_hf()``: a Hugging Face ``datasets.Dataset`` over the same memory-mapped buffers."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest

from embodex.errors import LoaderConfigError
from embodex.format import open_dataset
from embodex.train import load

from ._train_data import module_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return module_dataset(tmp_path_factory, "hf", episodes=5)


def _buffer_ranges(table: pa.Table, *, values_only: bool = False) -> list[tuple[int, int]]:
    """Address ranges of the table's buffers; ``values_only`` skips validity bitmaps (which
    ``datasets`` adds, 1 bit per row, when it marks the columns nullable)."""
    out = []
    for col in table.columns:
        for chunk in col.chunks:
            bufs = chunk.buffers()[1:] if values_only else chunk.buffers()
            out += [(b.address, b.address + b.size) for b in bufs if b is not None and b.size]
    return out


def test_to_hf_copies_no_frames(root: Path) -> None:
    chosen = open_dataset(root).episode_ids[1:4]
    ds = load(root, qc="all", cameras=["head"], episodes=chosen)
    ds[0]  # map the shards
    maps = [ds._table(name) for name in ds.shard_names()]
    spans = [r for m in maps for r in _buffer_ranges(m.table)]
    before = pa.total_allocated_bytes()
    hf = ds.to_hf()
    assert isinstance(hf, datasets.Dataset)
    assert pa.total_allocated_bytes() - before < 64 * 1024  # bookkeeping only, no frames
    table = hf.data.table
    data_bytes = 0
    for lo, hi in _buffer_ranges(table, values_only=True):
        assert any(a <= lo and hi <= b for a, b in spans), "a buffer outside the memory maps"
        data_bytes += hi - lo
    assert data_bytes > 100_000  # the images are there, mapped, not copied
    assert hf.num_rows == len(ds)
    assert hf.column_names == [
        "episode_index", "frame_index", "timestamp_ns", "action", "state", "image.head",
    ]  # fmt: skip
    rows = hf.with_format("numpy")
    for i in (0, 7, len(ds) - 1):
        want = ds[i]
        got = rows[i]
        assert np.array_equal(got["state"], want["state"])
        assert got["frame_index"] == want["frame_index"]
        assert got["episode_index"] == want["episode_index"]
    assert pa.total_allocated_bytes() - before < 1024 * 1024


def test_to_hf_columns(root: Path) -> None:
    ds = load(root, qc="all")
    hf = ds.to_hf(columns=["episode_index", "action"])
    assert hf.column_names == ["episode_index", "action"]
    with pytest.raises(LoaderConfigError, match="'nope'"):
        ds.to_hf(columns=["nope"])
