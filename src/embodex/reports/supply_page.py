"""The supply status as one self-contained HTML page: cards, charts per period, scene type
and skill, the batches with their receipts, the notices (``embodex supply status --html``)."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from pathlib import Path

from ..delivery.channel_supply import SupplyReport, supply_alerts
from ..fsutil import atomic_write_bytes
from .htmlkit import Raw, page, table
from .svg import hbar_chart

__all__ = ["render_supply_report", "write_supply_report"]

_ACCEPTED, _REJECTED, _PENDING, _SHORT = "#2e7d32", "#c62828", "#9e9e9e", "#bbdefb"


def _h(value: Decimal) -> str:
    return f"{float(value):,.3f}"


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def render_supply_report(report: SupplyReport) -> str:
    """The HTML page of a :class:`SupplyReport` (no network needed to view it)."""
    s = report.status
    rate = f"{float(s.acceptance_rate) * 100:.1f} %" if s.acceptance_rate is not None else "—"
    cards = [
        _card(_h(s.contracted_hours), "hours contracted"),
        _card(_h(s.due_to_date_hours), "hours due to date"),
        _card(_h(s.delivered_hours), "hours delivered"),
        _card(_h(s.accepted_hours), "hours accepted"),
        _card(_h(s.rejected_hours), "hours rejected"),
        _card(_h(s.pending_hours), "hours awaiting a receipt"),
        _card(rate, "acceptance rate"),
        _card(f"{report.net_amount_due:,.2f} {s.currency}", "amount due"),
    ]
    shown = [p for p in s.periods if p.status != "upcoming"]
    shown += [p for p in s.periods if p.status == "upcoming"][:1]
    rejected_by_period: dict[int, Decimal] = {}
    pending_by_period: dict[int, Decimal] = {}
    lines = {b.number: b for b in report.batches}
    for p in shown:
        for n in p.batches:
            b = lines[n]
            if b.receipt and b.accepted_hours is not None:
                rejected_by_period[p.number] = (
                    rejected_by_period.get(p.number, Decimal(0)) + b.hours - b.accepted_hours
                )
            else:
                pending_by_period[p.number] = pending_by_period.get(p.number, Decimal(0)) + b.hours
    periods_chart = hbar_chart(
        "Hours per period: accepted, rejected, awaiting a receipt, and short of what is due",
        [f"period {p.number} ({p.status})" for p in shown],
        [
            ("accepted", _ACCEPTED, [float(p.accepted_hours) for p in shown]),
            ("rejected", _REJECTED, [float(rejected_by_period.get(p.number, 0)) for p in shown]),
            ("pending", _PENDING, [float(pending_by_period.get(p.number, 0)) for p in shown]),
            (
                "short of due",
                _SHORT,
                [float(max(p.hours_due - p.delivered_hours, Decimal(0))) for p in shown],
            ),
        ],
        unit="h",
        width=760,
    )
    groups = []
    for title, breakdown in (("scene type", s.by_scene_type), ("skill", s.by_skill)):
        names = list(breakdown)
        groups.append(
            hbar_chart(
                f"Hours per {title}",
                names,
                [
                    ("accepted", _ACCEPTED, [float(breakdown[k].accepted_hours) for k in names]),
                    (
                        "not accepted",
                        _PENDING,
                        [
                            float(breakdown[k].delivered_hours - breakdown[k].accepted_hours)
                            for k in names
                        ],
                    ),
                ],
                unit="h",
                width=560,
            )
        )
    period_rows = [
        [p.number, f"{p.start} .. {p.end}", p.deadline.isoformat(), p.status, _h(p.hours_due),
         _h(p.delivered_hours), _h(p.accepted_hours), ", ".join(map(str, p.batches)) or "—"]
        for p in shown
    ]  # fmt: skip
    batch_rows = [
        [
            b.number,
            b.published_at.isoformat(),
            b.episodes,
            _h(b.hours),
            "—" if not b.receipt else f"{b.accepted} accepted, {b.rejected} rejected",
            _h(b.accepted_hours) if b.accepted_hours is not None else "—",
            "yes" if b.countersigned else "no",
            Raw(
                "; ".join(
                    [
                        *([f"<b>revoked</b>: {escape(b.revoked)}"] if b.revoked else []),
                        *(
                            [f"<b>invalid receipt</b>: {escape(b.invalid_receipt)}"]
                            if b.invalid_receipt
                            else []
                        ),
                    ]
                )
            ),
        ]
        for b in report.batches
    ]
    notice_rows = [
        [n.number, n.issued_at.isoformat(), n.type, n.batch, n.period, n.expected_by, n.reason]
        for n in report.notices
    ]
    problems = [f"{label}: {text}" for label, text in supply_alerts(report)]
    fresh = "valid" if report.head_fresh else "expired — the channel may be frozen"
    body = (
        f"<h1>Supply status — {escape(s.contract_id)}</h1>"
        f'<p class="meta">as of {s.as_of}; channel {escape(report.url)} '
        f"({escape(report.channel_id or 'nothing published')}, head sequence "
        f"{report.head_sequence}, {fresh}); price {s.price_per_accepted_hour} {s.currency} per "
        "accepted hour</p>"
        f'<div class="cards">{"".join(cards)}</div>'
        + "".join(f'<p class="meta">{escape(x)}</p>' for x in problems)
        + f"<h2>Periods</h2>{periods_chart}"
        + table(
            [
                "period",
                "dates",
                "deadline",
                "status",
                "due h",
                "delivered h",
                "accepted h",
                "batches",
            ],
            period_rows,
            numeric=(0, 4, 5, 6),
        )
        + f'<h2>Scene types and skills</h2><div class="grid">{"".join(groups)}</div>'
        + "<h2>Batches and receipts</h2>"
        + table(
            [
                "batch",
                "published",
                "episodes",
                "hours",
                "receipt",
                "accepted h",
                "countersigned",
                "note",
            ],
            batch_rows,
            numeric=(0, 2, 3, 5),
        )
        + "<h2>Notices</h2>"
        + (
            table(
                ["notice", "issued", "type", "batch", "period", "expected by", "reason"],
                notice_rows,
            )
            if notice_rows
            else '<p class="meta">none</p>'
        )
    )
    return page(f"Supply status {s.contract_id} {s.as_of}", body)


def write_supply_report(report: SupplyReport, path: str | Path) -> Path:
    """Write :func:`render_supply_report` to ``path`` atomically; return the path."""
    out = Path(path)
    atomic_write_bytes(out, render_supply_report(report).encode("utf-8"))
    return out
