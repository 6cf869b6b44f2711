"""Matching arithmetic, computed by hand: stock, weekly collection, ready dates, shortfall."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from embodex.errors import DemandError
from embodex.market import match_demand, parse_demand
from embodex.trust import Signer

from ._market import DEMAND, demand, holding, listing


@pytest.fixture
def centre() -> Signer:
    return Signer.ephemeral("hubei-centre", "centre")


def test_stock_collection_and_shortfall_line_by_line(centre: Signer) -> None:
    # Weeks start on Mondays from 2026-01-05; the horizon (Saturday 31st) leaves 3 whole weeks.
    result = match_demand(listing(centre), demand())
    assert result.weeks_to_horizon == 3
    a, b, c = result.lines
    # hold_cup × restaurant: 2.5 (S04 PASS) + 0.5 (S05 WARN) in stock; the FAIL episode and
    # robot R2 are left out. 7 h to collect at S04 2 + S05 1 = 3 h/week: 3 + 3 + 1 -> week 3.
    assert (a.available_now, a.from_stock, a.to_collect) == (Decimal(3), Decimal(3), Decimal(7))
    assert a.excluded == {"qc verdict FAIL": Decimal("0.25"), "robot model": Decimal("1.0")}
    assert a.scenes == ["S04", "S05", "S06"] and a.capacity_hours_per_week == Decimal(3)
    assert a.ready_by == date(2026, 1, 25) and a.shortfall == 0 and a.status == "collect"
    # fold_clothes × home: 4 h in stock, 1 h collected at S11 in week 1.
    assert (b.from_stock, b.to_collect, b.collected_by_horizon) == (4, 1, 1)
    assert b.ready_by == date(2026, 1, 11) and b.status == "collect"
    # grasp_plate × restaurant shares the restaurant scenes and comes after line 1: it gets
    # the 2 h left in week 3 and 2 h in week 4, which ends after the horizon.
    assert (c.available_now, c.to_collect, c.collected_by_horizon) == (0, 4, 2)
    assert c.ready_by == date(2026, 2, 1)
    assert c.shortfall == Decimal(2) and c.status == "shortfall"
    t = result.totals
    assert (t.hours_wanted, t.from_stock, t.to_collect) == (19, 7, 12)
    assert (t.collected_by_horizon, t.shortfall, t.ready_by) == (10, 2, date(2026, 2, 1))
    assert not result.feasible


def test_one_more_day_meets_the_demand(centre: Signer) -> None:
    result = match_demand(listing(centre), demand(**{"2026-01-31": "2026-02-01"}))
    assert result.weeks_to_horizon == 4 and result.feasible
    assert [line.status for line in result.lines] == ["collect", "collect", "collect"]


def test_no_capacity_means_never(centre: Signer) -> None:
    d = demand(
        **{
            'hours: "4"}': 'hours: "4"}\n  - {skills: [pour_water], '
            'scene_types: [hospital], hours: "3"}'
        }
    )
    line = match_demand(listing(centre), d).lines[-1]
    assert line.scenes == ["S18"] and line.capacity_hours_per_week == 0
    assert line.ready_by is None and line.shortfall == 3 and line.status == "shortfall"
    assert match_demand(listing(centre), d).totals.ready_by is None


def test_all_from_stock_is_ready_at_the_start(centre: Signer) -> None:
    d = demand(**{'hours: "10"': 'hours: "2.75"'})
    line = match_demand(listing(centre), d).lines[0]
    assert line.from_stock == Decimal("2.75") and line.to_collect == 0
    assert line.status == "in_stock" and line.ready_by == date(2026, 1, 5)


def test_filters_pass_only_scene_ids_and_robots(centre: Signer) -> None:
    only_pass = demand(**{"licence: standard": "licence: standard\nmin_qc: {verdict: PASS}"})
    a = match_demand(listing(centre), only_pass).lines[0]
    assert a.available_now == Decimal("2.5") and a.excluded["qc verdict WARN"] == Decimal("0.5")
    any_robot = demand(**{"robot_models: [R1]\n": ""})
    assert match_demand(listing(centre), any_robot).lines[0].available_now == Decimal(4)
    s05 = demand(**{'hours: "10"}': 'hours: "10", scene_ids: [S05]}'})
    a = match_demand(listing(centre), s05).lines[0]
    assert a.available_now == Decimal("0.5") and a.scenes == ["S05"]
    assert a.capacity_hours_per_week == 1
    cams = demand(
        **{"required_cameras: [head, hand_left, hand_right]": "required_cameras: [wrist]"}
    )
    assert match_demand(listing(centre), cams).lines[0].excluded == {
        "cameras": Decimal("3.0"),
        "qc verdict FAIL": Decimal("0.25"),
        "robot model": Decimal("1.0"),
    }


def test_collection_waits_for_the_centre(centre: Signer) -> None:
    # Capacity from Monday 19th: weeks 1 and 2 collect nothing.
    result = match_demand(listing(centre, capacity_available_from="2026-01-19"), demand())
    assert result.collection_from == date(2026, 1, 19)
    a = result.lines[0]
    assert a.collected_by_horizon == 3 and a.shortfall == 4 and a.ready_by == date(2026, 2, 8)


def test_exact_decimals_without_rounding(centre: Signer) -> None:
    held = [holding("hold_cup", "restaurant", "S04", "PASS", "0.000901")]
    result = match_demand(
        listing(centre, holdings=held, capacity={"S04": "0.333"}),
        demand(**{'hours: "10"': 'hours: "1.000001"'}),
    )
    a = result.lines[0]
    assert a.to_collect == Decimal("0.9991")
    # 0.333 h a week: 3 weeks collect 0.999, the 4th the last 0.0001 h (after the horizon).
    assert a.collected_by_horizon == Decimal("0.999") and a.shortfall == Decimal("0.0001")


def test_demand_file_errors() -> None:
    with pytest.raises(DemandError, match=r"hours is 10.5, a float"):
        parse_demand(DEMAND.replace('"10"', "10.5"))
    with pytest.raises(DemandError, match=r"fps is 30.0; it must be a whole number") as info:
        parse_demand(DEMAND + "fps: 30.0\n")
    assert info.value.hint == "Write e.g. fps: 30."
    with pytest.raises(DemandError, match="before start"):
        parse_demand(DEMAND.replace("horizon: 2026-01-31", "horizon: 2025-12-01"))
    with pytest.raises(DemandError, match="same skill × scene type"):
        parse_demand(DEMAND.replace("[grasp_plate]", "[hold_cup]"))
    with pytest.raises(DemandError, match="unknown field 'budgett'"):
        parse_demand(DEMAND + "budgett: 3\n")
    with pytest.raises(DemandError, match="ISO 8601"):
        parse_demand(DEMAND + "cadence: weekly\n")
