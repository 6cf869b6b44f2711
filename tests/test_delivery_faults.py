"""Faults: a pull killed mid-download, a publish cut short, the S3 endpoint going away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embodex.delivery import publish, pull
from embodex.delivery.buyer_store import BuyerStore
from embodex.delivery.documents import HEAD_KEY, manifest_key
from embodex.errors import StorageError
from embodex.format import open_dataset
from embodex.storage import FileStorage, open_storage
from embodex.train import load
from embodex.trust import Ledger, ledger_path

from ._delivery import PROFILE, Crash, at, centre_dataset, contract, uploads_die_after
from .conftest import _free_port, start_moto

HELPER = Path(__file__).with_name("_kill_puller.py")
SHARD = "dataset/data/shard-000000.arrow"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_pull_killed_mid_download_resumes_without_fetching_finished_files(
    tmp_path: Path,
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    pull(url, terms, buyer, store, now=at(5, 12))
    centre_dataset(src, 18, first=3)  # batch 2: a 2.6 MB shard, fetched in 1 MiB chunks
    publish(src, url, terms, centre, profile=PROFILE, now=at(6))
    incoming = BuyerStore(store).incoming(2)
    shard_size = open_storage(url).size(f"batches/000002/{SHARD}")
    part = incoming / (SHARD + ".incomplete")
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), url, str(terms), str(store), at(6, 12).isoformat(), "0.4"],
        stdout=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [p for p in incoming.rglob("*") if p.is_file() and p.suffix == ".json"]
            size = part.stat().st_size if part.exists() else 0
            if 1 << 20 <= size < shard_size and done:
                break
            assert proc.poll() is None, "the pull finished before it could be killed"
            time.sleep(0.02)
        else:
            raise AssertionError("the pull never reached the middle of the shard")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    on_disk = {p: p.stat().st_size for p in incoming.rglob("*") if p.is_file()}
    finished = [p for p in on_disk if p.name.endswith((".json", ".arrow"))]
    assert finished, "no file was complete at the kill"
    assert 0 < on_disk[part] < shard_size  # the shard was cut mid-way
    had = sum(n for p, n in on_disk.items() if not p.name.endswith(".lock"))
    # while the pull is dead half-way, the local dataset is intact and loads
    assert len(open_dataset(store / "dataset")) == 3
    assert len(load(store / "dataset", horizon=5, cameras=[])) > 0
    report = pull(url, terms, buyer, store, now=at(6, 13))
    (b,) = report.batches
    assert b.reused_files >= len(finished)
    listed = {o.key: o.size for o in open_storage(url).list("batches/000002/")}
    listed.pop(manifest_key(2))
    # the resumed pull fetched the missing bytes only: not the finished files, not the
    # parts of files already on disk
    assert b.bytes == sum(listed.values()) - had
    assert b.outcome == "accepted" and len(open_dataset(store / "dataset")) == 21
    assert len(load(store / "dataset", horizon=5, cameras=[])) > 0


def test_publish_cut_before_the_head_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 3)
    real_put = FileStorage.put_bytes

    def put(self: FileStorage, key: str, data: bytes) -> None:
        if key == HEAD_KEY:
            raise Crash
        real_put(self, key, data)

    monkeypatch.setattr(FileStorage, "put_bytes", put)
    with pytest.raises(Crash):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    monkeypatch.setattr(FileStorage, "put_bytes", real_put)
    store = open_storage(url)
    assert store.exists(manifest_key(1)) and not store.exists(HEAD_KEY)
    # a reader sees no batch: nothing names it
    assert pull(url, terms, buyer, tmp_path / "buyer", now=at(5, 11)).batches == []
    centre_dataset(src, 2, first=3)  # more episodes recorded meanwhile
    again = publish(src, url, terms, centre, profile=PROFILE, now=at(5, 12))
    assert any("finished batch 1" in r for r in again.recovered)
    assert again.number == 2 and len(again.episodes) == 2  # batch 1's episodes not re-sent
    report = pull(url, terms, buyer, tmp_path / "buyer", now=at(5, 13))
    assert [b.episodes for b in report.batches] == [3, 2]
    published = [
        e for e in Ledger(ledger_path("hubei-centre")).entries() if e.kind == "batch-published"
    ]
    assert len(published) == 2


def test_publish_cut_mid_upload_resumes_and_never_resends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 3)
    with uploads_die_after(3) as calls, pytest.raises(Crash):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5), workers=1)
    first_try = set(calls[:3])
    resumed: list[str] = []
    result = publish(
        src, url, terms, centre, profile=PROFILE, now=at(5, 11), workers=1,
        on_file=lambda key, _n: resumed.append(key),
    )  # fmt: skip
    assert any("resumed batch 1" in r for r in result.recovered)
    assert result.number == 1 and len(result.episodes) == 3
    assert not first_try & set(resumed)  # files stored before the crash are not sent again
    assert pull(url, terms, buyer, tmp_path / "buyer", now=at(5, 12)).batches[0].accepted == 3


def test_publish_cleans_up_objects_nothing_records(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 2)
    store = open_storage(url)
    store.put_bytes("batches/000001/dataset/data/shard-000000.arrow", b"left by a dead run")
    result = publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    assert any("removed 1 object" in r for r in result.recovered)
    assert pull(url, terms, buyer, tmp_path / "buyer", now=at(5, 11)).batches[0].accepted == 2


# -- the S3 endpoint stopped mid-transfer --------------------------------------------------


class _Moto:
    """moto_server in its own process on a fixed port, to stop and start again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = start_moto(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Moto]:
    if os.environ.get("EMBODEX_TEST_S3_ENDPOINT"):
        pytest.skip("stopping the endpoint needs the test's own moto server")
    moto = _Moto()
    moto.start()
    for name, value in {
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield moto
    finally:
        moto.stop()


def _bucket(name: str) -> Any:
    import boto3

    client = boto3.session.Session().client("s3")
    client.create_bucket(Bucket=name)
    return client


def test_s3_endpoint_stopped_mid_transfer_fails_clearly_and_resumes(
    own_moto: _Moto, tmp_path: Path
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, store = tmp_path / "centre", tmp_path / "buyer"
    centre_dataset(src, 12)
    bucket = f"outage-{uuid.uuid4().hex[:8]}"
    _bucket(bucket)
    url = f"s3://{bucket}/channel"
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    channel = open_storage(url)
    saved = {o.key: channel.get_bytes(o.key) for o in channel.list()}
    chunks: list[int] = []

    def stop_after_first_chunk(n: int) -> None:
        chunks.append(n)
        if len(chunks) == 1:
            own_moto.stop()  # the endpoint dies while files are in flight

    with pytest.raises(StorageError, match="cannot reach the S3 endpoint") as info:
        pull(url, terms, buyer, store, now=at(5, 12), workers=2, attempts=2,
             on_bytes=stop_after_first_chunk)  # fmt: skip
    assert "gave up after 2 attempts" in info.value.message
    assert "run again" in info.value.hint.lower()
    assert not (store / "dataset").exists()
    state = BuyerStore(store).load_state()
    assert state.current is not None and state.current.stage == "downloading"
    kept = [p for p in BuyerStore(store).incoming(1).rglob("*") if p.is_file()]
    assert kept, "nothing downloaded before the outage was kept"
    # the endpoint comes back with the same objects; a re-run resumes
    own_moto.start()
    client = _bucket(bucket)
    for key, data in saved.items():
        client.put_object(Bucket=bucket, Key=f"channel/{key}", Body=data)
    report = pull(url, terms, buyer, store, now=at(5, 13))
    (b,) = report.batches
    assert b.outcome == "accepted" and b.accepted == 12
    assert b.reused_files >= 1 or b.bytes < sum(len(v) for v in saved.values())
    assert len(open_dataset(store / "dataset")) == 12
