"""The whole trade over a channel, on a local folder, on S3 (moto's server) and on a Hugging
Face Hub dataset repo (tests/hub_server.py): weekly batches published, pulled, judged,
installed, receipted, countersigned, accounted, revoked."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from embodex.contract import open_receipt
from embodex.delivery import (
    channel_supply,
    countersign_receipts,
    describe_channel,
    open_channel,
    publish,
    pull,
    read_receipt,
    revoke_batch,
    send_notice,
    supply_plan,
)
from embodex.format import open_dataset
from embodex.qc import load_qc_manifest
from embodex.train import load
from embodex.trust import Ledger, ledger_path

from ._delivery import PROFILE, at, centre_dataset, contract


@pytest.fixture(params=["file", "s3", "hf"])
def channel_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / "channel")
    return str(request.getfixturevalue(f"{request.param}_url"))


def _loads(store: Path) -> int:
    """The buyer's dataset opens for training (QC-passed episodes, a short action window)."""
    ds = load(store / "dataset", horizon=5, cameras=[])
    assert len(ds) > 0
    return len(open_dataset(store / "dataset"))


def test_weekly_supply_end_to_end(channel_url: str, tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path, min_pass_rate="0.8")
    src, store = tmp_path / "centre", tmp_path / "buyer"

    # week 1: five clean episodes, all accepted
    centre_dataset(src, 5)
    r1 = publish(src, channel_url, terms, centre, profile=PROFILE, now=at(5))
    assert (r1.number, len(r1.episodes), r1.warnings) == (1, 5, [])
    p1 = pull(channel_url, terms, buyer, store, now=at(5, 12))
    assert [(b.number, b.outcome, b.accepted) for b in p1.batches] == [(1, "accepted", 5)]
    assert _loads(store) == 5

    # week 2: six more, one with NaN joint readings: accepted in part (5/6 >= 0.8)
    centre_dataset(src, 6, first=5, defects={10: "nan"})
    r2 = publish(src, channel_url, terms, centre, profile=PROFILE, now=at(12))
    assert r2.number == 2 and len(r2.episodes) == 6  # batch 1's episodes are not sent again
    p2 = pull(channel_url, terms, buyer, store, now=at(12, 12))
    (b2,) = p2.batches
    assert (b2.outcome, b2.accepted, b2.rejected) == ("partial", 5, 1)
    (reason,) = b2.reasons
    assert "qc FAIL" in reason and "numeric.finite" in reason
    ch = open_channel(channel_url, terms)
    manifest2, _, _ = ch.read_manifest(2, r1.channel_id)
    assert b2.bytes == sum(f.size for f in manifest2.files)  # only batch 2's bytes moved
    bad = r2.episodes[-1]
    quarantine = open_dataset(store / "quarantine" / "000002")
    assert quarantine.episode_ids == [bad]
    assert load_qc_manifest(quarantine.root).episode(bad).verdict == "FAIL"
    assert _loads(store) == 10
    assert bad not in open_dataset(store / "dataset").episode_ids

    # week 3: a delay notice, then four episodes
    send_notice(
        channel_url, terms, centre, type="delay", reason="robot H2-00017 in repair", period=3,
        now=at(15),
    )  # fmt: skip
    centre_dataset(src, 4, first=11)
    publish(src, channel_url, terms, centre, profile=PROFILE, now=at(19))
    p3 = pull(channel_url, terms, buyer, store, now=at(19, 12))
    assert [n.type for n in p3.notices] == ["delay"]
    assert [(b.number, b.outcome) for b in p3.batches] == [(3, "accepted")]
    assert _loads(store) == 14
    assert pull(channel_url, terms, buyer, store, now=at(19, 13)).batches == []

    # receipts: on the channel, signed by the buyer, naming the batch manifests
    for n in (1, 2, 3):
        got = read_receipt(ch, n)
        assert got is not None and not got.countersigned
        local = open_receipt((store / "receipts" / f"{n:06d}.json").read_bytes(), buyer.identity)
        assert local == got.receipt
    assert [r.batch for r in countersign_receipts(channel_url, terms, centre, now=at(20))] == [
        1,
        2,
        3,
    ]
    assert all(read_receipt(ch, n).countersigned for n in (1, 2, 3))  # type: ignore[union-attr]
    again = countersign_receipts(channel_url, terms, centre, now=at(20))
    assert all(c.already for c in again)

    # supply status: delivered and accepted hours, amount due at the contract price
    report = channel_supply(channel_url, terms, now=at(21))
    s = report.status
    hours = {m.number: m.hours for m in (ch.read_manifest(n, r1.channel_id)[0] for n in (1, 2, 3))}
    assert s.delivered_hours == sum(hours.values())
    bad_hours = next(e.hours for e in manifest2.episodes if e.episode_id == bad)
    assert s.accepted_hours == s.delivered_hours - bad_hours
    assert s.rejected_hours == bad_hours
    # computed exactly, stated in cents (half up): 0.006298 h × 600.00 = 3.7788 -> 3.78
    assert s.amount_due == (s.accepted_hours * Decimal("600.00")).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    assert str(s.amount_due).split(".")[1].__len__() == 2
    # seconds of data against the 1.0 h contract's share per period: short once the
    # deadline passed, open before it — never "delivered" because something arrived
    assert [p.status for p in s.periods[:4]] == ["short", "short", "open", "open"]
    assert all(p.delivered_hours < p.hours_due for p in s.periods[:4])
    assert s.short_periods[:2] == [1, 2]
    assert sum(v.delivered_hours for v in s.by_skill.values()) == s.delivered_hours
    assert [n.type for n in report.notices] == ["delay"]
    assert all(b.countersigned for b in report.batches)

    plan = supply_plan(channel_url, terms, dataset=src, now=at(21))
    assert plan.accepted_hours == s.accepted_hours and plan.ready_hours == 0
    assert plan.remaining_hours == Decimal("1.0") - s.accepted_hours
    assert [r.batch for r in plan.replacements] == [2]
    assert {r.name for r in plan.by_skill} >= {"hold_cup", "grasp_plate", "fold_clothes"}

    # revocation: batch 1 is withdrawn; the buyer's next pull marks its episodes
    revoke_batch(channel_url, terms, centre, 1, "operator consent withdrawn", now=at(22))
    p4 = pull(channel_url, terms, buyer, store, now=at(22, 12))
    assert sorted(p4.revoked[1]) == sorted(r1.episodes)
    marked = open_dataset(store / "dataset")
    for row in marked.episodes.select(["episode_id", "extra"]).to_pylist():
        revoked = "embodex_revoked" in json.loads(row["extra"])
        assert revoked == (row["episode_id"] in r1.episodes)
    training = load(store / "dataset", horizon=5, cameras=[], qc="pass+warn").episode_ids
    assert training and not set(r1.episodes) & set(training)  # QC marks them revoked
    # kept in the dataset (marked), but never trained on, whatever the QC filter
    assert not set(r1.episodes) & set(load(store / "dataset", cameras=[], qc="all").episode_ids)
    assert (store / "receipts" / "deletions" / "000002.json").exists()  # the buyer's record
    after = channel_supply(channel_url, terms, now=at(22, 13))
    revoked_hours = hours[1]
    assert after.revoked_accepted_hours == revoked_hours
    assert after.net_amount_due == (
        (s.accepted_hours - revoked_hours) * Decimal("600.00")
    ).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert after.model_dump(mode="json")["net_amount_due"].count(".") == 1
    assert len(after.model_dump(mode="json")["net_amount_due"].split(".")[1]) == 2
    assert describe_channel(channel_url, terms, now=at(22, 13)).batches[0].revoked

    # both ledgers hold the trade, each event once
    def kinds(name: str) -> list[str]:
        return [e.kind for e in Ledger(ledger_path(name)).entries()]

    centre_kinds = kinds("hubei-centre")
    assert centre_kinds.count("batch-published") == 3
    assert centre_kinds.count("receipt-countersigned") == 3
    assert centre_kinds.count("notice-sent") == 2
    buyer_kinds = kinds("agibot")
    assert buyer_kinds.count("batch-received") == 3 and buyer_kinds.count("receipt-issued") == 3
