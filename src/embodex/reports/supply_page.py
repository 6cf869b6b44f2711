"""The supply status as one self-contained HTML page: cards, charts per period, scene type
and skill, the batches with their receipts, the notices (``embodex supply status --html``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..contract.supply import SHORT_STATES, PeriodSupply, SupplyStatus
from ..delivery.channel_supply import SupplyReport
from ..delivery.overview import BatchLine
from ..fsutil import atomic_write_bytes
from ..units import Unit, amount, duration, in_unit, percent, plural, unit_for
from .htmlkit import Raw, page, table
from .svg import hbar_chart

__all__ = ["STATE_COLOURS", "render_supply_report", "write_supply_report"]

_ACCEPTED, _REJECTED, _PENDING = "#2e7d32", "#6a1b9a", "#9e9e9e"
_SHORT, _STILL_DUE = "#d32f2f", "#90caf9"
#: a period's state as a badge: short and missing in strong red, late in orange
STATE_COLOURS = {
    "short": "#c62828",
    "missing": "#b71c1c",
    "late": "#e65100",
    "on time": "#2e7d32",
    "delivered": "#2e7d32",
    "open": "#1565c0",
    "upcoming": "#757575",
}


class _View:
    """The page's unit and time zone: every duration in one unit, every time in the
    contract's zone (named in the headings)."""

    def __init__(self, s: SupplyStatus) -> None:
        self.unit: Unit = unit_for([s.contracted_hours])
        try:
            self.zone = ZoneInfo(s.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.zone_name = s.timezone

    def h(self, value: Decimal | None) -> str:
        return "—" if value is None else duration(value, self.unit)

    def t(self, value: datetime | None) -> str:
        return "—" if value is None else value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")


def _state(status: str) -> Raw:
    colour = STATE_COLOURS.get(status, "#555")
    return Raw(
        f'<span class="state" style="background:{colour};color:#fff">{escape(status)}</span>'
    )


def _card(value: str, label: str, kind: str = "") -> str:
    cls = f"card {kind}".strip()
    return f'<div class="{cls}"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _shortfall_card(s: SupplyStatus, v: _View) -> str:
    """The first thing a manager looks for: how much is missing, and in which periods."""
    if not s.short_periods:
        return _card("none", "periods short of the hours due", "ok")
    names = ", ".join(map(str, s.short_periods))
    return _card(
        f"{v.h(s.undelivered_to_date_hours)} short",
        f"not delivered by the deadline: {plural('period', len(s.short_periods))} {names}",
        "alert",
    )


def _cards(report: SupplyReport, v: _View) -> str:
    s = report.status
    rate = percent(s.acceptance_rate, 1) if s.acceptance_rate is not None else "—"
    behind = "alert" if s.shortfall_to_date_hours > 0 else "ok"
    return "".join(
        [
            _shortfall_card(s, v),
            _card(v.h(s.shortfall_to_date_hours), "due to date, not accepted", behind),
            _card(v.h(s.contracted_hours), "contracted"),
            _card(v.h(s.due_to_date_hours), "due to date"),
            _card(v.h(s.delivered_hours), "delivered"),
            _card(v.h(s.accepted_hours), "accepted"),
            _card(v.h(s.rejected_hours), "rejected"),
            _card(v.h(s.pending_hours), "awaiting a receipt"),
            _card(rate, "acceptance rate"),
            _card(f"{report.net_amount_due:,.2f} {s.currency}", "amount due"),
        ]
    )


def _periods(shown: list[PeriodSupply], v: _View) -> str:
    """The chart and table of the periods the status shows."""
    u = v.unit
    short = [in_unit(p.undelivered_hours, u) if p.status in SHORT_STATES else 0.0 for p in shown]
    still = [0.0 if p.status in SHORT_STATES else in_unit(p.undelivered_hours, u) for p in shown]
    chart = hbar_chart(
        "Hours per period: accepted, rejected, awaiting a receipt, short of what is due",
        [f"period {p.number} ({p.status})" for p in shown],
        [
            ("accepted", _ACCEPTED, [in_unit(p.accepted_hours, u) for p in shown]),
            ("rejected", _REJECTED, [in_unit(p.rejected_hours, u) for p in shown]),
            ("awaiting a receipt", _PENDING, [in_unit(p.pending_hours, u) for p in shown]),
            (
                "short: deadline passed",
                _SHORT,
                short,
            ),
            (
                "still due: deadline ahead",
                _STILL_DUE,
                still,
            ),
        ],
        unit=u,
        axis=f"duration ({u})",
        width=760,
        empty="no period has started",
    )
    rows = [
        [p.number, f"{p.start} .. {p.end}", v.t(p.deadline), _state(p.status), v.h(p.hours_due),
         v.h(p.delivered_hours), v.h(p.accepted_hours),
         v.h(p.undelivered_hours) if p.status in SHORT_STATES else "—",
         ", ".join(map(str, p.batches)) or "—"]
        for p in shown
    ]  # fmt: skip
    headers = ["period", "dates", f"deadline ({v.zone_name})", "state", "due", "delivered"]
    return chart + table([*headers, "accepted", "short", "batches"], rows, numeric=(0, 4, 5, 6, 7))


def _groups(s: SupplyStatus, v: _View) -> str:
    """A chart per scene type and per skill: accepted and not accepted hours."""
    u = v.unit
    charts = []
    for title, breakdown in (("scene type", s.by_scene_type), ("skill", s.by_skill)):
        names = list(breakdown)
        charts.append(
            hbar_chart(
                f"Hours per {title}",
                names,
                [
                    (
                        "accepted",
                        _ACCEPTED,
                        [in_unit(breakdown[k].accepted_hours, u) for k in names],
                    ),
                    (
                        "not accepted",
                        _PENDING,
                        [in_unit(breakdown[k].not_accepted_hours, u) for k in names],
                    ),
                ],
                unit=u,
                axis=f"delivered ({u})",
                width=560,
                empty="nothing delivered yet",
            )
        )
    return "".join(charts)


def _batch_note(b: BatchLine) -> Raw:
    parts = [f"<b>revoked</b>: {escape(b.revoked)}"] if b.revoked else []
    if b.invalid_receipt:
        parts.append(f"<b>invalid receipt</b>: {escape(b.invalid_receipt)}")
    return Raw("; ".join(parts))


def _batches(report: SupplyReport, v: _View) -> str:
    rows = [
        [
            b.number,
            v.t(b.published_at),
            b.episodes,
            v.h(b.hours),
            "—" if not b.receipt else f"{b.accepted} accepted, {b.rejected} rejected",
            v.h(b.accepted_hours),
            "yes" if b.countersigned else "no",
            _batch_note(b),
        ]
        for b in report.batches
    ]
    if not rows:
        return '<p class="meta">No batch published yet.</p>'
    headers = ["batch", f"published ({v.zone_name})", "episodes", "duration", "receipt"]
    return table([*headers, "accepted", "countersigned", "note"], rows, numeric=(0, 2, 3, 5))


def _notices(report: SupplyReport, v: _View) -> str:
    rows = [
        [n.number, v.t(n.issued_at), n.type, n.batch, n.period, n.expected_by, n.reason]
        for n in report.notices
    ]
    if not rows:
        return '<p class="meta">none</p>'
    return table(
        ["notice", f"issued ({v.zone_name})", "type", "batch", "period", "expected by", "reason"],
        rows,
    )


def render_supply_report(report: SupplyReport) -> str:
    """The HTML page of a :class:`SupplyReport` (no network needed to view it). Every figure
    comes from the report; the page only lays them out, every duration in one unit and every
    time in the contract's time zone."""
    s = report.status
    v = _View(s)
    fresh = "valid" if report.head_fresh else "expired — the channel may be frozen"
    price = amount(
        report.net_accepted_hours,
        s.price_per_accepted_hour,
        s.currency,
        v.unit,
        total=report.net_amount_due,
    )
    alerts = "".join(
        f'<p class="meta alert"><b>{escape(a.label)}</b>: {escape(a.text)}</p>'
        for a in report.alerts
    )
    body = (
        f"<h1>Supply status — {escape(s.contract_id)}</h1>"
        f'<p class="meta">as of {s.as_of}; times in {escape(v.zone_name)}, durations in '
        f"{v.unit}; channel {escape(report.url)} "
        f"({escape(report.channel_id or 'nothing published')}, head sequence "
        f"{report.head_sequence}, {fresh}); price {s.price_per_accepted_hour} {s.currency} per "
        f"accepted hour; amount due {report.net_amount_due:,.2f} {s.currency} = "
        f"{escape(price)} accepted</p>"
        f'<div class="cards">{_cards(report, v)}</div>'
        + alerts
        + f"<h2>Periods</h2>{_periods(s.shown(), v)}"
        + f'<h2>Scene types and skills</h2><div class="grid">{_groups(s, v)}</div>'
        + f"<h2>Batches and receipts</h2>{_batches(report, v)}"
        + f"<h2>Notices</h2>{_notices(report, v)}"
    )
    return page(f"Supply status {s.contract_id} {s.as_of}", body)


def write_supply_report(report: SupplyReport, path: str | Path) -> Path:
    """Write :func:`render_supply_report` to ``path`` atomically, mode 0644 like every
    report page; return the path."""
    out = Path(path)
    atomic_write_bytes(out, render_supply_report(report).encode("utf-8"), mode=0o644)
    return out
