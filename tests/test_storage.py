"""Storage backends: the same behaviour from a local folder, from S3 (moto's server) and from
a Hugging Face Hub dataset repo (tests/hub_server.py, driven by huggingface_hub itself)."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodex.errors import (
    ObjectNotFoundError,
    StorageError,
    StorageIntegrityError,
    UnsafeKeyError,
)
from embodex.storage.stores import FileStorage, S3Storage, Storage, open_storage, validate_key


@pytest.fixture(params=["file", "s3", "hf"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "file":
        yield open_storage(tmp_path / "store")
    else:
        yield open_storage(request.getfixturevalue(f"{request.param}_url"))


def test_open_storage_by_scheme(tmp_path: Path) -> None:
    assert isinstance(open_storage(tmp_path), FileStorage)
    assert isinstance(open_storage(tmp_path.as_uri()), FileStorage)
    assert open_storage(tmp_path.as_uri()).root == tmp_path  # type: ignore[attr-defined]
    s3 = open_storage("s3://bucket/some/prefix/")
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.url) == ("bucket", "some/prefix", "s3://bucket/some/prefix")
    with pytest.raises(StorageError, match="gs://"):
        open_storage("gs://bucket/x")


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a/.", "a\\b", "C:/x", "a\x00"]
)
def test_unsafe_keys_rejected(key: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafeKeyError):
        validate_key(key)
    with pytest.raises(UnsafeKeyError):
        FileStorage(tmp_path).put_bytes(key, b"x")
    assert list(tmp_path.iterdir()) == []


def test_safe_keys_accepted() -> None:
    for key in ("a", "data/shard-000001.arrow", "qc/manifest.json", "ep:1/x@y+z"):
        assert validate_key(key) == key


def test_round_trip(store: Storage) -> None:
    store.put_bytes("a/b.bin", b"hello world")
    store.put_bytes("a/c.bin", b"xyz")
    store.put_bytes("d.bin", b"")
    assert store.get_bytes("a/b.bin") == b"hello world"
    assert store.get_range("a/b.bin", 6, 5) == b"world"
    assert store.get_range("a/b.bin", 6, 100) == b"world"
    assert store.size("a/b.bin") == 11
    assert store.exists("a/c.bin") and not store.exists("a/zzz")
    listed = [(o.key, o.size) for o in store.list()]
    assert listed == [("a/b.bin", 11), ("a/c.bin", 3), ("d.bin", 0)]
    assert [o.key for o in store.list("a/")] == ["a/b.bin", "a/c.bin"]
    store.put_bytes("a/b.bin", b"replaced")
    assert store.get_bytes("a/b.bin") == b"replaced"
    store.delete("a/b.bin")
    store.delete("a/b.bin")  # already gone: no error
    assert not store.exists("a/b.bin")
    with pytest.raises(ObjectNotFoundError, match=r"a/b\.bin"):
        store.get_bytes("a/b.bin")


def test_upload_and_verified_download(store: Storage, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    data = bytes(range(256)) * 5000
    src.write_bytes(data)
    store.upload_file("objs/big.bin", src)
    digest = hashlib.sha256(data).hexdigest()
    dest = tmp_path / "out" / "big.bin"
    got = store.download_file("objs/big.bin", dest, size=len(data), sha256=digest)
    assert got == dest and dest.read_bytes() == data
    assert not dest.with_name("big.bin.incomplete").exists()


def test_download_resumes_from_incomplete_file(store: Storage, tmp_path: Path) -> None:
    data = b"0123456789" * 100_000
    store.put_bytes("x.bin", data)
    dest = tmp_path / "x.bin"
    part = tmp_path / "x.bin.incomplete"
    part.write_bytes(data[:123_457])  # an earlier download cut off here
    seen: list[int] = []
    store.download_file(
        "x.bin", dest, size=len(data), sha256=hashlib.sha256(data).hexdigest(), progress=seen.append
    )
    assert dest.read_bytes() == data
    assert sum(seen) == len(data) - 123_457  # only the missing tail was fetched


def test_download_rejects_wrong_hash_and_keeps_nothing(store: Storage, tmp_path: Path) -> None:
    store.put_bytes("x.bin", b"tampered content")
    dest = tmp_path / "x.bin"
    with pytest.raises(StorageIntegrityError, match="sha256"):
        store.download_file("x.bin", dest, sha256=hashlib.sha256(b"original").hexdigest())
    with pytest.raises(StorageIntegrityError, match="bytes, expected"):
        store.download_file("x.bin", dest, size=3)
    assert not dest.exists()
    assert not (tmp_path / "x.bin.incomplete").exists()


def test_download_missing_object(store: Storage, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.download_file("nope.bin", tmp_path / "nope.bin")
    assert not (tmp_path / "nope.bin").exists()


def test_s3_storage_pickles_without_client(s3_url: str) -> None:
    store = open_storage(s3_url)
    store.put_bytes("k", b"v")
    assert store.client is not None  # type: ignore[attr-defined]
    blob = pickle.dumps(store)
    assert b"botocore" not in blob and len(blob) < 500
    again = pickle.loads(blob)
    assert again.get_bytes("k") == b"v"


def test_s3_unreachable_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = open_storage("s3://bucket/prefix")
    with pytest.raises(StorageError, match="cannot reach") as info:
        store.get_bytes("manifest.json")
    assert "AWS_ENDPOINT_URL" in info.value.hint
