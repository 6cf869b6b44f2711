"""Deadlines are judged on evidence, not on the centre's word alone: a batch that says it was
published before the deadline but was not on the channel when the buyer looked is late."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from embodex.contract import Receipt, open_receipt
from embodex.delivery import channel_supply, open_channel, publish, pull
from embodex.delivery.channel_supply import supply_alerts
from embodex.delivery.documents import HEAD_KEY
from embodex.delivery.heads import issue_head
from embodex.errors import ChannelError
from embodex.storage.stores import open_storage
from embodex.trust import Identity

from ._delivery import PROFILE, at, centre_dataset, contract

WEEKS = timedelta(days=21)


def _receipt(store: Path, n: int, buyer_identity: Identity) -> Receipt:
    return open_receipt((store / "receipts" / f"{n:06d}.json").read_bytes(), buyer_identity)


def test_a_backdated_batch_is_judged_late_by_what_the_buyer_saw(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 2)
    publish(src, url, terms, centre, profile=PROFILE, now=at(1), period=1, ttl=WEEKS)
    deadline = open_channel(url, terms, at=at(0)).contract.periods()[0].deadline
    assert at(8, 15) < deadline < at(8, 17)  # period 1 ends on day 8 at 16:00 UTC
    # the buyer pulls once, after the deadline: batch 1 was on time, seen late — not late
    pull(url, terms, buyer, store, now=at(8, 17))
    r1 = _receipt(store, 1, buyer.identity)
    assert r1.first_seen_at == at(8, 17) and r1.delivered_at == at(1)
    assert not [v for v in r1.violations if v.rule.startswith("schedule.")]

    # the centre publishes after the buyer looked, claiming a time before the deadline
    centre_dataset(src, 2, first=2)
    published = publish(
        src, url, terms, centre, profile=PROFILE, now=at(8, 15), period=1, ttl=WEEKS
    )
    assert published.number == 2
    pull(url, terms, buyer, store, now=at(9))
    r2 = _receipt(store, 2, buyer.identity)
    rules = {v.rule: v for v in r2.violations}
    assert "schedule.backdated" in rules and "schedule.delivery_deadline" in rules
    assert "this buyer's pull at 2026-01-13T17:00:00+00:00 did not see it" in (
        rules["schedule.backdated"].message
    )
    assert r2.delivered_at > deadline
    report = channel_supply(url, terms, now=at(10))
    status = report.status
    # batch 2 counts as late; seconds of data against the period's share of 1.0 h: short
    assert status.late_batches == [2] and status.periods[0].status == "short"
    assert report.batches[1].delivered_at == r2.delivered_at
    assert any(label == "backdated" for label, _ in supply_alerts(report))


def test_an_honest_batch_before_the_buyers_next_look_is_on_time(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 2)
    publish(src, url, terms, centre, profile=PROFILE, now=at(1), period=1, ttl=WEEKS)
    pull(url, terms, buyer, store, now=at(2))
    centre_dataset(src, 2, first=2)
    publish(src, url, terms, centre, profile=PROFILE, now=at(8, 15), period=1, ttl=WEEKS)
    pull(url, terms, buyer, store, now=at(9))  # seen after the deadline, published before
    r2 = _receipt(store, 2, buyer.identity)
    assert r2.delivered_at == at(8, 15) and r2.first_seen_at == at(9)
    assert not [v for v in r2.violations if v.rule.startswith("schedule.")]
    assert channel_supply(url, terms, now=at(10)).status.late_batches == []


def test_a_head_signed_back_in_time_is_refused(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 2)
    publish(src, url, terms, centre, profile=PROFILE, now=at(3))
    pull(url, terms, buyer, store, now=at(3, 12))
    ch = open_channel(url, terms, at=at(3))
    head = ch.read_head()
    assert head is not None
    # the centre's key signs a newer head (sequence + 1) dated before the one seen
    older = head.head.model_copy(update={"issued_at": at(2)})
    forged = issue_head(older, channel_id=older.channel_id, channel=ch, signer=centre, now=at(2))
    open_storage(url).put_bytes(HEAD_KEY, forged.data)
    with pytest.raises(ChannelError, match="signs heads back in time"):
        pull(url, terms, buyer, store, now=at(3, 13))
