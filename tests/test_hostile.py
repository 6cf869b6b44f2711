"""The hostile-channel suite: a table of attacks, each against a channel with a history.

Every attack is a small function that damages the channel, the dataset or an input file of
a trade with a published history (batch 1 published, pulled and installed by the buyer, the
head refreshed and seen, batch 2 published and not yet pulled). Then the victim's command
runs as a user runs it (``embodex …`` through ``main``), on a folder channel and on S3
(moto's server), and the test asserts: the exact refusal (a fragment of the one-line error),
a non-zero exit, no traceback, and that nothing the victim owned changed (every file hashed
before and after). Attacks that a store rejects by design rather than refuse (a batch whose
bytes do not match its signed manifest is *rejected*, with a receipt saying why) assert the
rejection, that nothing of it was installed and that the download stopped at the declared
size. specs/channel.md §11 lists each attack with the check that stops it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from embodex import parsing
from embodex.config import ledger_dir
from embodex.delivery import open_channel, publish, pull, refresh_channel
from embodex.delivery.documents import (
    HEAD_KEY,
    BatchManifest,
    ChannelHead,
    batch_prefix,
    manifest_key,
)
from embodex.delivery.heads import issue_head
from embodex.fsutil import file_mode
from embodex.storage import open_storage
from embodex.storage.stores import S3Storage, Storage
from embodex.trust import PAYLOAD_TYPES, Signer, generate_key, load_signer, sign_model, sign_payload

from ._delivery import PROFILE, at, centre_dataset, contract
from .test_cli_format import run

BACKENDS = ("folder", "s3")
T = {day: at(day).isoformat() for day in range(0, 60)}


@dataclass
class World:
    """A trade with a history: batch 1 installed, the head refreshed, batch 2 waiting."""

    tmp: Path
    url: str
    terms: Path
    centre: Signer
    buyer: Signer
    src: Path
    store: Path
    profile: Path
    heads: list[bytes] = field(default_factory=list)  # every head signed, in order

    @property
    def channel(self) -> Storage:
        return open_storage(self.url)

    def pull_cmd(self, day: int = 8, *extra: str) -> list[str]:
        return [
            "pull", "--channel", self.url, "--contract", str(self.terms), "--key", "agibot",
            "--into", str(self.store), "--at", T[day], *extra,
        ]  # fmt: skip

    def publish_cmd(self, day: int = 9) -> list[str]:
        return [
            "publish", str(self.src), "--channel", self.url, "--contract", str(self.terms),
            "--key", "hubei-centre", "--profile", str(self.profile), "--at", T[day],
        ]  # fmt: skip

    def shard_key(self, batch: int) -> str:
        return f"{batch_prefix(batch)}/dataset/data/shard-000000.arrow"


def _build(tmp: Path, backend: str, url: str) -> World:
    """The history, made on a folder channel; for S3 the channel's objects are then copied
    to ``url`` (a channel names nothing by its own URL, specs/channel.md §1): the attacks
    and the victim's commands run against S3, without paying moto for the setup."""
    if backend == "folder":
        return _build_on(tmp, url)
    w = _build_on(tmp, str(tmp / "channel"))
    source, target = open_storage(w.url), open_storage(url)
    for obj in source.list():
        target.put_bytes(obj.key, source.get_bytes(obj.key))
    w.url = url
    return w


def _build_on(tmp: Path, url: str) -> World:
    terms, centre, buyer = contract(tmp)
    src, store = tmp / "centre", tmp / "buyer"
    profile = tmp / "profile.yaml"
    profile.write_text(json.dumps(PROFILE.content))
    w = World(tmp, url, terms, centre, buyer, src, store, profile)
    centre_dataset(src, 3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    w.heads.append(w.channel.get_bytes(HEAD_KEY))
    pull(url, terms, buyer, store, now=at(6))
    refresh_channel(url, terms, centre, now=at(6))
    w.heads.append(w.channel.get_bytes(HEAD_KEY))
    pull(url, terms, buyer, store, now=at(6))  # the buyer has seen sequence 2
    centre_dataset(src, 2, first=3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(7))
    w.heads.append(w.channel.get_bytes(HEAD_KEY))
    return w


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The history built once per session (its own EMBODEX_HOME inside it); each test gets
    a copy (:func:`_fresh`): the attacks damage their copy only."""
    base = tmp_path_factory.mktemp("hostile-history")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBODEX_HOME", str(base / "home"))
        return _build_on(base, str(base / "channel"))


def _fresh(request: pytest.FixtureRequest, tmp: Path, backend: str) -> World:
    """A copy of the session's history in ``tmp``, this test's EMBODEX_HOME pointing at its
    copy of the parties' keys, ledgers and outbox; on S3 the channel's objects are copied to
    a fresh prefix (a channel names nothing by its own URL, specs/channel.md §1)."""
    template: World = request.getfixturevalue("_template")
    base = template.tmp
    shutil.copytree(base, tmp, symlinks=True, dirs_exist_ok=True)
    request.getfixturevalue("monkeypatch").setenv("EMBODEX_HOME", str(tmp / "home"))
    url = str(tmp / "channel")
    # the centre's outbox is named after the channel's URL: the copy's is another
    boxes = tmp / "home" / "outbox"
    old = boxes / _box_name(template.url)
    old.rename(boxes / _box_name(url))
    (boxes / _box_name(url) / "url").write_text(open_storage(url).url, encoding="utf-8")
    w = World(
        tmp, url, tmp / template.terms.relative_to(base), load_signer("hubei-centre"),
        load_signer("agibot"), tmp / "centre", tmp / "buyer", tmp / "profile.yaml",
        list(template.heads),
    )  # fmt: skip
    if backend == "s3":
        s3 = request.getfixturevalue("s3_url")
        source, target = open_storage(url), open_storage(s3)
        for obj in source.list():
            target.put_bytes(obj.key, source.get_bytes(obj.key))
        w.url = s3
    return w


def _box_name(url: str) -> str:
    return hashlib.sha256(open_storage(url).url.encode()).hexdigest()[:16]


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    return _fresh(request, tmp_path, request.param)


# -- what the victim owns, hashed -------------------------------------------------------------


def _snapshot(paths: list[Path]) -> dict[str, str]:
    """sha256 of every file below ``paths`` (links recorded as their target, the buyer's
    ``dataset`` link followed to its generation); lock files left out."""
    out: dict[str, str] = {}
    for root in paths:
        base = root.resolve() if root.is_symlink() else root
        if not base.exists():
            continue
        for dirpath, dirs, files in os.walk(base):
            for name in [*files, *(d for d in dirs if (Path(dirpath) / d).is_symlink())]:
                p = Path(dirpath) / name
                key = f"{root.name}/{p.relative_to(base)}"
                if name in ("lock",) or name.endswith(".lock"):
                    continue
                if p.is_symlink():
                    out[key] = "link:" + os.readlink(p)
                else:
                    out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _channel_snapshot(w: World) -> dict[str, str]:
    if not w.url.startswith("s3://"):
        return _snapshot([Path(w.url)])
    # one listing: S3's ETags (MD5 of each object's content) stand in for the hashes
    store = w.channel
    assert isinstance(store, S3Storage)
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=store.prefix + "/"
    )
    return {
        o["Key"]: f"{o['Size']}:{o['ETag']}" for page in pages for o in page.get("Contents", [])
    }


def _buyer(w: World) -> list[Path]:
    return [w.store, ledger_dir()]


def _buyer_data(w: World) -> list[Path]:
    """What the buyer owns apart from the pull's own resume state (``.pull/``: the newest
    head seen, a batch's partial downloads), which a refusal mid-download may advance."""
    return [w.store / "dataset", w.store / "receipts", w.store / "quarantine", ledger_dir()]


# -- damage -----------------------------------------------------------------------------------


def _resign_manifest(w: World, number: int, **changes: Any) -> tuple[BatchManifest, str, bytes]:
    """Batch ``number``'s manifest changed and signed again with the centre's key."""
    ch = open_channel(w.url, w.terms, at=at(8))
    manifest, _, _ = ch.read_manifest(number, None)
    forged = manifest.model_copy(update=changes)
    data = sign_model("batch-manifest", forged, w.centre).to_json_bytes()
    return forged, "sha256:" + hashlib.sha256(_payload(data)).hexdigest(), data


def _payload(envelope: bytes) -> bytes:
    return base64.b64decode(json.loads(envelope)["payload"])


def _head(w: World) -> ChannelHead:
    ch = open_channel(w.url, w.terms, at=at(8))
    got = ch.read_head()
    assert got is not None
    return got.head


def delete_head(w: World) -> None:
    w.channel.delete(HEAD_KEY)


def head_becomes_directory(w: World) -> None:
    head = Path(w.url) / HEAD_KEY
    head.unlink()
    head.mkdir()


def pad_head(w: World) -> None:
    w.channel.put_bytes(HEAD_KEY, w.heads[-1] + b" " * (70 * 1024))


def replay_old_head(w: World) -> None:
    w.channel.put_bytes(HEAD_KEY, w.heads[0])


def deep_json_head(w: World) -> None:
    w.channel.put_bytes(HEAD_KEY, b"[" * 30_000 + b"]" * 30_000)


def non_utf8_head(w: World) -> None:
    w.channel.put_bytes(HEAD_KEY, b'{"payload": "\xff\xfe\xfd", "payloadType": "x"}')


def head_by_another_key(w: World) -> None:
    generate_key("mallory", "centre")
    forged = _head(w).model_copy(update={"sequence": 9})
    w.channel.put_bytes(
        HEAD_KEY, sign_model("channel-head", forged, load_signer("mallory")).to_json_bytes()
    )


def head_schema_broken(w: World) -> None:
    # signed by the centre's own key, but not a head: the payload breaks the schema
    doc = json.loads(_payload(w.heads[-1]))
    doc["sequence"] = "many"
    w.channel.put_bytes(
        HEAD_KEY,
        sign_payload(PAYLOAD_TYPES["channel-head"], doc, w.centre).to_json_bytes(),
    )


def fork_history(w: World) -> None:
    """The centre (or whoever holds its key) rewrites batch 1 — installed by the buyer — and
    everything after it, signed: a consistent, validly signed, different history."""
    _, d1, data1 = _resign_manifest(w, 1, published_at=at(5).replace(minute=1))
    m2, d2, data2 = _resign_manifest(w, 2, previous=d1)
    ch = open_channel(w.url, w.terms, at=at(8))
    w.channel.put_bytes(manifest_key(1), data1)
    w.channel.put_bytes(manifest_key(2), data2)
    head = issue_head(
        _head(w), channel_id=m2.channel_id, channel=ch, signer=w.centre, now=at(8),
        batch=(2, d2),
    )  # fmt: skip
    w.channel.put_bytes(HEAD_KEY, head.data)


def replace_manifest_after_head(w: World) -> None:
    _, _, data = _resign_manifest(w, 2, published_at=at(7).replace(minute=1))
    w.channel.put_bytes(manifest_key(2), data)


def unsafe_path_in_batch(w: World) -> None:
    ch = open_channel(w.url, w.terms, at=at(8))
    manifest, _, _ = ch.read_manifest(2, None)
    doc = manifest.model_dump(mode="json")
    doc["files"][0]["path"] = "dataset/../../../outside-secret.txt"
    w.channel.put_bytes(
        manifest_key(2),
        sign_payload(PAYLOAD_TYPES["batch-manifest"], doc, w.centre).to_json_bytes(),
    )


def pad_batch_manifest(w: World) -> None:
    data = w.channel.get_bytes(manifest_key(2))
    w.channel.put_bytes(manifest_key(2), data + b" " * (2 * 1024 * 1024))


def shard_served_larger(w: World) -> None:
    key = w.shard_key(2)
    w.channel.put_bytes(key, w.channel.get_bytes(key) + os.urandom(3 * 1024 * 1024))


def flip_shard_byte(w: World) -> None:
    key = w.shard_key(2)
    data = bytearray(w.channel.get_bytes(key))
    data[len(data) // 2] ^= 0xFF
    w.channel.put_bytes(key, bytes(data))


def shard_is_symlink(w: World) -> None:
    shard = Path(w.url) / w.shard_key(2)
    shard.unlink()
    shard.symlink_to(w.src / "embodex.json")


def tamper_buyer_ledger(w: World) -> None:
    path = ledger_dir() / "agibot.jsonl"
    lines = path.read_bytes().splitlines()
    last = json.loads(lines[-1])
    last["note"] = "edited afterwards"
    lines[-1] = json.dumps(last, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")


def symlink_into_centre_data(w: World) -> None:
    centre_dataset(w.src, 2, first=5)
    (Path(w.url) / batch_prefix(3)).symlink_to(w.src, target_is_directory=True)


def damaged_source_shard(w: World) -> None:
    centre_dataset(w.src, 2, first=5)
    newest = sorted((w.src / "data").glob("shard-*.arrow"))[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))


def _rewrite_src_manifest(w: World, path: str) -> None:
    manifest = json.loads((w.src / "manifest.json").read_text())
    manifest["files"].append({"path": path, "size": 3, "sha256": "0" * 64})
    (w.src / "manifest.json").write_text(json.dumps(manifest))


def traversal_in_dataset_manifest(w: World) -> None:
    (w.tmp / "outside-secret.txt").write_text("pin")
    _rewrite_src_manifest(w, "../outside-secret.txt")


def absolute_path_in_dataset_manifest(w: World) -> None:
    _rewrite_src_manifest(w, "/etc/passwd")


def broken_dataset_manifest(w: World) -> None:
    (w.src / "manifest.json").write_text(json.dumps({"files": "all of them", "digest": "x"}))


def _input(w: World, text: str | bytes) -> None:
    folder = w.tmp / "inputs"
    folder.mkdir(exist_ok=True)
    target = folder / "contract.yaml"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text)


def billion_laughs(w: World) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    _input(w, "\n".join(lines) + "\n")


def deep_yaml(w: World) -> None:
    _input(w, "x: " + "[" * 5000 + "]" * 5000 + "\n")


def non_utf8_yaml(w: World) -> None:
    _input(w, b"contract_id: caf\xe9\n")


def huge_price(w: World) -> None:
    text = (w.tmp / "contract.yaml").read_text()
    doc_lines = []
    for line in text.splitlines():
        if line.strip().startswith("per_accepted_hour:"):
            indent = line[: len(line) - len(line.lstrip())]
            line = f'{indent}per_accepted_hour: "1{"0" * 30}"'
        doc_lines.append(line)
    _input(w, "\n".join(doc_lines) + "\n")


def oversized_yaml(w: World) -> None:
    _input(w, "# padding\n" * (parsing.MAX_INPUT_BYTES // 10 + 1))


# -- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    name: str
    damage: Callable[[World], None]
    command: Callable[[World], list[str]]
    refusal: str
    victims: Callable[[World], list[Path]] = _buyer
    backends: tuple[str, ...] = BACKENDS
    #: the store rejects the batch (exit 0, a receipt saying why) instead of refusing
    rejects: bool = False


def _pull(w: World) -> list[str]:
    return w.pull_cmd()


def _sign_input(w: World) -> list[str]:
    return ["contract", "sign", str(w.tmp / "inputs" / "contract.yaml"), "--key", "hubei-centre"]


def _verify_src(w: World) -> list[str]:
    return ["verify", str(w.src)]


ATTACKS = [
    Attack("freeze by deleting the head", delete_head, _pull, "has no head any more"),
    Attack(
        "head replaced by a directory",
        head_becomes_directory,
        _pull,
        "has no head any more",
        backends=("folder",),
    ),
    Attack("head padded past its bound", pad_head, _pull, "over the 65536-byte bound"),
    Attack("an old head replayed", replay_old_head, _pull, "an old head was replayed"),
    Attack("an expired head (freeze)", lambda w: None, lambda w: w.pull_cmd(40), "expired at"),
    Attack("a deeply nested head", deep_json_head, _pull, "nested too deeply"),
    Attack("a head that is not UTF-8", non_utf8_head, _pull, "not a DSSE envelope"),
    Attack("a head signed by another key", head_by_another_key, _pull, "not validly signed"),
    Attack("a head breaking its schema", head_schema_broken, _pull, "sequence: Input should"),
    Attack("a forked history", fork_history, _pull, "a forked history"),
    Attack(
        "a manifest replaced after its head",
        replace_manifest_after_head,
        _pull,
        "replaced after the head was signed",
    ),
    Attack("a path escaping the batch", unsafe_path_in_batch, _pull, "unsafe file name"),
    Attack("a shard served larger", shard_served_larger, _pull, "integrity", rejects=True),
    Attack("a flipped byte in a shard", flip_shard_byte, _pull, "integrity", rejects=True),
    Attack(
        "a shard that is a symbolic link",
        shard_is_symlink,
        _pull,
        "symbolic link",
        victims=_buyer_data,
        backends=("folder",),
    ),
    Attack("a tampered buyer ledger", tamper_buyer_ledger, _pull, "ledger"),
    Attack(
        "a symlink planted in the channel",
        symlink_into_centre_data,
        lambda w: w.publish_cmd(),
        "symbolic link",
        victims=lambda w: [w.src],
        backends=("folder",),
    ),
    Attack(
        "a damaged source published",
        damaged_source_shard,
        lambda w: w.publish_cmd(),
        "does not match the manifest",
        victims=lambda w: [w.src],
    ),
    Attack(
        "traversal in a dataset manifest",
        traversal_in_dataset_manifest,
        _verify_src,
        "unsafe file name '../outside-secret.txt'",
        victims=lambda w: [w.src],
        backends=("folder",),
    ),
    Attack(
        "an absolute path in a dataset manifest",
        absolute_path_in_dataset_manifest,
        _verify_src,
        "unsafe file name '/etc/passwd'",
        victims=lambda w: [w.src],
        backends=("folder",),
    ),
    Attack(
        "a dataset manifest breaking its schema",
        broken_dataset_manifest,
        _verify_src,
        "manifest.json: files: Input should be a valid array",
        victims=lambda w: [w.src],
        backends=("folder",),
    ),
    Attack(
        "billion laughs",
        billion_laughs,
        _sign_input,
        "anchors (&a) are not allowed",
        victims=lambda w: [w.tmp / "inputs"],
        backends=("folder",),
    ),
    Attack(
        "deeply nested YAML",
        deep_yaml,
        _sign_input,
        "nests deeper than 64 levels",
        victims=lambda w: [w.tmp / "inputs"],
        backends=("folder",),
    ),
    Attack(
        "YAML that is not UTF-8",
        non_utf8_yaml,
        _sign_input,
        "is not UTF-8 text (byte 16",
        victims=lambda w: [w.tmp / "inputs"],
        backends=("folder",),
    ),
    Attack(
        "a price of 10^30",
        huge_price,
        _sign_input,
        "price.per_accepted_hour: '1000000000000000000000000000000' is out of range",
        victims=lambda w: [w.tmp / "inputs"],
        backends=("folder",),
    ),
    Attack(
        "an input file past its bound",
        oversized_yaml,
        _sign_input,
        "-byte bound",
        victims=lambda w: [w.tmp / "inputs"],
        backends=("folder",),
    ),
]

CASES = [
    pytest.param(attack, backend, id=f"{backend}-{attack.name.replace(' ', '-')}")
    for attack in ATTACKS
    for backend in attack.backends
]


@pytest.mark.parametrize(("attack", "backend"), CASES)
def test_attack_is_refused(
    attack: Attack,
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = _fresh(request, tmp_path, backend)
    declared = sum(
        f.size for f in open_channel(w.url, w.terms, at=at(8)).read_manifest(2, None)[0].files
    )
    attack.damage(w)
    before = _snapshot(attack.victims(w))
    channel_before = _channel_snapshot(w)
    dataset_before = _snapshot([w.store / "dataset"])
    code, out, err = run(attack.command(w) + (["--json"] if attack.rejects else []), capsys)
    assert "Traceback" not in err and "internal error" not in err, err
    if attack.rejects:
        assert code == 0, err
        report = json.loads(out)
        (batch,) = report["batches"]
        assert batch["outcome"] == "rejected"
        assert any(attack.refusal in reason for reason in batch["reasons"]), batch
        # every download stopped at its declared size (plus at most one 1 MiB chunk), and
        # the bytes fetched for the rejected batch are counted
        assert 0 < batch["bytes_downloaded"] <= declared + 1024 * 1024
        assert _snapshot([w.store / "dataset"]) == dataset_before  # nothing installed
        return
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1, (code, err)
    assert lines[0].startswith("error: ") and attack.refusal in lines[0], lines[0]
    after = _snapshot(attack.victims(w))
    if attack.damage is fork_history:
        # the one change a refusal makes: the evidence, kept by the buyer
        evidence = w.store / ".pull" / "evidence" / "fork-batch-000001.json"
        kept = json.loads(evidence.read_bytes())
        assert kept["installed"]["digest"] != kept["channel"]["digest"]
        ledger = (ledger_dir() / "agibot.jsonl").read_text().splitlines()
        entry = json.loads(ledger[-1])
        assert entry["kind"] == "fork-detected" and entry["ref"] == kept["channel"]["digest"]
        assert kept["installed"]["digest"] in entry["note"]
        after = {k: v for k, v in after.items() if "evidence" not in k and "ledger/" not in k}
        before = {k: v for k, v in before.items() if "ledger/" not in k}
    assert after == before
    assert _channel_snapshot(w) == channel_before  # a refusal writes nothing to the channel


# -- what a refusal must not leave behind, and what a re-run must repair ----------------------


def test_a_freeze_by_deletion_is_refused_also_after_a_restart(world: World) -> None:
    # the store remembers the head it saw: the refusal does not depend on this process
    world.channel.delete(HEAD_KEY)
    for _ in range(2):
        with pytest.raises(Exception, match="has no head any more"):
            pull(world.url, world.terms, world.buyer, world.store, now=at(8))


def test_metadata_bounds_apply_to_batch_manifests(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the real bound is 64 MiB; lowered here so the padded manifest stays small
    monkeypatch.setattr(parsing, "MAX_DOCUMENT_BYTES", 1024 * 1024)
    pad_batch_manifest(world)
    before = _snapshot(_buyer(world))
    code, _, err = run(world.pull_cmd(), capsys)
    assert code == 1 and "over the 1048576-byte bound" in err, err
    assert _snapshot(_buyer(world)) == before


@contextmanager
def _uploads_die_after(store_type: type[Storage], count: int) -> Iterator[None]:
    class Killed(BaseException):
        pass

    real = store_type.upload_file
    calls: list[str] = []

    def upload(self: Storage, key: str, path: str | Path) -> None:
        calls.append(key)
        if len(calls) > count:
            raise Killed
        real(self, key, path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store_type, "upload_file", upload)
        with contextlib.suppress(Killed):
            yield


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_store_that_lost_everything_mid_publish_gets_the_whole_batch(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("s3_url") if backend == "s3" else str(tmp_path / "channel")
    terms, centre, buyer = contract(tmp_path)
    src = tmp_path / "centre"
    centre_dataset(src, 3)
    store = open_storage(url)
    with _uploads_die_after(type(store), 3):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    assert len(store.list()) == 3 and not store.exists(HEAD_KEY)
    # the server restarts empty; the outbox still remembers the three files it sent
    for obj in store.list():
        store.delete(obj.key)
    result = publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    manifest = open_channel(url, terms, at=at(6)).read_manifest(1, None)[0]
    held = {o.key.removeprefix(batch_prefix(1) + "/") for o in store.list(batch_prefix(1) + "/")}
    assert {f.path for f in manifest.files} <= held
    # every file of the batch (qc.json among them) went again; the count leaves out the
    # manifest and the head, as --dry-run does
    assert result.files == len(manifest.files)
    report = pull(url, terms, buyer, tmp_path / "buyer", now=at(6))
    assert report.batches[0].outcome == "accepted"


def test_a_killed_uploads_temporary_files_are_cleaned_up(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    w = _fresh(request, tmp_path, "folder")
    centre_dataset(w.src, 2, first=5)
    leftover = Path(w.url) / batch_prefix(3) / "dataset" / "data" / ".shard-000000.arrow.x1.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a shard")
    publish(w.src, w.url, w.terms, w.centre, profile=PROFILE, now=at(9))
    assert not list(Path(w.url).rglob("*.tmp"))


def test_folder_channel_files_are_readable_by_another_account(tmp_path: Path) -> None:
    w = _build(tmp_path, "folder", str(tmp_path / "channel"))
    modes = {p.stat().st_mode & 0o777 for p in Path(w.url).rglob("*") if p.is_file()}
    mask = os.umask(0o022)
    os.umask(mask)
    assert modes == {file_mode()} == {0o666 & ~mask}, modes  # 0644 under umask 022


def test_verify_lists_every_file_the_manifest_does_not_cover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "ds"
    centre_dataset(src, 2)
    (src / "notes.txt").write_text("not part of it")
    (src / "data" / "stray.bin").write_bytes(b"x")
    code, out, err = run(["verify", str(src)], capsys)
    assert code == 0, err
    assert "note: notes.txt: not in the manifest" in err
    assert "note: data/stray.bin: not in the manifest" in err
    (src / "link").symlink_to(tmp_path)
    code, out, err = run(["verify", str(src)], capsys)
    assert code == 1 and "link: a symbolic link inside the dataset" in err + out


def test_receipt_and_contract_breaking_their_schema_are_one_line_errors(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = world.tmp / "broken.signed.json"
    broken.write_text(json.dumps({"envelope": {"payloadType": 5}}))
    code, _, err = run(["contract", "verify", str(broken)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "broken.signed.json" in lines[0], err
    # a receipt on the channel signed by the buyer but breaking its schema
    from embodex.delivery.documents import receipt_key

    doc = {"kind": "embodex.receipt", "batch": "one"}
    world.channel.put_bytes(
        receipt_key(1),
        sign_payload(PAYLOAD_TYPES["receipt"], doc, world.buyer).to_json_bytes(),
    )
    code, _, err = run(
        ["receipt", "countersign", "--channel", world.url, "--contract", str(world.terms),
         "--key", "hubei-centre", "--batch", "1", "--at", T[8]], capsys,
    )  # fmt: skip
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "receipt" in lines[0], err
    assert "Traceback" not in err


# -- the parsing boundary itself --------------------------------------------------------------


class _Err(parsing.EmbodexError):
    pass


def test_yaml_loader_refuses_aliases_depth_and_bad_bytes() -> None:
    with pytest.raises(_Err, match="anchors"):
        parsing.load_yaml("a: &x 1\nb: *x\n", error=_Err, name="f.yaml")
    with pytest.raises(_Err, match="nests deeper than 64"):
        parsing.load_yaml("a: " + "[" * 100 + "]" * 100, error=_Err, name="f.yaml")
    with pytest.raises(_Err, match="f.yaml is not UTF-8 text"):
        parsing.load_yaml(b"a: \xff", error=_Err, name="f.yaml")
    with pytest.raises(_Err, match="given twice"):
        parsing.load_yaml("a: 1\na: 2\n", error=_Err, name="f.yaml")
    assert parsing.load_yaml("a: [1, {b: 2}]", error=_Err, name="f.yaml") == {"a": [1, {"b": 2}]}


def test_json_reader_bounds_depth_size_and_symlinks(tmp_path: Path) -> None:
    with pytest.raises(_Err, match="nests deeper than 64"):
        parsing.load_json("[" * 100 + "]" * 100, error=_Err, name="d.json")
    with pytest.raises(_Err, match="nests deeper than 64"):
        parsing.load_json("[" * 50_000 + "]" * 50_000, error=_Err, name="d.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(_Err, match="over the 1024-byte bound"):
        parsing.read_bounded(big, limit=1024, error=_Err)
    link = tmp_path / "link.json"
    link.symlink_to(big)
    with pytest.raises(_Err, match="symbolic link"):
        parsing.read_bounded(link, error=_Err, follow_symlinks=False)
    assert parsing.read_bounded(link, error=_Err) == b" " * 2048


def test_parse_document_names_file_and_field(tmp_path: Path) -> None:
    from embodex.format import Manifest

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"files": [{"path": "a", "size": -1, "sha256": "0" * 64}],
                                "digest": "sha256:" + "0" * 64}))  # fmt: skip
    with pytest.raises(_Err, match=r"manifest.json: files.0.size: Input should be greater"):
        parsing.parse_document(path, Manifest, _Err)
    path.write_bytes(b'{"files": [], "digest": "\xff"}')
    with pytest.raises(_Err, match="not UTF-8"):
        parsing.parse_document(path, Manifest, _Err)
    path.write_bytes(b"[" * 10_000)
    with pytest.raises(_Err, match="not valid JSON"):
        parsing.parse_document(path, Manifest, _Err)


def test_a_dataset_writer_never_writes_through_a_link(tmp_path: Path) -> None:
    from embodex.errors import CorruptDatasetError
    from embodex.format import DatasetWriter

    src = tmp_path / "ds"
    centre_dataset(src, 2)
    elsewhere = tmp_path / "elsewhere"
    (src / "data").rename(elsewhere)
    (src / "data").symlink_to(elsewhere, target_is_directory=True)
    before = _snapshot([elsewhere])
    with pytest.raises(CorruptDatasetError, match="symbolic link"):
        DatasetWriter(src, None, append=True)
    assert _snapshot([elsewhere]) == before


def test_a_listing_breaking_its_schema_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ._market import qc_dataset

    run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)
    ds = tmp_path / "ds"
    qc_dataset(ds, episodes=4)
    cat = tmp_path / "catalog"
    code, _, err = run(
        ["catalog", "build", str(ds), "-o", str(cat), "--key", "hubei-centre"], capsys
    )
    assert code == 0, err
    listing = json.loads(_payload((cat / "listing.json").read_bytes()))
    listing["datasets"] = "every one"
    centre = load_signer("hubei-centre")
    (cat / "listing.json").write_bytes(
        sign_payload(PAYLOAD_TYPES["listing"], listing, centre).to_json_bytes()
    )
    code, _, err = run(["catalog", "show", str(cat)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "listing: datasets: " in lines[0], err
