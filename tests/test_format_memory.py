"""Memory: the writer holds one episode's frames at a time, whatever it has written before;
an open dataset holds per-episode metadata, never frames. Python objects are measured with
tracemalloc, Arrow buffers with Arrow's allocator statistics (RSS would mix in the
memory-mapped files)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from embodex.demo.synth import synth_episode, synth_meta
from embodex.format import DatasetMeta, DatasetWriter, Episode, open_dataset

KIB = 1024


def _episodes(meta: DatasetMeta, n: int, frames: int | None = None) -> Iterator[Episode]:
    """``n`` episodes made one at a time, each with fresh bytes (as an importer makes them)."""
    template = synth_episode(meta, 0, seed=2, duration_s=(4.0, 4.0)).validated(meta)
    count = frames or template.num_frames
    for i in range(n):
        yield Episode(
            meta=template.meta.model_copy(update={"episode_id": f"mem:{i:05d}", "segments": []}),
            timestamp_ns=np.arange(count, dtype=np.int64) * 33_333_333 + i * 10**12,
            features={
                k: np.resize(v, (count, v.shape[1])).copy() for k, v in template.features.items()
            },
            images={k: [bytes(bytearray(b)) for b in v] for k, v in template.images.items()},
        )


def _write(
    root: Path, meta: DatasetMeta, n: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int]:
    """(Python peak, Arrow bytes held while an episode's batch is built) writing n episodes."""
    arrow_base = pa.total_allocated_bytes()
    held: list[int] = []
    real = DatasetWriter._frames_batch

    def spy(self: DatasetWriter, *args: object) -> pa.RecordBatch:
        batch = real(self, *args)  # type: ignore[arg-type]
        held.append(pa.total_allocated_bytes() - arrow_base)  # the episode's arrays are alive
        return batch

    monkeypatch.setattr(DatasetWriter, "_frames_batch", spy)
    gc.collect()
    tracemalloc.start()
    try:
        with DatasetWriter(root, meta) as w:
            for ep in _episodes(meta, n):
                w.add_episode(ep)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        monkeypatch.undo()
    del w
    gc.collect()
    assert pa.total_allocated_bytes() - arrow_base < 64 * KIB  # nothing kept once closed
    return peak, max(held)


def test_writer_memory_is_one_episode_whatever_was_written_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = synth_meta(image_size=32)
    episode_bytes = sum(len(b) for v in next(_episodes(meta, 1)).images.values() for b in v)
    _write(tmp_path / "warm-up", meta, 1, monkeypatch)  # lazy imports are not the writer's
    few_py, few_arrow = _write(tmp_path / "few", meta, 4, monkeypatch)
    many_py, many_arrow = _write(tmp_path / "many", meta, 100, monkeypatch)
    written = 96 * episode_bytes  # what 96 more episodes put on disk
    assert written > 20 * 2**20
    # Arrow holds the episode being written (its frames and one batch), never earlier ones'
    # frames; beyond that only the finished episodes' rows (~6 KiB each) once converted
    assert many_arrow < 3 * episode_bytes + 96 * 8 * KIB, (many_arrow, episode_bytes)
    assert many_arrow - few_arrow < 96 * 8 * KIB, (few_arrow, many_arrow)
    # Python grows only by the per-episode metadata rows (a few KiB each), not by frames
    assert many_py - few_py < 96 * 32 * KIB, (many_py - few_py, written)
    assert many_py - few_py < written / 10


def _tiny(root: Path, episodes: int, frames: int) -> Path:
    meta = synth_meta(cameras=())
    with DatasetWriter(root, meta) as w:
        for ep in _episodes(meta, episodes, frames):
            w.add_episode(ep)
    return root


def _held_after_open(root: Path) -> int:
    gc.collect()
    arrow_base = pa.total_allocated_bytes()
    tracemalloc.start()
    try:
        ds = open_dataset(root)
        _ = ds.hours, len(ds)
        python = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return python + pa.total_allocated_bytes() - arrow_base


def test_open_memory_follows_episodes_not_frames(tmp_path: Path) -> None:
    short = _tiny(tmp_path / "short", 200, 10)
    long = _tiny(tmp_path / "long", 200, 600)
    more = _tiny(tmp_path / "more", 1000, 10)
    _held_after_open(short)  # warm-up
    s, lo, m = (_held_after_open(p) for p in (short, long, more))
    assert abs(lo - s) < 32 * KIB, (s, lo)  # 60x the frames: the same memory
    assert s < m < s + 800 * KIB, (s, m)  # 5x the episodes: < 1 KiB more per episode
