"""Episodes staged as files by a worker and committed by the writer (issue 14, no Ray
needed): the same bytes and shard boundaries as writing the episodes directly; staged
folders are reused only when their key and sizes match; a record cannot name a path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from embodex.demo.synth import synth_episodes, synth_meta
from embodex.errors import CorruptDatasetError
from embodex.format import open_dataset
from embodex.format.staging import load_staged, stage_episode
from embodex.format.videostore import VideoEncoding
from embodex.format.writer import DatasetWriter

SHARD_BYTES = 60_000  # small: the episodes below roll over several frame and stream shards


def _meta():  # type: ignore[no-untyped-def]
    return synth_meta(image_size=32, cameras=("head",), imu_hz=100.0)


def test_staged_commit_equals_direct_write_across_shard_boundaries(tmp_path: Path) -> None:
    meta = _meta()
    episodes = list(synth_episodes(meta, 5, seed=3, duration_s=(1.0, 2.5)))
    with DatasetWriter(tmp_path / "direct", meta, shard_bytes=SHARD_BYTES) as w:
        for ep in episodes:
            w.add_episode(ep)
    staged = [
        stage_episode(meta, ep, tmp_path / "stage" / str(i), "k", VideoEncoding(), [])
        for i, ep in enumerate(episodes)
    ]
    with DatasetWriter(tmp_path / "staged", meta, shard_bytes=SHARD_BYTES) as w:
        for st in staged:
            w.add_staged(st)
    direct, via = open_dataset(tmp_path / "direct"), open_dataset(tmp_path / "staged")
    shards = [f.path for f in direct.manifest.files if f.path.startswith("data/")]
    assert len(shards) >= 3 and any(f.path.startswith("streams/") for f in via.manifest.files)
    assert via.digest == direct.digest
    assert via.verify().ok


def test_staged_folder_is_reused_only_with_its_key_and_sizes(tmp_path: Path) -> None:
    meta = _meta()
    ep = next(iter(synth_episodes(meta, 1, seed=4, duration_s=(1.0, 1.5))))
    folder = tmp_path / "stage" / "ep"
    first = stage_episode(meta, ep, folder, "key-1", VideoEncoding(), ["a note"])
    assert not first.reused and not list(folder.parent.glob("*.partial-*"))
    again = load_staged(folder, "key-1")
    assert again is not None and again.reused and again.notes == ["a note"]
    assert dataclasses.replace(again, reused=False) == first
    assert load_staged(folder, "key-2") is None  # other inputs: packaged again
    frames = folder / "frames.arrows"
    frames.write_bytes(frames.read_bytes()[:-100])  # cut short (a crash before writeback)
    assert load_staged(folder, "key-1") is None
    assert load_staged(tmp_path / "nothing", "key-1") is None
    # staging the episode again from other inputs replaces the stale folder
    second = stage_episode(meta, ep, folder, "key-2", VideoEncoding(), [])
    assert load_staged(folder, "key-2") == dataclasses.replace(second, reused=True)
    assert load_staged(folder, "key-1") is None


def test_a_staged_record_cannot_name_another_camera(tmp_path: Path) -> None:
    meta = _meta()
    ep = next(iter(synth_episodes(meta, 1, seed=5, duration_s=(1.0, 1.5))))
    staged = stage_episode(meta, ep, tmp_path / "stage" / "ep", "k", VideoEncoding(), [])
    evil = dataclasses.replace(staged, videos={"../../escape": (1, "0" * 64)})
    with DatasetWriter(tmp_path / "out", meta) as w, pytest.raises(CorruptDatasetError):
        w.add_staged(evil)
    assert not (tmp_path / "escape").exists()
