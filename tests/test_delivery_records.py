"""The centre's and the buyer's records (outbox copies, ledger entries) survive a crash
between a channel write and its record: the next run makes up what is missing, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from embodex.delivery import countersign_receipts, publish, pull, send_notice
from embodex.delivery.outbox import Outbox
from embodex.errors import DeliveryError
from embodex.storage import open_storage
from embodex.trust import Ledger, Signer, ledger_path, verify_ledger

from ._delivery import PROFILE, at, centre_dataset, contract


class _Crash(BaseException):
    """Stands for the process dying at that point (nothing catches it)."""


def _kinds(party: str) -> list[tuple[str, str]]:
    return [(e.kind, e.ref) for e in Ledger(ledger_path(party)).entries()]


def _published(tmp_path: Path) -> tuple[str, Path, Signer, Signer]:
    """A channel with batch 1 (2 episodes) published: url, contract, centre, buyer."""
    terms, centre, buyer = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 2)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    return url, terms, centre, buyer


def _crash_once_on(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """The first ledger write of ``kind`` dies before it reaches the file."""
    real = Ledger.append_missing
    fired: list[bool] = []

    def append_missing(self: Ledger, signer: Any, events: Any, **options: Any) -> Any:
        if not fired and any(k == kind for k, _, _ in events):
            fired.append(True)
            raise _Crash
        return real(self, signer, events, **options)

    monkeypatch.setattr(Ledger, "append_missing", append_missing)


def test_pull_killed_before_batch_received_records_it_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 2)
    r1 = publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    _crash_once_on(monkeypatch, "batch-received")
    with pytest.raises(_Crash):
        pull(url, terms, buyer, store, now=at(5, 12))
    assert ("batch-received", r1.manifest_digest) not in _kinds("agibot")
    (b,) = pull(url, terms, buyer, store, now=at(5, 13)).batches
    assert b.accepted == 2
    kinds = _kinds("agibot")
    assert kinds.count(("batch-received", r1.manifest_digest)) == 1
    assert [k for k, _ in kinds].count("receipt-issued") == 1
    assert verify_ledger(ledger_path("agibot"), [buyer.identity]).ok


@pytest.mark.parametrize("where", ["outbox", "ledger"])
def test_publish_killed_after_the_head_records_the_batch_on_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 3)
    if where == "outbox":  # dies before the outbox copy and the ledger entry
        real = Outbox.record_published

        def record(self: Outbox, number: int, data: bytes) -> None:
            raise _Crash

        monkeypatch.setattr(Outbox, "record_published", record)
    else:  # the outbox copy is written, the ledger entry is not
        _crash_once_on(monkeypatch, "batch-published")
    with pytest.raises(_Crash):
        publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    if where == "outbox":
        monkeypatch.setattr(Outbox, "record_published", real)
    assert not [k for k, _ in _kinds("hubei-centre") if k == "batch-published"]
    # the buyer already sees the batch: the head was written
    (b,) = pull(url, terms, buyer, tmp_path / "buyer", now=at(5, 12)).batches
    centre_dataset(src, 1, first=3)
    again = publish(src, url, terms, centre, profile=PROFILE, now=at(6))
    assert any("record" in r for r in again.recovered), again.recovered
    assert again.number == 2 and len(again.episodes) == 1  # batch 1 was not sent again
    published = [r for k, r in _kinds("hubei-centre") if k == "batch-published"]
    outbox = Outbox(open_storage(url).url)
    assert sorted(outbox.published()) == [1, 2] and outbox.pending() is None
    assert len(published) == 2 and published[1] == again.manifest_digest
    assert b.number == 1 and published[0] != again.manifest_digest
    # nothing is recorded twice by later runs
    publish(src, url, terms, centre, profile=PROFILE, now=at(7))
    assert [k for k, _ in _kinds("hubei-centre")].count("batch-published") == 2
    assert verify_ledger(ledger_path("hubei-centre"), [centre.identity]).ok


def test_notice_killed_before_its_ledger_entry_is_recorded_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, terms, centre, _ = _published(tmp_path)
    _crash_once_on(monkeypatch, "notice-sent")
    with pytest.raises(_Crash):
        send_notice(url, terms, centre, type="delay", reason="robot in repair", period=2,
                    now=at(8))  # fmt: skip
    assert not [k for k, _ in _kinds("hubei-centre") if k == "notice-sent"]
    second = send_notice(url, terms, centre, type="delay", reason="still", period=3, now=at(9))
    sent = [r for k, r in _kinds("hubei-centre") if k == "notice-sent"]
    assert len(sent) == 2 and sent[1] == second.digest
    assert verify_ledger(ledger_path("hubei-centre"), [centre.identity]).ok


def test_countersign_killed_before_its_ledger_entry_records_it_when_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, terms, centre, buyer = _published(tmp_path)
    pull(url, terms, buyer, tmp_path / "buyer", now=at(5, 12))
    _crash_once_on(monkeypatch, "receipt-countersigned")
    with pytest.raises(_Crash):
        countersign_receipts(url, terms, centre, now=at(6))
    (again,) = countersign_receipts(url, terms, centre, now=at(6, 1))
    assert again.already  # the signature was on the channel before the crash
    assert [k for k, _ in _kinds("hubei-centre")].count("receipt-countersigned") == 1


def test_append_missing_appends_each_event_once(tmp_path: Path) -> None:
    _, centre, _ = contract(tmp_path)
    ledger = Ledger(tmp_path / "l.jsonl")
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert len(ledger.append_missing(centre, [("batch-published", a, "x")])) == 1
    got = ledger.append_missing(
        centre, [("batch-published", a, "x"), ("notice-sent", a, None), ("notice-sent", a, None)]
    )
    assert [(e.kind, e.ref) for e in got] == [("notice-sent", a)]
    ledger.append_missing(centre, [("batch-published", b, None)])
    assert [(e.kind, e.ref) for e in ledger.entries()] == [
        ("batch-published", a),
        ("notice-sent", a),
        ("batch-published", b),
    ]


def test_an_episode_is_delivered_once_per_contract_across_channels(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path)
    src = tmp_path / "centre"
    url_a, url_b = str(tmp_path / "channel-a"), str(tmp_path / "channel-b")
    centre_dataset(src, 3)
    a = publish(src, url_a, terms, centre, profile=PROFILE, now=at(5))
    # the same dataset to a second channel of the same contract: nothing new to send
    b = publish(src, url_b, terms, centre, profile=PROFILE, now=at(5, 1))
    assert b.number is None and b.episodes == []
    centre_dataset(src, 2, first=3)
    b = publish(src, url_b, terms, centre, profile=PROFILE, now=at(6))
    assert b.number == 1 and sorted(b.episodes) == sorted(set(b.episodes) - set(a.episodes))
    assert len(b.episodes) == 2
    with pytest.raises(DeliveryError, match=r"batch 1 of channel file://.*channel-a"):
        publish(src, url_b, terms, centre, profile=PROFILE, now=at(7), episode_ids=[a.episodes[0]])
    # and back: channel A does not get channel B's episodes either
    assert publish(src, url_a, terms, centre, profile=PROFILE, now=at(7)).number is None
    # the buyer pulling both channels receives each episode once
    got_a = pull(url_a, terms, buyer, tmp_path / "buyer-a", now=at(7, 12)).batches
    got_b = pull(url_b, terms, buyer, tmp_path / "buyer-b", now=at(7, 12)).batches
    assert sum(x.episodes for x in got_a + got_b) == 5


def test_another_contract_may_carry_the_same_episodes(tmp_path: Path) -> None:
    terms, centre, _ = contract(tmp_path)
    src = tmp_path / "centre"
    centre_dataset(src, 2)
    publish(src, str(tmp_path / "channel-a"), terms, centre, profile=PROFILE, now=at(5))
    other = tmp_path / "other"
    other.mkdir()
    terms2, _, _ = contract(other, contract_id="hubei-agibot-2026-002")
    again = publish(src, str(tmp_path / "channel-b"), terms2, centre, profile=PROFILE, now=at(5))
    assert again.number == 1 and len(again.episodes) == 2
