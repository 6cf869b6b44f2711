"""Copying episodes between datasets and updating episode metadata in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embodex.errors import SchemaError
from embodex.format import Dataset, DatasetWriter, copy_episodes, open_dataset


def test_copy_subset_keeps_frames_and_images_bit_exact(
    small_dataset: Dataset, tmp_path: Path
) -> None:
    ids = small_dataset.episode_ids[1:4]
    out = copy_episodes(small_dataset, tmp_path / "subset", ids)
    assert out.episode_ids == ids
    out.verify()
    for eid in ids:
        a, b = small_dataset.episode(eid), out.episode(eid)
        assert a.meta == b.meta
        np.testing.assert_array_equal(a.feature("action"), b.feature("action"))
        np.testing.assert_array_equal(a.timestamp_ns, b.timestamp_ns)
        assert a.images("head").all_encoded() == b.images("head").all_encoded()
        np.testing.assert_array_equal(a.image_timestamps_ns("head"), b.image_timestamps_ns("head"))
    # append the rest: ids stay unique and stable
    rest = [e for e in small_dataset.episode_ids if e not in ids]
    grown = copy_episodes(small_dataset, tmp_path / "subset", rest, append=True)
    assert sorted(grown.episode_ids) == sorted(small_dataset.episode_ids)
    with pytest.raises(SchemaError, match="already in"):
        copy_episodes(small_dataset, tmp_path / "subset", ids[:1], append=True)
    assert len(open_dataset(tmp_path / "subset")) == len(small_dataset)


def test_copy_rejects_unknown_ids(small_dataset: Dataset, tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not in"):
        copy_episodes(small_dataset, tmp_path / "x", ["nope"])
    assert not (tmp_path / "x" / "embodex.json").exists()


def test_update_episode_metadata_without_touching_frames(small_dataset: Dataset) -> None:
    root = small_dataset.root
    eid = small_dataset.episode_ids[2]
    shard_bytes = {p.name: p.read_bytes() for p in (root / "data").iterdir()}
    with DatasetWriter(root, append=True) as w:
        w.update_episodes(
            {
                eid: {
                    "success": False,
                    "failure_cause": "object_dropped",
                    "extra": {"revoked": "batch 3"},
                }
            }
        )
    ds = open_dataset(root)
    meta = ds.episode(eid).meta
    assert meta.success is False and meta.failure_cause == "object_dropped"
    assert meta.extra["revoked"] == "batch 3" and meta.extra["synthetic"] is True
    assert ds.digest != small_dataset.digest
    assert {p.name: p.read_bytes() for p in (root / "data").iterdir()} == shard_bytes
    ds.verify()
    with DatasetWriter(root, append=True) as w, pytest.raises(SchemaError, match="cannot update"):
        w.update_episodes({eid: {"frame_count": 3}})
    with DatasetWriter(root, append=True) as w, pytest.raises(SchemaError, match="not in"):
        w.update_episodes({"missing": {"success": True}})


def test_invalid_update_value_is_refused_immediately(small_dataset: Dataset) -> None:
    eid = small_dataset.episode_ids[0]
    with (
        DatasetWriter(small_dataset.root, append=True) as w,
        pytest.raises(SchemaError, match="invalid update"),
    ):
        w.update_episodes({eid: {"scene_type": "Not A Slug!"}})
    assert open_dataset(small_dataset.root).digest == small_dataset.digest
