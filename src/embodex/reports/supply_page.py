"""The supply status as one self-contained HTML page: cards, charts per period, scene type
and skill, the batches with their receipts, the notices (``embodex supply status --html``)."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from pathlib import Path

from ..contract.supply import PeriodSupply, SupplyStatus
from ..delivery.channel_supply import SupplyReport
from ..delivery.overview import BatchLine
from ..fsutil import atomic_write_bytes
from .htmlkit import Raw, page, table
from .svg import hbar_chart

__all__ = ["render_supply_report", "write_supply_report"]

_ACCEPTED, _REJECTED, _PENDING, _SHORT = "#2e7d32", "#c62828", "#9e9e9e", "#bbdefb"


def _h(value: Decimal) -> str:
    return f"{float(value):,.3f}"


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _cards(report: SupplyReport) -> str:
    s = report.status
    rate = f"{float(s.acceptance_rate) * 100:.1f} %" if s.acceptance_rate is not None else "—"
    return "".join(
        [
            _card(_h(s.contracted_hours), "hours contracted"),
            _card(_h(s.due_to_date_hours), "hours due to date"),
            _card(_h(s.delivered_hours), "hours delivered"),
            _card(_h(s.accepted_hours), "hours accepted"),
            _card(_h(s.rejected_hours), "hours rejected"),
            _card(_h(s.pending_hours), "hours awaiting a receipt"),
            _card(rate, "acceptance rate"),
            _card(f"{report.net_amount_due:,.2f} {s.currency}", "amount due"),
        ]
    )


def _periods(shown: list[PeriodSupply]) -> str:
    """The chart and table of the periods the status shows."""
    chart = hbar_chart(
        "Hours per period: accepted, rejected, awaiting a receipt, and short of what is due",
        [f"period {p.number} ({p.status})" for p in shown],
        [
            ("accepted", _ACCEPTED, [float(p.accepted_hours) for p in shown]),
            ("rejected", _REJECTED, [float(p.rejected_hours) for p in shown]),
            ("pending", _PENDING, [float(p.pending_hours) for p in shown]),
            ("short of due", _SHORT, [float(p.undelivered_hours) for p in shown]),
        ],
        unit="h",
        width=760,
    )
    rows = [
        [p.number, f"{p.start} .. {p.end}", p.deadline.isoformat(), p.status, _h(p.hours_due),
         _h(p.delivered_hours), _h(p.accepted_hours), ", ".join(map(str, p.batches)) or "—"]
        for p in shown
    ]  # fmt: skip
    headers = ["period", "dates", "deadline", "status", "due h", "delivered h", "accepted h"]
    return chart + table([*headers, "batches"], rows, numeric=(0, 4, 5, 6))


def _groups(s: SupplyStatus) -> str:
    """A chart per scene type and per skill: accepted and not accepted hours."""
    charts = []
    for title, breakdown in (("scene type", s.by_scene_type), ("skill", s.by_skill)):
        names = list(breakdown)
        charts.append(
            hbar_chart(
                f"Hours per {title}",
                names,
                [
                    ("accepted", _ACCEPTED, [float(breakdown[k].accepted_hours) for k in names]),
                    (
                        "not accepted",
                        _PENDING,
                        [float(breakdown[k].not_accepted_hours) for k in names],
                    ),
                ],
                unit="h",
                width=560,
            )
        )
    return "".join(charts)


def _batch_note(b: BatchLine) -> Raw:
    parts = [f"<b>revoked</b>: {escape(b.revoked)}"] if b.revoked else []
    if b.invalid_receipt:
        parts.append(f"<b>invalid receipt</b>: {escape(b.invalid_receipt)}")
    return Raw("; ".join(parts))


def _batches(report: SupplyReport) -> str:
    rows = [
        [
            b.number,
            b.published_at.isoformat(),
            b.episodes,
            _h(b.hours),
            "—" if not b.receipt else f"{b.accepted} accepted, {b.rejected} rejected",
            _h(b.accepted_hours) if b.accepted_hours is not None else "—",
            "yes" if b.countersigned else "no",
            _batch_note(b),
        ]
        for b in report.batches
    ]
    headers = ["batch", "published", "episodes", "hours", "receipt", "accepted h"]
    return table([*headers, "countersigned", "note"], rows, numeric=(0, 2, 3, 5))


def _notices(report: SupplyReport) -> str:
    rows = [
        [n.number, n.issued_at.isoformat(), n.type, n.batch, n.period, n.expected_by, n.reason]
        for n in report.notices
    ]
    if not rows:
        return '<p class="meta">none</p>'
    return table(["notice", "issued", "type", "batch", "period", "expected by", "reason"], rows)


def render_supply_report(report: SupplyReport) -> str:
    """The HTML page of a :class:`SupplyReport` (no network needed to view it). Every figure
    comes from the report; the page only lays them out."""
    s = report.status
    fresh = "valid" if report.head_fresh else "expired — the channel may be frozen"
    body = (
        f"<h1>Supply status — {escape(s.contract_id)}</h1>"
        f'<p class="meta">as of {s.as_of}; channel {escape(report.url)} '
        f"({escape(report.channel_id or 'nothing published')}, head sequence "
        f"{report.head_sequence}, {fresh}); price {s.price_per_accepted_hour} {s.currency} per "
        "accepted hour</p>"
        f'<div class="cards">{_cards(report)}</div>'
        + "".join(f'<p class="meta">{escape(f"{a.label}: {a.text}")}</p>' for a in report.alerts)
        + f"<h2>Periods</h2>{_periods(s.shown())}"
        + f'<h2>Scene types and skills</h2><div class="grid">{_groups(s)}</div>'
        + f"<h2>Batches and receipts</h2>{_batches(report)}"
        + f"<h2>Notices</h2>{_notices(report)}"
    )
    return page(f"Supply status {s.contract_id} {s.as_of}", body)


def write_supply_report(report: SupplyReport, path: str | Path) -> Path:
    """Write :func:`render_supply_report` to ``path`` atomically, mode 0644 like every
    report page; return the path."""
    out = Path(path)
    atomic_write_bytes(out, render_supply_report(report).encode("utf-8"), mode=0o644)
    return out
