"""Attacks and faults a buyer must survive: every one refused, nothing wrong installed."""

from __future__ import annotations

import base64
import importlib
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from embodex.config import outbox_dir
from embodex.contract import open_receipt, sign_receipt
from embodex.delivery import (
    channel_supply,
    countersign_receipts,
    describe_channel,
    open_channel,
    publish,
    pull,
    read_receipt,
    refresh_channel,
)
from embodex.delivery.channel_supply import supply_alerts
from embodex.delivery.documents import HEAD_KEY, ChannelHead, manifest_key, receipt_key
from embodex.errors import (
    ChannelError,
    DeliveryError,
    FrozenChannelError,
    PayloadError,
    PullLockedError,
    RollbackError,
    ScopeError,
    SignatureError,
)
from embodex.format import open_dataset
from embodex.storage import open_storage
from embodex.trust import PAYLOAD_TYPES, Signer, sign_model, sign_payload
from embodex_cli.errors import error_line

from ._delivery import PROFILE, at, centre_dataset, contract


@pytest.fixture
def trade(tmp_path: Path) -> dict[str, Any]:
    """A contract, a centre dataset of 4 episodes published as batch 1 on a local channel."""
    terms, centre, buyer = contract(tmp_path)
    src = tmp_path / "centre"
    centre_dataset(src, 4)
    url = str(tmp_path / "channel")
    first = publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    return {
        "terms": terms, "centre": centre, "buyer": buyer, "src": src, "url": url,
        "store": tmp_path / "buyer", "first": first,
    }  # fmt: skip


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _untouched_except_state(store: Path, before: dict[str, bytes]) -> None:
    """Nothing of the store changed (the lock file aside)."""
    after = {k: v for k, v in _files(store).items() if not k.endswith("/lock")}
    assert after == {k: v for k, v in before.items() if not k.endswith("/lock")}


def test_old_head_replayed_is_refused(trade: dict[str, Any]) -> None:
    url, terms, buyer, store = trade["url"], trade["terms"], trade["buyer"], trade["store"]
    channel = open_storage(url)
    old_head = channel.get_bytes(HEAD_KEY)
    pull(url, terms, buyer, store, now=at(5, 12))
    centre_dataset(trade["src"], 2, first=4)
    publish(trade["src"], url, terms, trade["centre"], profile=PROFILE, now=at(6))
    pull(url, terms, buyer, store, now=at(6, 12))
    before = _files(store)
    channel.put_bytes(HEAD_KEY, old_head)  # an attacker (or a restored backup) replays it
    with pytest.raises(RollbackError, match=r"sequence 1 .*sequence 2 .* replayed"):
        pull(url, terms, buyer, store, now=at(6, 13))
    _untouched_except_state(store, before)


def test_expired_head_is_refused_until_the_centre_refreshes(trade: dict[str, Any]) -> None:
    url, terms, buyer, store = trade["url"], trade["terms"], trade["buyer"], trade["store"]
    with pytest.raises(FrozenChannelError, match="expired at 2026-01-13") as info:
        pull(url, terms, buyer, store, now=at(8, 11))  # published at(5) with a 3-day head
    assert "refresh_channel(" in info.value.hint
    assert "embodex channel refresh" in error_line(info.value)  # the CLI's words
    assert not (store / "dataset").exists()
    update = refresh_channel(url, terms, trade["centre"], now=at(8, 12))
    assert update.head.sequence == 2 and update.head.batch == 1
    assert pull(url, terms, buyer, store, now=at(8, 13)).batches[0].accepted == 4


def test_head_signed_by_another_key_is_refused(trade: dict[str, Any]) -> None:
    url, terms, store = trade["url"], trade["terms"], trade["store"]
    channel = open_storage(url)
    env = json.loads(channel.get_bytes(HEAD_KEY))
    head = ChannelHead.model_validate_json(base64.b64decode(env["payload"]))
    mallory = Signer.ephemeral("mallory", "centre")
    forged = head.model_copy(update={"sequence": 9, "centre": mallory.key_id})
    channel.put_bytes(HEAD_KEY, sign_model("channel-head", forged, mallory).to_json_bytes())
    with pytest.raises(SignatureError, match="not validly signed by centre hubei-centre"):
        pull(url, terms, trade["buyer"], store, now=at(5, 12))
    with pytest.raises(SignatureError):
        refresh_channel(url, terms, trade["centre"], now=at(5, 12))  # never extends a forgery
    assert not (store / "dataset").exists()


def test_receipt_signed_by_another_key_is_refused(trade: dict[str, Any]) -> None:
    url, terms, store, buyer = trade["url"], trade["terms"], trade["store"], trade["buyer"]
    pull(url, terms, buyer, store, now=at(5, 12))
    channel = open_storage(url)
    genuine = open_receipt(channel.get_bytes(receipt_key(1)), buyer.identity)
    mallory = Signer.ephemeral("mallory", "buyer")
    forged = genuine.model_copy(update={"issued_by": mallory.key_id, "accepted": []})
    channel.put_bytes(receipt_key(1), sign_receipt(forged, mallory).to_json_bytes())
    # never used, never countersigned — reported, and the rest of the channel still reads
    with pytest.raises(SignatureError, match="not validly signed by buyer agibot"):
        countersign_receipts(url, terms, trade["centre"], now=at(6), batches=[1])
    (skipped,) = countersign_receipts(url, terms, trade["centre"], now=at(6))
    assert skipped.problem and "not validly signed by buyer agibot" in skipped.problem
    report = channel_supply(url, terms, now=at(6))
    assert report.status.accepted_hours == 0 and report.status.pending_hours > 0
    assert "not validly signed" in (report.batches[0].invalid_receipt or "")
    assert any(label == "invalid" for label, _ in supply_alerts(report))
    shown = describe_channel(url, terms, now=at(6)).batches[0]
    assert shown.accepted is None and "not validly signed" in (shown.invalid_receipt or "")
    # an edited payload under the buyer's genuine signature fails the same way
    env = json.loads((store / "receipts" / "000001.json").read_bytes())
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["accepted_hours"] = "999"
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    channel.put_bytes(receipt_key(1), json.dumps(env).encode())
    (skipped,) = countersign_receipts(url, terms, trade["centre"], now=at(6))
    assert skipped.problem and "does not verify" in skipped.problem
    # the buyer's next pull puts its own receipt back; everything works again
    assert pull(url, terms, buyer, store, now=at(6, 1)).receipts_repaired == [1]
    assert channel.get_bytes(receipt_key(1)) == (store / "receipts" / "000001.json").read_bytes()
    (signed,) = countersign_receipts(url, terms, trade["centre"], now=at(6, 2))
    assert signed.problem is None and not signed.already
    assert channel_supply(url, terms, now=at(6, 3)).status.accepted_hours == genuine.accepted_hours
    # a countersigned copy is the same receipt: a later pull leaves it alone
    assert pull(url, terms, buyer, store, now=at(6, 4)).receipts_repaired == []
    assert read_receipt(open_channel(url, terms, at=at(6)), 1).countersigned  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["../evil.bin", "dataset/../../evil.bin", "/etc/evil.bin"])
def test_unsafe_file_names_are_refused(trade: dict[str, Any], name: str, tmp_path: Path) -> None:
    """A batch manifest (even one the centre signed) naming a file outside the batch."""
    url, terms, store, centre = trade["url"], trade["terms"], trade["store"], trade["centre"]
    channel = open_storage(url)
    env = json.loads(channel.get_bytes(manifest_key(1)))
    doc = json.loads(base64.b64decode(env["payload"]))
    doc["files"][0]["path"] = name
    channel.put_bytes(
        manifest_key(1),
        sign_payload(PAYLOAD_TYPES["batch-manifest"], doc, centre).to_json_bytes(),
    )
    with pytest.raises(PayloadError, match="unsafe file name"):
        pull(url, terms, trade["buyer"], store, now=at(5, 12))
    assert not (tmp_path / "evil.bin").exists() and not (store / "dataset").exists()


@pytest.mark.parametrize("backend", ["file", "s3"])
def test_flipped_byte_rejects_the_batch_and_installs_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src = tmp_path / "centre"
    centre_dataset(src, 3)
    url = str(tmp_path / "channel") if backend == "file" else request.getfixturevalue("s3_url")
    published = publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    channel = open_storage(url)
    key = "batches/000001/dataset/data/shard-000000.arrow"
    data = bytearray(channel.get_bytes(key))
    data[len(data) // 2] ^= 0x01
    channel.put_bytes(key, bytes(data))
    store = tmp_path / "buyer"
    report = pull(url, terms, buyer, store, now=at(5, 12))
    (b,) = report.batches
    assert (b.outcome, b.accepted, b.rejected) == ("rejected", 0, 3)
    (reason,) = b.reasons
    assert reason.startswith("integrity:") and "sha256" in reason
    assert not (store / "dataset").exists() and not (store / "quarantine").exists()
    assert not (store / ".pull" / "incoming").exists() or not any(
        (store / ".pull" / "incoming").iterdir()
    )
    receipt = open_receipt(channel.get_bytes(receipt_key(1)), buyer.identity)
    assert receipt.accepted == [] and {r.episode_id for r in receipt.rejected} == set(
        published.episodes
    )


def test_out_of_scope_batch_gets_a_rejected_receipt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, centre, buyer = contract(tmp_path, skills=["hold_cup"])
    src = tmp_path / "centre"
    centre_dataset(src, 3, skill="fold_clothes")
    url = str(tmp_path / "channel")
    with pytest.raises(ScopeError, match=r"3 of 3 episodes .* outside the contract's scope"):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    assert not (tmp_path / "channel" / "batches").exists()
    # a centre that skips its own check: the buyer's checks still reject the batch
    publish_module = importlib.import_module("embodex.delivery.publish")
    monkeypatch.setattr(publish_module, "_scope_filter", lambda ch, s, ids, *a: (ids, {}))
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    report = pull(url, terms, buyer, tmp_path / "buyer", now=at(5, 12))
    (b,) = report.batches
    assert (b.outcome, b.rejected) == ("rejected", 3)
    assert all("scope.skills" in r for r in b.reasons)
    receipt = open_receipt(open_storage(url).get_bytes(receipt_key(1)), buyer.identity)
    assert {v.rule for v in receipt.violations} >= {"scope.skills"}
    assert len(open_dataset(tmp_path / "buyer" / "quarantine" / "000001")) == 3


def test_exclude_out_of_scope_publishes_the_rest(tmp_path: Path) -> None:
    terms, centre, _ = contract(tmp_path, skills=["hold_cup", "grasp_plate"])
    src = tmp_path / "centre"
    centre_dataset(src, 3)  # skills cycle hold_cup, grasp_plate, fold_clothes
    result = publish(
        src, tmp_path / "ch", terms, centre, profile=PROFILE, now=at(5), exclude_out_of_scope=True
    )
    assert len(result.episodes) == 2 and len(result.excluded) == 1
    (why,) = result.excluded.values()
    assert "scope.skills" in why


def test_two_pulls_at_once_the_second_refuses_or_waits(trade: dict[str, Any]) -> None:
    url, terms, buyer, store = trade["url"], trade["terms"], trade["buyer"], trade["store"]
    held = threading.Event()
    release = threading.Event()

    def slow_first_pull() -> None:
        def on_bytes(_n: int) -> None:
            held.set()
            release.wait(10)

        pull(url, terms, buyer, store, now=at(5, 12), on_bytes=on_bytes, workers=1)

    first = threading.Thread(target=slow_first_pull)
    first.start()
    assert held.wait(10)
    with pytest.raises(PullLockedError, match="another pull is running"):
        pull(url, terms, buyer, store, now=at(5, 12))
    waited: list[Any] = []
    second = threading.Thread(
        target=lambda: waited.append(pull(url, terms, buyer, store, now=at(5, 13), wait=True))
    )
    second.start()
    time.sleep(0.2)
    assert second.is_alive()  # queued behind the first
    release.set()
    first.join(10)
    second.join(10)
    assert waited and waited[0].batches == [] and "up to date" in (waited[0].message or "")


def test_a_replaced_channel_is_refused(trade: dict[str, Any]) -> None:
    url, terms, buyer, store = trade["url"], trade["terms"], trade["buyer"], trade["store"]
    pull(url, terms, buyer, store, now=at(5, 12))
    shutil.rmtree(url)
    # the centre's own records refuse to start the channel over silently ...
    with pytest.raises(DeliveryError, match="rolled back or replaced"):
        publish(trade["src"], url, terms, trade["centre"], profile=PROFILE, now=at(6))
    # ... and a channel started afresh elsewhere under the same contract is not this store's
    shutil.rmtree(outbox_dir())
    again = publish(trade["src"], url, terms, trade["centre"], profile=PROFILE, now=at(6))
    assert again.channel_id != trade["first"].channel_id
    before = _files(store)
    with pytest.raises(ChannelError, match="this store was filled from channel"):
        pull(url, terms, buyer, store, now=at(6, 12))
    _untouched_except_state(store, before)


def test_a_receipt_for_another_batch_is_refused(trade: dict[str, Any]) -> None:
    url, terms, buyer, store = trade["url"], trade["terms"], trade["buyer"], trade["store"]
    pull(url, terms, buyer, store, now=at(5, 12))
    centre_dataset(trade["src"], 2, first=4)
    publish(trade["src"], url, terms, trade["centre"], profile=PROFILE, now=at(6))
    pull(url, terms, buyer, store, now=at(6, 12))
    channel = open_storage(url)
    # batch 1's genuine receipt, renumbered and re-signed by the buyer, lands on batch 2
    first = open_receipt(channel.get_bytes(receipt_key(1)), buyer.identity)
    moved = first.model_copy(update={"batch_number": 2})
    channel.put_bytes(receipt_key(2), sign_receipt(moved, buyer).to_json_bytes())
    report = channel_supply(url, terms, now=at(6, 13))
    assert "names another manifest" in (report.batches[1].invalid_receipt or "")
    assert 2 not in [b.number for b in report.batches if b.accepted is not None]
    done = countersign_receipts(url, terms, trade["centre"], now=at(6, 13))
    assert [(d.batch, bool(d.problem)) for d in done] == [(1, False), (2, True)]
    with pytest.raises(ChannelError, match="another manifest"):
        countersign_receipts(url, terms, trade["centre"], now=at(6, 13), batches=[2])
    assert pull(url, terms, buyer, store, now=at(6, 14)).receipts_repaired == [2]
    assert channel_supply(url, terms, now=at(6, 15)).batches[1].invalid_receipt is None


def test_a_second_store_never_replaces_the_receipt_on_the_channel(trade: dict[str, Any]) -> None:
    """Two stores of the same buyer pull one channel (a new store after a schema change, a
    second machine): the receipt on the channel, countersigned by the centre, stands."""
    url, terms, store, buyer = trade["url"], trade["terms"], trade["store"], trade["buyer"]
    pull(url, terms, buyer, store, now=at(5, 12))
    channel = open_storage(url)
    (signed,) = countersign_receipts(url, terms, trade["centre"], now=at(6))
    on_channel = channel.get_bytes(receipt_key(1))
    other = store.parent / "second-store"
    for when in (at(6, 1), at(6, 2)):  # the second store, then the first, then again
        report = pull(url, terms, buyer, other, now=when)
        assert report.receipts_conflicting == [1] and report.receipts_repaired == []
        assert pull(url, terms, buyer, store, now=when).receipts_conflicting == []
        assert channel.get_bytes(receipt_key(1)) == on_channel  # countersigned, untouched
    # the second store's own decision stays in its folder, the centre's accounting is intact
    assert (other / "receipts" / "000001.json").read_bytes() != on_channel
    (again,) = countersign_receipts(url, terms, trade["centre"], now=at(6, 3))
    assert again.already and again.digest == signed.digest
