"""Catalogues on a channel (a folder, and S3 on moto's server): publish, browse, pull back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import embodex
from embodex.errors import CatalogError, SamplePackError, SignatureError, StorageIntegrityError
from embodex.market import (
    build_catalog,
    build_sample_pack,
    default_price_sheet,
    open_catalog_url,
    publish_catalog,
    pull_sample,
)
from embodex.storage import open_storage
from embodex.trust import Signer, generate_key, load_signer

from ._market import qc_dataset
from ._trust import spoil
from .test_cli_format import run


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("publish") / "ds"
    qc_dataset(path, episodes=8, seed=31)
    return path


@pytest.fixture
def centre() -> Signer:
    generate_key("hubei-centre", "centre")
    return load_signer("hubei-centre")


@pytest.fixture
def catalog(dataset: Path, centre: Signer, tmp_path: Path) -> Path:
    out = tmp_path / "catalog"
    build_catalog([dataset], out, centre, prices=default_price_sheet())
    build_sample_pack(dataset, out / "sample", centre, per_cell=1, max_episodes=3)
    return out


@pytest.fixture(params=["folder", "s3"])
def channel(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "folder":
        return str(tmp_path / "channel")
    return str(request.getfixturevalue("s3_url"))


def test_publish_browse_and_pull(
    catalog: Path, centre: Signer, channel: str, tmp_path: Path
) -> None:
    report = publish_catalog(catalog, channel, centre)
    assert report.sample and report.removed == 0
    keys = [o.key for o in open_storage(channel).list("catalog/")]
    local = sorted(p.relative_to(catalog).as_posix() for p in catalog.rglob("*") if p.is_file())
    for rel in local:  # everything but the writer's and QC's lock and journal files
        if ".embodex/" not in rel and not rel.endswith(".lock"):
            assert f"catalog/{rel}" in keys
    assert "catalog/sample.json" in keys and "catalog/listing.json" in keys
    assert not any(".embodex/" in k or k.endswith(".lock") for k in keys)
    browsed = open_catalog_url(channel)
    assert browsed.digest == open_catalog_url(catalog).digest
    pack = pull_sample(channel, tmp_path / "pulled")
    ds = embodex.open_dataset(tmp_path / "pulled")
    assert len(ds) == 3 and ds.digest == pack.dataset_digest
    loaded = embodex.train.load(tmp_path / "pulled", horizon=10, qc="pass+warn")
    sample = loaded[0]
    assert sample["action"].shape == (10, 20) and np.isfinite(sample["state"]).all()
    assert "image.head" in sample


def test_republishing_removes_stale_sample_files(
    catalog: Path, centre: Signer, dataset: Path, tmp_path: Path
) -> None:
    channel = str(tmp_path / "channel")
    publish_catalog(catalog, channel, centre)
    shutil.rmtree(catalog / "sample")
    build_sample_pack(dataset, catalog / "sample", centre, per_cell=1, max_episodes=1)
    old = {o.key for o in open_storage(channel).list("catalog/sample/")}
    report = publish_catalog(catalog, channel, centre)
    new = {o.key for o in open_storage(channel).list("catalog/sample/")}
    assert report.removed == len(old - new) > 0
    assert len(embodex.open_dataset(pull_sample(channel, tmp_path / "p").path)) == 1


def test_tampering_on_the_channel_is_caught(catalog: Path, centre: Signer, tmp_path: Path) -> None:
    channel = tmp_path / "channel"
    publish_catalog(catalog, str(channel), centre)
    shard = next((channel / "catalog" / "sample" / "data").glob("shard-*.arrow"))
    good = shard.read_bytes()
    shard.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(StorageIntegrityError):
        pull_sample(str(channel), tmp_path / "p1")
    assert not (tmp_path / "p1").exists()
    shard.write_bytes(good)
    manifest = channel / "catalog" / "sample.json"
    env = json.loads(manifest.read_text())
    env["signatures"][0]["sig"] = spoil(env["signatures"][0]["sig"])
    manifest.write_text(json.dumps(env))
    with pytest.raises(SignatureError):
        pull_sample(str(channel), tmp_path / "p2")
    listing = channel / "catalog" / "listing.json"
    listing.write_text(listing.read_text().replace('"payload": "', '"payload": "e', 1))
    with pytest.raises(SignatureError):
        open_catalog_url(str(channel))
    with pytest.raises(CatalogError, match="missing"):
        open_catalog_url(str(tmp_path / "nowhere"))
    with pytest.raises(SamplePackError, match="already exists"):
        pull_sample(str(channel), tmp_path)


def test_publish_and_pull_from_the_cli(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = str(tmp_path / "channel")
    code, out, err = run(
        ["catalog", "publish", str(catalog), channel, "--key", "hubei-centre"], capsys
    )
    assert code == 0, err
    assert "with the sample pack" in out
    code, out, _ = run(["catalog", "show", channel], capsys)
    assert code == 0 and "verified" in out
    code, out, err = run(["catalog", "pull", channel, "-o", str(tmp_path / "pulled")], capsys)
    assert code == 0, err
    assert "3 episodes" in out
    code, out, _ = run(["load", str(tmp_path / "pulled"), "--horizon", "5", "--qc", "all"], capsys)
    assert code == 0 and "3 episodes" in out
