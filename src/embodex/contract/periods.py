"""Delivery periods of a contract: ISO 8601 date durations and the schedule they make.

Period *k* (1-based) starts at ``start_date + (k-1) × cadence`` and ends the day before the
next one starts (the last is cut at ``end_date``). Its delivery is due before
``period end + 1 day + delivery_deadline``, midnight in the contract's time zone: with
``delivery_deadline: P0D`` the data is due by the end of the period's last day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DateDuration", "Period", "make_periods", "parse_duration", "period_for", "zone"]

_DURATION_RE = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class DateDuration:
    """An ISO 8601 duration in whole years, months, weeks and days (``P1W``, ``P7D``, ``P1M``)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.weeks or self.days)

    def after(self, start: date, times: int = 1) -> date:
        """``start`` plus ``times`` × this duration (months clamp to the month's last day)."""
        months = start.month - 1 + (self.years * 12 + self.months) * times
        year, month = start.year + months // 12, months % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return date(year, month, day) + timedelta(days=(self.weeks * 7 + self.days) * times)


def parse_duration(text: str) -> DateDuration:
    """Parse ``PnYnMnWnD`` (any parts, at least one). Raises ValueError with the accepted forms."""
    match = _DURATION_RE.match(text)
    if not match or text == "P":
        raise ValueError(f"{text!r} is not an ISO 8601 date duration; use e.g. P7D, P1W, P2W, P1M")
    y, m, w, d = (int(g) if g else 0 for g in match.groups())
    return DateDuration(years=y, months=m, weeks=w, days=d)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raises ValueError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like Asia/Shanghai"
        ) from None


@dataclass(frozen=True)
class Period:
    """One delivery period: ``start``..``end`` inclusive, data due before ``deadline``."""

    number: int
    start: date
    end: date
    deadline: datetime  # exclusive, aware

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def make_periods(
    start: date, end: date, cadence: DateDuration, deadline: DateDuration, tz: str
) -> list[Period]:
    """Every period of a term ``start``..``end`` (inclusive)."""
    if cadence.is_zero:
        raise ValueError("the cadence must be longer than zero")
    zinfo = zone(tz)
    periods = []
    k = 0
    while (first := cadence.after(start, k)) <= end:
        last = min(cadence.after(start, k + 1) - timedelta(days=1), end)
        due = datetime.combine(deadline.after(last + timedelta(days=1)), time(0), tzinfo=zinfo)
        periods.append(Period(number=k + 1, start=first, end=last, deadline=due))
        k += 1
    return periods


def period_for(periods: list[Period], delivered_at: datetime) -> Period | None:
    """The period a delivery at ``delivered_at`` counts for when the batch names none.

    That is the earliest period that has started and whose deadline has not passed (so a
    delivery in the grace days after a period counts for that period); None outside the term.
    """
    for period in periods:
        started = datetime.combine(period.start, time(0), tzinfo=period.deadline.tzinfo)
        if started <= delivered_at < period.deadline:
            return period
    return None
