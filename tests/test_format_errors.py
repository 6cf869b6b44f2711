"""Bad input gets a clear error naming the file or episode, and loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from embodex.demo.synth import synth_episode, synth_meta
from embodex.errors import (
    CorruptDatasetError,
    DatasetExistsError,
    DatasetLockedError,
    DatasetNotFoundError,
    SchemaError,
    UnsupportedFormatError,
    VerificationError,
)
from embodex.format import DatasetMeta, DatasetWriter, Episode, open_dataset

from .conftest import SHORT


def _ep(meta: DatasetMeta, i: int = 0) -> Episode:
    return synth_episode(meta, i, seed=1, duration_s=SHORT)


def test_licence_is_required_with_no_default() -> None:
    data = synth_meta().model_dump()
    del data["licence"]
    with pytest.raises(ValidationError, match="licence"):
        DatasetMeta.model_validate(data)


def test_missing_licence_in_a_dataset_on_disk(small_dataset) -> None:  # type: ignore[no-untyped-def]
    root = small_dataset.root
    meta = json.loads((root / "embodex.json").read_text())
    del meta["licence"]
    (root / "embodex.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptDatasetError, match="embodex.json does not match its manifest"):
        open_dataset(root)


def test_timestamps_going_backwards_are_refused(tmp_path: Path, small_meta: DatasetMeta) -> None:
    ep = _ep(small_meta)
    ts = ep.timestamp_ns.copy()
    ts[5] = ts[3]
    ep.timestamp_ns = ts
    with DatasetWriter(tmp_path / "ds", small_meta) as w, pytest.raises(SchemaError) as info:
        w.add_episode(ep)
    assert ep.meta.episode_id in str(info.value) and "frame 5" in str(info.value)


def test_unknown_camera_and_feature(tmp_path: Path, small_meta: DatasetMeta) -> None:
    ep = _ep(small_meta)
    ep.images = {**ep.images, "belly_cam": ep.images["head"]}
    w = DatasetWriter(tmp_path / "ds", small_meta)
    with pytest.raises(SchemaError, match="unknown camera.*belly_cam"):
        w.add_episode(ep)
    ep2 = _ep(small_meta, 1)
    ep2.features = {**ep2.features, "torque": np.zeros((ep2.num_frames, 3))}
    with pytest.raises(SchemaError, match="unknown feature.*torque"):
        w.add_episode(ep2)
    w.abort()


def test_frame_counts_that_disagree(tmp_path: Path, small_meta: DatasetMeta) -> None:
    ep = _ep(small_meta)
    ep.features = {**ep.features, "action": ep.features["action"][:-2]}
    with DatasetWriter(tmp_path / "a", small_meta) as w, pytest.raises(SchemaError, match="shape"):
        w.add_episode(ep)
    ep = _ep(small_meta)
    ep.images = {**ep.images, "head": list(ep.images["head"])[:-1]}
    with (
        DatasetWriter(tmp_path / "b", small_meta) as w,
        pytest.raises(SchemaError, match="camera 'head' has"),
    ):
        w.add_episode(ep)


def test_duplicate_episode_id_across_appends(tmp_path: Path, small_meta: DatasetMeta) -> None:
    with DatasetWriter(tmp_path / "ds", small_meta) as w:
        w.add_episode(_ep(small_meta))
    with (
        DatasetWriter(tmp_path / "ds", append=True) as w,
        pytest.raises(SchemaError, match="already in"),
    ):
        w.add_episode(_ep(small_meta))
    assert len(open_dataset(tmp_path / "ds")) == 1


def test_existing_dataset_and_foreign_directory_are_not_overwritten(
    tmp_path: Path, small_meta: DatasetMeta
) -> None:
    with DatasetWriter(tmp_path / "ds", small_meta) as w:
        w.add_episode(_ep(small_meta))
    with pytest.raises(DatasetExistsError):
        DatasetWriter(tmp_path / "ds", small_meta)
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(DatasetExistsError, match="not empty"):
        DatasetWriter(foreign, small_meta)
    assert (foreign / "holiday.jpg").read_bytes() == b"precious"


def test_incompatible_append_is_refused(tmp_path: Path, small_meta: DatasetMeta) -> None:
    with DatasetWriter(tmp_path / "ds", small_meta) as w:
        w.add_episode(_ep(small_meta))
    other = synth_meta(image_size=32, cameras=("head",))
    with pytest.raises(SchemaError, match="differ"):
        DatasetWriter(tmp_path / "ds", other, append=True)


def test_second_writer_is_locked_out(tmp_path: Path, small_meta: DatasetMeta) -> None:
    w = DatasetWriter(tmp_path / "ds", small_meta)
    w.add_episode(_ep(small_meta))
    with pytest.raises(DatasetLockedError):
        DatasetWriter(tmp_path / "ds", append=True)
    w.close()
    with DatasetWriter(tmp_path / "ds", append=True) as w2:
        w2.add_episode(_ep(small_meta, 1))
    assert len(open_dataset(tmp_path / "ds")) == 2


def test_abort_keeps_the_last_finalized_state(tmp_path: Path, small_meta: DatasetMeta) -> None:
    with DatasetWriter(tmp_path / "ds", small_meta) as w:
        w.add_episode(_ep(small_meta))
    digest = open_dataset(tmp_path / "ds").digest
    with pytest.raises(RuntimeError), DatasetWriter(tmp_path / "ds", append=True) as w:
        w.add_episode(_ep(small_meta, 1))
        raise RuntimeError("recorder crashed")
    ds = open_dataset(tmp_path / "ds")
    assert len(ds) == 1 and ds.digest == digest
    assert sorted(p.name for p in (tmp_path / "ds" / "data").iterdir()) == ["shard-000000.arrow"]


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="not an embodex dataset"):
        open_dataset(tmp_path)


def test_truncated_shard_is_named(small_dataset) -> None:  # type: ignore[no-untyped-def]
    shard = small_dataset.root / small_dataset.shard_names[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    ds = open_dataset(small_dataset.root)  # metadata is intact: opening works
    with pytest.raises(CorruptDatasetError, match="shard-000000.arrow is .* bytes"):
        ds.episode(0).feature("state")
    with pytest.raises(VerificationError) as info:
        ds.verify()
    assert any("shard-000000.arrow" in p for p in info.value.problems)


def test_flipped_byte_fails_verification(small_dataset) -> None:  # type: ignore[no-untyped-def]
    shard = small_dataset.root / small_dataset.shard_names[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="shard-000000.arrow: sha256 does not match"):
        open_dataset(small_dataset.root).verify()


def test_tampered_episode_table_is_refused_at_open(small_dataset) -> None:  # type: ignore[no-untyped-def]
    path = small_dataset.root / "episodes.arrow"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptDatasetError, match="episodes.arrow does not match"):
        open_dataset(small_dataset.root)


def test_newer_major_format_is_refused(small_dataset) -> None:  # type: ignore[no-untyped-def]
    from embodex.canonical import sha256_file
    from embodex.format.writer import dataset_digest

    root = small_dataset.root
    meta = json.loads((root / "embodex.json").read_text())
    meta["format_version"] = "2.0"
    (root / "embodex.json").write_text(json.dumps(meta))
    manifest = json.loads((root / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["path"] == "embodex.json":
            f["size"] = (root / "embodex.json").stat().st_size
            f["sha256"] = sha256_file(root / "embodex.json")
    from embodex.format import FileEntry

    manifest["digest"] = dataset_digest([FileEntry(**f) for f in manifest["files"]])
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UnsupportedFormatError, match="format 2.0"):
        open_dataset(root)
