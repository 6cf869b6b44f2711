"""The supply model: every figure a view shows is computed once, in contract.supply, and the
text, --json and HTML views of one report agree on them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from html import escape
from pathlib import Path

import pytest

from embodex.contract import build_receipt, supply_status
from embodex.contract.checking import BatchSummary
from embodex.contract.receipts import Receipt
from embodex.contract.supply import collection_plan, net_supply, withdrawn_hours
from embodex.delivery import channel_supply, publish, pull, revoke_batch
from embodex.reports.supply_page import render_supply_report
from embodex.trust.types import round_money

from ._delivery import PROFILE, at, centre_dataset, contract
from ._trust import START, batch, episode, week
from .test_cli_format import run
from .test_trust_checking import BUYER, CONTRACT, DIGEST


def _receipt(b: BatchSummary, rejected: tuple[str, ...] = ()) -> Receipt:
    return build_receipt(
        CONTRACT,
        b,
        batch_manifest_digest=DIGEST,
        rejected={i: "qc fail" for i in rejected},
        qc_manifest=None,
        issued_by=BUYER,
        issued_at=b.delivered_at + timedelta(days=2),
    )


def test_the_periods_to_show_are_computed_once_in_the_status() -> None:
    # before the term: only the first period, which is upcoming
    early = supply_status(CONTRACT, [], [], START - timedelta(days=3))
    assert early.shown_periods == [1] and early.periods[0].status == "upcoming"
    # weeks in: every period that started, the next upcoming one, and one delivered ahead
    ahead = batch(2, week(1), [episode(2000 + i) for i in range(50)], period=9)
    status = supply_status(CONTRACT, [], [batch(1, week(1)), ahead], week(3) + timedelta(days=1))
    assert status.shown_periods == [1, 2, 3, 4, 5, 9]
    assert [p.status for p in status.shown()] == [
        "short", "missing", "open", "open", "upcoming", "open"
    ]  # fmt: skip
    assert [p.number for p in status.shown()] == status.shown_periods
    assert all(p.status == "upcoming" for p in status.periods if p.number not in {1, 2, 3, 4, 9})


def test_per_period_figures_add_up_and_breakdowns_carry_what_was_not_accepted() -> None:
    b1 = batch(1, week(1))  # 25 h, two episodes rejected
    b2 = batch(2, week(1) + timedelta(days=5), [episode(2000), episode(2001)], replacement_for=1)
    b3 = batch(3, week(2), [episode(3000 + i, scene_type="factory") for i in range(10)])
    r1, r2 = _receipt(b1, ("hubei:1000", "hubei:1001")), _receipt(b2)
    status = supply_status(CONTRACT, [r1, r2], [b1, b2, b3], week(4))
    p1, p2 = status.periods[0], status.periods[1]
    # the replacement counts in its original's period
    assert (p1.batches, p1.delivered_hours, p1.accepted_hours) == ([1, 2], 26, 25)
    assert (p1.rejected_hours, p1.pending_hours) == (1, 0)
    assert (p2.batches, p2.delivered_hours, p2.pending_hours, p2.rejected_hours) == ([3], 5, 5, 0)
    for p in status.periods:
        assert p.accepted_hours + p.rejected_hours + p.pending_hours == p.delivered_hours
        assert p.undelivered_hours == max(p.hours_due - p.delivered_hours, Decimal(0))
    factory = status.by_scene_type["factory"]
    assert (factory.delivered_hours, factory.accepted_hours, factory.not_accepted_hours) == (
        5,
        0,
        5,
    )
    restaurant = status.by_scene_type["restaurant"]
    assert (restaurant.delivered_hours, restaurant.accepted_hours) == (26, 25)
    assert restaurant.not_accepted_hours == 1


def _plan_inputs() -> tuple[list[BatchSummary], dict[int, Receipt], dict[int, list[str]]]:
    b1 = batch(1, week(1))
    b2 = batch(2, week(1) + timedelta(days=5), [episode(2000), episode(2001)], replacement_for=1)
    b3 = batch(3, week(2), [episode(3000 + i, scene_type="factory") for i in range(50)])
    b4 = batch(4, week(3), [episode(4000 + i) for i in range(50)])  # no receipt: pending
    b5 = batch(5, week(3), [episode(5000), episode(5001)], replacement_for=3)
    receipts = {
        1: _receipt(b1, ("hubei:1000", "hubei:1001")),
        2: _receipt(b2),
        3: _receipt(b3),
        5: _receipt(b5),
    }
    # batch 3 revoked in part after it was accepted; its replacement (5) revoked as a whole
    revoked = {3: [f"hubei:{3000 + i:04d}" for i in range(10)], 5: ["hubei:5000", "hubei:5001"]}
    return [b1, b2, b3, b4, b5], receipts, revoked


def test_revoked_hours_are_netted_out_of_the_amount_due() -> None:
    batches, receipts, revoked = _plan_inputs()
    status = supply_status(CONTRACT, receipts.values(), batches, week(5), revoked=revoked.keys())
    assert withdrawn_hours(batches, receipts, revoked) == Decimal("6.0")  # 10 + 2 half hours
    net = net_supply(status, batches, receipts, revoked)
    assert net.revoked_accepted_hours == 6 and net.net_accepted_hours == status.accepted_hours - 6
    assert net.net_amount_due == round_money(net.net_accepted_hours * 600, "CNY")
    assert status.amount_due - net.net_amount_due == Decimal("3600.00")


def test_the_collection_plan_is_contract_arithmetic() -> None:
    batches, receipts, revoked = _plan_inputs()
    today = week(5)
    status = supply_status(CONTRACT, receipts.values(), batches, today, revoked=revoked.keys())
    net = net_supply(status, batches, receipts, revoked)
    recorded = [
        *batches[0].episodes[:3],
        *(episode(9000 + i, skill="fold_clothes") for i in range(3)),
    ]
    plan = collection_plan(CONTRACT, status, net, batches, receipts, revoked, recorded)
    rows = {r.batch: r for r in plan.replacements}
    assert (rows[1].episodes, rows[1].hours, rows[1].replaced_by, rows[1].replaced_hours) == (
        2, 1, [2], 1
    )  # fmt: skip
    assert rows[1].due == receipts[1].replacement_due and not rows[1].revoked
    # a replacement revoked itself does not count as done
    assert rows[3].revoked and rows[3].episodes == 10 and rows[3].replaced_by == []
    assert rows[5].revoked and rows[5].due is None
    assert plan.accepted_hours == net.net_accepted_hours
    assert plan.pending_hours == status.pending_hours == 25
    assert plan.ready_hours == Decimal("1.5")  # delivered episodes are not ready again
    assert plan.remaining_hours == 2000 - net.net_accepted_hours - 25
    assert plan.to_collect_hours == plan.remaining_hours - Decimal("1.5")
    upcoming = [p for p in status.periods if p.status in ("open", "upcoming")]
    assert plan.periods_left == len(upcoming) and plan.next_period == upcoming[0].number
    share = plan.remaining_hours / len(upcoming)
    assert abs(plan.hours_per_period_needed - share) < Decimal("0.001")  # type: ignore[operator]
    skills = {r.name: r for r in plan.by_skill}
    assert skills["fold_clothes"].ready_hours == Decimal("1.5")
    assert skills["hold_cup"].pending_hours == 25
    assert skills["hold_cup"].target_hours == Decimal("666.667")
    # accepted per skill: net of revoked episodes, as in the totals
    assert sum(r.accepted_hours for r in plan.by_skill) == plan.accepted_hours
    assert plan.revoked_accepted_hours == net.revoked_accepted_hours


def test_text_json_and_html_show_the_same_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 3, defects={2: "nan"})
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    pull(url, terms, buyer, store, now=at(5, 12))
    centre_dataset(src, 2, first=3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(12))  # no receipt: pending
    revoke_batch(url, terms, centre, 1, "consent withdrawn", now=at(13))
    report = channel_supply(url, terms, now=at(22))
    s = report.status
    assert report.revoked_accepted_hours > 0 and report.alerts
    assert {a.label for a in report.alerts} >= {"revoked", "overdue"}

    common = ["--channel", url, "--contract", str(terms), "--at", at(22).isoformat()]
    code, out, _ = run(["supply", "status", *common, "--json"], capsys)
    assert code == 0 and json.loads(out) == json.loads(report.model_dump_json())
    code, text, _ = run(["supply", "status", *common], capsys)
    assert code == 0
    html = render_supply_report(report)

    # the periods listed: the same ones, from the status, in both views
    table = text.split("\nperiod ", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert [int(line.split()[0]) for line in table] == s.shown_periods
    charted = [int(n) for n in re.findall(r"period (\d+) \((?:[a-z ]+)\)", html)]
    assert list(dict.fromkeys(charted)) == s.shown_periods
    assert len(s.shown_periods) < len(s.periods)
    # the amount due and every alert
    due = f"{report.net_amount_due:,.2f} {s.currency}"
    assert f"amount due   {due}" in text and due in html
    # how it is made, hours and price in one unit, multiplying back to the amount
    made = re.search(r"amount due   [\d,.]+ CNY \(([\d,.]+) h × ([\d,.]+) CNY/h accepted", text)
    assert made, text
    product = Decimal(made[1].replace(",", "")) * Decimal(made[2].replace(",", ""))
    assert abs(product - report.net_amount_due) <= Decimal("0.005")
    assert f"{made[1]} h × {made[2]} CNY/h accepted" in html
    for a in report.alerts:
        assert f"  {a.label:<12} {a.text}" in text
        assert f"<b>{escape(a.label)}</b>: {escape(a.text)}" in html
