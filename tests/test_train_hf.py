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


def _mapped_ranges(paths: list[Path]) -> list[tuple[int, int]]:
    """Address ranges where these files are memory-mapped in this process."""
    names = {str(p.resolve()) for p in paths}
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] in names:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


def _frame_buffers(table: pa.Table) -> list[pa.Buffer]:
    """The buffers holding frame values: feature values, image bytes and their offsets."""
    out = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        for chunk in col.chunks:
            if isinstance(chunk, pa.FixedSizeListArray):
                out.append(chunk.values.buffers()[1])
            elif isinstance(chunk, pa.StructArray):  # datasets.Image: {bytes, path}
                out += chunk.field("bytes").buffers()[1:]
            elif name.startswith("image."):
                out += chunk.buffers()[1:]
    return [b for b in out if b is not None and b.size]


def test_to_hf_copies_no_frames(root: Path) -> None:
    chosen = open_dataset(root).episode_ids[1:4]
    ds = load(root, qc="all", cameras=["head"], episodes=chosen)
    before = pa.total_allocated_bytes()
    hf = ds.to_hf()
    assert isinstance(hf, datasets.Dataset)
    allocated = pa.total_allocated_bytes() - before
    assert allocated < 16 * len(ds)  # validity bitmaps and empty image paths, no frame
    maps = _mapped_ranges(sorted((root / "data").glob("shard-*.arrow")))
    assert maps
    buffers = _frame_buffers(hf.data.table)
    for buf in buffers:
        lo, hi = buf.address, buf.address + buf.size
        assert any(a <= lo and hi <= b for a, b in maps), "a frame buffer outside the maps"
    assert sum(b.size for b in buffers) > 100_000  # the images are there, mapped
    assert hf.num_rows == len(ds)
    assert hf.column_names == [
        "episode_index", "frame_index", "timestamp_ns", "action", "state", "image.head",
        "image.head.timestamp_ns",
    ]  # fmt: skip
    rows = hf.with_format("numpy")
    for i in (0, 7, len(ds) - 1):
        want = ds[i]
        got = rows[i]
        assert np.array_equal(got["state"], want["state"])
        assert np.array_equal(got["image.head"], want["image.head"])  # HF decodes it
        assert got["frame_index"] == want["frame_index"]
        assert got["episode_index"] == want["episode_index"]


def test_to_hf_columns(root: Path) -> None:
    ds = load(root, qc="all")
    hf = ds.to_hf(columns=["episode_index", "action"])
    assert hf.column_names == ["episode_index", "action"]
    with pytest.raises(LoaderConfigError, match="'nope'"):
        ds.to_hf(columns=["nope"])
