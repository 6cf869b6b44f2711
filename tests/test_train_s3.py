"""Streaming from S3 (moto's server in its own process, or EMBODEX_TEST_S3_ENDPOINT): shards
arrive in a verified local cache on demand and ahead of demand; a damaged object is found
before it is used."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from embodex.errors import CorruptDatasetError, DatasetNotFoundError, QCManifestMissingError
from embodex.format import open_dataset
from embodex.storage.stores import open_storage
from embodex.train import load

from ._train_data import module_dataset, upload_dataset, write_qc_manifest


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return module_dataset(tmp_path_factory, "s3src", episodes=6)


def _wait_until(cond, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_stream_matches_local_and_cache_is_verified(
    local: Path, s3_url: str, tmp_path: Path
) -> None:
    upload_dataset(local, s3_url)
    cache = tmp_path / "cache"
    remote = load(s3_url, qc="all", cameras=["head"], horizon=5, cache_dir=cache)
    here = load(local, qc="all", cameras=["head"], horizon=5)
    assert len(remote) == len(here) and remote.episode_ids == here.episode_ids
    for i in (0, 17, len(here) // 2, len(here) - 1):
        a, b = remote[i], here[i]
        for key in ("state", "action", "action_is_pad", "image.head"):
            assert np.array_equal(a[key], b[key])
    # every shard lands in the content-addressed cache, named by its (checked) sha256
    manifest = open_dataset(local).manifest
    shards = [f for f in manifest.files if f.path.startswith("data/")]
    assert _wait_until(
        lambda: all((cache / "objects" / f.sha256[:2] / f.sha256).exists() for f in shards)
    )
    for f in shards:
        blob = (cache / "objects" / f.sha256[:2] / f.sha256).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == f.sha256
    assert not list(cache.rglob("*.incomplete"))
    assert remote.stats == here.stats


def test_training_starts_before_the_dataset_is_local(
    local: Path, s3_url: str, tmp_path: Path
) -> None:
    """Shards are fetched on demand: with the last shard gone from the store, samples from
    the others are served, and the missing one is reported by name when reached."""
    upload_dataset(local, s3_url)
    ref = open_dataset(local)
    last = ref.shard_names[-1]
    open_storage(s3_url).delete(last)
    ds = load(s3_url, qc="all", cameras=[], cache_dir=tmp_path / "cache", prefetch=1)
    first_ep = 0
    assert ds[0]["episode_id"] == ref.episode(first_ep).episode_id
    in_last = next(k for k, s in enumerate(ds._shard) if s == last)
    with pytest.raises(CorruptDatasetError, match=f"{last} is missing"):
        ds[int(ds.episode_starts[in_last])]


def test_corrupted_object_detected_and_not_cached(local: Path, s3_url: str, tmp_path: Path) -> None:
    upload_dataset(local, s3_url)
    ref = open_dataset(local)
    bad = ref.shard_names[0]
    data = bytearray((local / bad).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte
    open_storage(s3_url).put_bytes(bad, bytes(data))
    cache = tmp_path / "cache"
    ds = load(s3_url, qc="all", cameras=[], cache_dir=cache)
    with pytest.raises(CorruptDatasetError, match=f"shard {bad} .* does not match") as info:
        ds[0]
    assert "upload the shard again" in info.value.hint
    entry = next(f for f in ref.manifest.files if f.path == bad)
    assert not (cache / "objects" / entry.sha256[:2] / entry.sha256).exists()
    # the same damage found up front when asked to verify everything
    with pytest.raises(CorruptDatasetError, match=bad):
        load(s3_url, qc="all", cameras=[], cache_dir=tmp_path / "cache2", verify=True)


def test_tampered_metadata_refused(local: Path, s3_url: str, tmp_path: Path) -> None:
    upload_dataset(local, s3_url)
    store = open_storage(s3_url)
    text = store.get_bytes("embodex.json").replace(b"synthetic-humanoid", b"synthetic-humanoiD")
    store.put_bytes("embodex.json", text)
    with pytest.raises(CorruptDatasetError, match="embodex.json does not match"):
        load(s3_url, qc="all", cache_dir=tmp_path / "cache")
    with pytest.raises(DatasetNotFoundError):
        load(s3_url + "-nothing-here", qc="all", cache_dir=tmp_path / "cache")


def test_qc_manifest_read_from_the_store(local: Path, s3_url: str, tmp_path: Path) -> None:
    import shutil

    root = Path(shutil.copytree(local, tmp_path / "ds"))
    upload_dataset(root, s3_url)
    with pytest.raises(QCManifestMissingError):
        load(s3_url, cache_dir=tmp_path / "cache")
    ids = open_dataset(root).episode_ids
    write_qc_manifest(root, {i: ("FAIL" if n % 2 else "PASS") for n, i in enumerate(ids)})
    upload_dataset(root, s3_url)
    assert load(s3_url, cache_dir=tmp_path / "cache").episode_ids == ids[::2]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_streamed_dataset_in_dataloader_workers(
    local: Path, s3_url: str, tmp_path: Path, context: str
) -> None:
    upload_dataset(local, s3_url)
    ds = load(s3_url, qc="all", cameras=["head"], cache_dir=tmp_path / "cache", prefetch=1)
    loader = DataLoader(ds.torch(), batch_size=32, num_workers=2, multiprocessing_context=context)
    seen = [i for batch in loader for i in batch["index"].tolist()]
    assert seen == list(range(len(ds)))
