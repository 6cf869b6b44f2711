"""A period's state is decided by its figures — hours delivered against hours due, and when
they came against the deadline — at the boundaries: exactly the hours due, a thousandth of an
hour less, a batch at the deadline's instant and a microsecond before it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from embodex.contract import supply_status
from embodex.contract.checking import BatchSummary
from embodex.contract.supply import NetSupply, SupplyStatus, period_state
from embodex.delivery.channel_supply import SupplyAlert, _alerts

from ._trust import episode
from .test_trust_checking import CONTRACT

PERIOD = CONTRACT.periods()[0]
DUE = CONTRACT.hours_due_per_period()[0][1]  # 2000 h over 52 weeks: 38.462 h
AFTER = PERIOD.deadline.date() + timedelta(days=1)  # the day supply is judged on
DURING = PERIOD.start + timedelta(days=2)


def _batch(n: int, hours: Decimal, at: timedelta, period: int = 1) -> BatchSummary:
    """One batch for ``period`` delivered ``at`` from period 1's deadline."""
    return BatchSummary(
        batch_number=n,
        delivered_at=PERIOD.deadline + at,
        episodes=[episode(n * 1000, str(hours))],
        period=period,
    )


def _state(batches: list[BatchSummary], today: object = AFTER) -> str:
    status = supply_status(CONTRACT, [], batches, today)  # type: ignore[arg-type]
    return status.periods[0].status


BEFORE = -timedelta(microseconds=1)
LESS = Decimal("0.001")


@pytest.mark.parametrize(
    ("batches", "today", "state"),
    [
        ([], DURING, "open"),
        ([], AFTER, "missing"),
        ([_batch(1, DUE, BEFORE)], AFTER, "on time"),  # exactly the hours due, in time
        ([_batch(1, DUE, BEFORE)], DURING, "delivered"),  # in full, deadline still ahead
        ([_batch(1, DUE - LESS, BEFORE)], AFTER, "short"),  # a thousandth of an hour short
        ([_batch(1, DUE - LESS, BEFORE)], DURING, "open"),
        ([_batch(1, DUE, timedelta(0))], AFTER, "late"),  # at the deadline's instant
        ([_batch(1, DUE - LESS, timedelta(0))], AFTER, "short"),  # late and still short
        # most in time, the rest after the deadline: due reached only late
        ([_batch(1, DUE - LESS, BEFORE), _batch(2, LESS, timedelta(hours=1))], AFTER, "late"),
        # in full before the deadline: a late extra batch does not make it late
        ([_batch(1, DUE, BEFORE), _batch(2, LESS, timedelta(hours=1))], AFTER, "on time"),
    ],
)
def test_the_state_follows_the_figures(
    batches: list[BatchSummary], today: object, state: str
) -> None:
    assert _state(batches, today) == state


def test_thirty_seconds_of_nine_hours_is_short_not_delivered() -> None:
    # the case: 30.5 s of 8.85 h due arrived on time
    assert period_state(
        Decimal("8.85"), Decimal("0.008481"), Decimal("0.008481"), started=True,
        deadline_passed=True,
    ) == "short"  # fmt: skip
    assert period_state(
        Decimal("8.85"), Decimal("0.008481"), Decimal("0.008481"), started=True,
        deadline_passed=False,
    ) == "open"  # fmt: skip
    # a period delivered for ahead of its start, and one not started with nothing
    ahead = {"started": False, "deadline_passed": False}
    assert period_state(Decimal(1), Decimal(1), Decimal(1), **ahead) == "delivered"
    assert period_state(Decimal(1), Decimal(0), Decimal(0), **ahead) == "upcoming"


def test_short_periods_and_the_undelivered_hours_are_in_the_status() -> None:
    s: SupplyStatus = supply_status(CONTRACT, [], [_batch(1, Decimal("10"), BEFORE)], AFTER)
    assert s.periods[0].status == "short" and s.short_periods == [1]
    assert s.undelivered_to_date_hours == DUE - 10 == s.periods[0].undelivered_hours
    alerts = _alerts(s, NetSupply(revoked_accepted_hours=0, net_accepted_hours=0,
                                  net_amount_due=0), [])  # fmt: skip
    short = [a for a in alerts if a.label == "short"]
    assert short == [SupplyAlert(label="short", text="period 1 (10.00 h of 38.46 h due)")]
