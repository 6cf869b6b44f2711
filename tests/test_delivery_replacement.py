"""Replacement batches: only a batch with rejected or revoked episodes can be replaced, the
label survives a publish cut short, and buyers judge anything else as an ordinary batch."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.contract import SupplyStatus, supply_status, verify_contract_file
from embodex.contract.checking import BatchSummary, replaced_batch
from embodex.delivery import (
    channel_supply,
    open_channel,
    publish,
    pull,
    revoke_batch,
    supply_plan,
)
from embodex.errors import DeliveryError

from ._delivery import PROFILE, Crash, at, centre_dataset, contract, uploads_die_after


def test_only_rejected_or_revoked_batches_can_be_replaced(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    centre_dataset(src, 1, first=3)
    # no receipt yet, then a receipt that rejected nothing: nothing to replace
    with pytest.raises(DeliveryError, match="batch 1 has no receipt yet"):
        publish(src, url, terms, centre, profile=PROFILE, now=at(6), replacement_for=1)
    pull(url, terms, buyer, store, now=at(5, 12))
    with pytest.raises(DeliveryError, match="batch 1 had nothing rejected"):
        publish(src, url, terms, centre, profile=PROFILE, now=at(6), replacement_for=1)
    with pytest.raises(DeliveryError, match="no batch 7"):
        publish(src, url, terms, centre, profile=PROFILE, now=at(6), replacement_for=7)
    # revoked: its episodes are to replace, and the plan says which batch did
    revoke_batch(url, terms, centre, 1, "consent withdrawn", now=at(6))
    done = publish(src, url, terms, centre, profile=PROFILE, now=at(7), replacement_for=1)
    assert done.number == 2
    (row,) = supply_plan(url, terms, now=at(8)).replacements
    assert (row.batch, row.revoked, row.episodes, row.replaced_by) == (1, True, 3, [2])
    assert row.replaced_hours == done.hours
    # a replacement that is revoked itself no longer counts as done
    revoke_batch(url, terms, centre, 2, "wrong robot", now=at(8))
    rows = {r.batch: r for r in supply_plan(url, terms, now=at(9)).replacements}
    assert rows[1].replaced_by == [] and rows[1].replaced_hours == Decimal(0)


def test_a_cut_short_replacement_resumes_as_a_replacement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 3, defects={2: "nan"})
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    assert pull(url, terms, buyer, store, now=at(5, 12)).batches[0].rejected == 1
    centre_dataset(src, 1, first=3)
    with uploads_die_after(2), pytest.raises(Crash):
        publish(src, url, terms, centre, profile=PROFILE, now=at(6), replacement_for=1, workers=1)
    # asking for another label on the re-run is refused; a plain re-run keeps the staged one
    with pytest.raises(DeliveryError, match="staged with period None"):
        publish(src, url, terms, centre, profile=PROFILE, now=at(6, 1), period=3)
    done = publish(src, url, terms, centre, profile=PROFILE, now=at(6, 1))
    assert done.number == 2
    manifest = open_channel(url, terms).read_manifest(2, done.channel_id)[0]
    assert manifest.replacement_for == 1
    pull(url, terms, buyer, store, now=at(6, 12))
    assert channel_supply(url, terms, now=at(7)).status.late_replacements == []


def test_buyers_judge_a_false_replacement_as_an_ordinary_batch(tmp_path: Path) -> None:
    terms, _, _ = contract(tmp_path)
    verified = verify_contract_file(terms)
    first = verified.contract.periods()[0]
    late = first.deadline + timedelta(days=20)

    def batch(n: int, when: datetime, replaces: int | None) -> BatchSummary:
        return BatchSummary(
            batch_number=n, delivered_at=when, replacement_for=replaces, episodes=[]
        )

    ok, claim = batch(1, first.deadline - timedelta(days=1), None), batch(2, late, 1)
    # batch 1 had nothing rejected and was not revoked: 2 is no replacement
    assert replaced_batch(claim, set()) is None
    assert replaced_batch(claim, {1}) == 1
    assert replaced_batch(batch(2, late, 3), {3}) is None  # a later batch: never

    def period_of(status: SupplyStatus, n: int) -> int:
        (p,) = [p.number for p in status.periods if n in p.batches]
        return p

    # judged as an ordinary batch: it counts for the period it was delivered in
    status = supply_status(verified, [], [ok, claim], late.date())
    assert period_of(status, 2) > 1
    # batch 1 revoked: 2 really replaces it and counts for period 1, like its original
    status = supply_status(verified, [], [ok, claim], late.date(), revoked=[1])
    assert period_of(status, 2) == 1 and status.late_batches == []
