"""Bad input to the loader: clear errors naming what is wrong, before training starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from embodex.errors import (
    CorruptDatasetError,
    DatasetNotFoundError,
    LoaderConfigError,
    QCManifestMissingError,
)
from embodex.format import open_dataset
from embodex.train import load

from ._train_data import module_dataset, write_qc_manifest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return module_dataset(tmp_path_factory, "errs", episodes=4)


@pytest.fixture
def root(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "ds"))


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        load(tmp_path, qc="all")


def test_unknown_feature_and_camera(root: Path) -> None:
    with pytest.raises(LoaderConfigError, match="feature 'joint_pos' does not exist") as info:
        load(root, qc="all", features=["state", "joint_pos"])
    assert "action" in info.value.hint and "state" in info.value.hint
    with pytest.raises(LoaderConfigError, match="camera 'wrist'"):
        load(root, qc="all", cameras=["wrist"])
    with pytest.raises(LoaderConfigError, match="'gripper'"):
        load(root, qc="all", delta_timestamps={"gripper": [0.0]})


def test_bad_windows(root: Path) -> None:
    longest = max(e.frame_count for e in open_dataset(root))
    with pytest.raises(LoaderConfigError, match=f"longest has {longest} frames"):
        load(root, qc="all", horizon=longest + 1)
    load(root, qc="all", horizon=longest)  # as long as the longest episode is fine (padded)
    with pytest.raises(LoaderConfigError, match="history=0"):
        load(root, qc="all", history=0)
    with pytest.raises(LoaderConfigError, match="not both"):
        load(root, qc="all", horizon=5, delta_timestamps={"action": [0.0]})
    with pytest.raises(LoaderConfigError, match="not a whole number of frames"):
        load(root, qc="all", delta_timestamps={"action": [0.0, 0.01]})


def test_predicate_over_unknown_field(root: Path) -> None:
    with pytest.raises(LoaderConfigError, match="'scene'") as info:
        load(root, qc="all", episodes=lambda ep: ep.scene == "S01")
    assert "scene_type" in info.value.hint
    with pytest.raises(LoaderConfigError, match="'scene'"):
        load(root, qc="all", episodes=lambda ep: ep.get("scene") == "S01")
    with pytest.raises(LoaderConfigError, match="'colour'"):
        load(root, qc="all", episodes={"colour": "red"})
    with pytest.raises(LoaderConfigError, match="not in the dataset"):
        load(root, qc="all", episodes=["centre:nope"])
    with pytest.raises(LoaderConfigError, match="no episode .* is left"):
        load(root, qc="all", episodes={"skill": "juggling"})


def test_qc_manifest_required_unless_all(root: Path) -> None:
    with pytest.raises(QCManifestMissingError, match="qc/manifest.json") as info:
        load(root)
    # Python advice for a Python caller (the CLI says `embodex qc run`, test_cli_train)
    assert "run_qc(dataset)" in info.value.hint and "qc='all'" in info.value.hint
    with pytest.raises(LoaderConfigError, match="qc='good'"):
        load(root, qc="good")


def test_qc_manifest_for_another_dataset_or_malformed(root: Path) -> None:
    ids = open_dataset(root).episode_ids
    write_qc_manifest(root, dict.fromkeys(ids, "PASS"), digest="sha256:" + "0" * 64)
    with pytest.raises(LoaderConfigError, match="stale QC"):
        load(root)
    (root / "qc" / "manifest.json").write_text("{not json")
    with pytest.raises(LoaderConfigError, match="not valid JSON"):
        load(root)
    (root / "qc" / "manifest.json").write_text(
        json.dumps({"episodes": [{"episode_id": ids[0], "verdict": "MAYBE"}]})
    )
    with pytest.raises(LoaderConfigError, match="MAYBE"):
        load(root)


def test_metadata_not_matching_manifest(root: Path) -> None:
    meta = root / "embodex.json"
    meta.write_text(meta.read_text().replace("synthetic-humanoid", "synthetic-humanoiD"))
    with pytest.raises(CorruptDatasetError, match="embodex.json"):
        load(root, qc="all")


def test_truncated_shard_found_at_load(root: Path) -> None:
    shard = sorted((root / "data").glob("shard-*.arrow"))[-1]
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(CorruptDatasetError, match=shard.name):
        load(root, qc="all")
    shard.unlink()
    with pytest.raises(CorruptDatasetError, match=f"{shard.name} is missing"):
        load(root, qc="all")


def _flip_image_byte(root: Path) -> tuple[Path, int]:
    """Damage the JPEG of frame 5 of episode 0, in place (same size)."""
    ds = open_dataset(root)
    ep = ds.episode(0)
    shard = root / ep.row["shard"]
    data = bytearray(shard.read_bytes())
    jpeg = ep.images("head").encoded(5) or b""
    at = bytes(data).index(jpeg)
    data[at + 2 : at + 40] = b"\x00" * 38  # wipe the JPEG header segments
    shard.write_bytes(bytes(data))
    return shard, 5


def test_bit_flip_found_by_verify(root: Path) -> None:
    shard, _ = _flip_image_byte(root)
    with pytest.raises(CorruptDatasetError, match=f"{shard.name} does not match its sha256"):
        load(root, qc="all", verify=True)


def test_corrupt_image_met_during_training(root: Path) -> None:
    shard, frame = _flip_image_byte(root)
    ds = load(root, qc="all", cameras=["head"])  # sizes match: found when the frame is read
    ds[frame + 1]
    with pytest.raises(CorruptDatasetError, match=rf"{shard.name}.*frame {frame} image\.head"):
        ds[frame]
    ds.get_batch([frame + 1, frame + 2])
    for threads in (1, 2):  # a batch names the same frame, decoded here or in a pool
        pooled = load(root, qc="all", cameras=["head"], decode_threads=threads)
        with pytest.raises(CorruptDatasetError, match=rf"{shard.name}.*frame {frame} image\.head"):
            pooled.get_batch([0, frame + 1, frame, 2])
