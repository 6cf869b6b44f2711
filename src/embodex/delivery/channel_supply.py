"""Supply status and the centre's supply plan, read from the channel (everything verified).

This module only reads: the batch manifests, the buyer's receipts and the notices of a
channel (:func:`~embodex.delivery.overview.read_snapshot`), and for the plan the centre's
dataset. Every figure — hours due, delivered and accepted per period, scene type and skill;
late and missing deliveries; acceptance rate; amounts due net of revocations; what is left
to collect — comes from the contract's rules in :mod:`embodex.contract.supply`, computed
once into :class:`SupplyReport` and :class:`SupplyPlan`, which the text, ``--json`` and
HTML views only render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import Field

from ..contract import VerifiedContract
from ..contract import supply_status as contract_supply_status
from ..contract.checking import BatchSummary
from ..contract.receipts import Receipt
from ..contract.supply import (
    CollectionPlan,
    NetSupply,
    PlanRow,
    Replacement,
    SupplyStatus,
    collection_plan,
    net_supply,
    supply_day,
)
from ..format import open_dataset
from ..trust import Identity
from ..trust.types import Timestamp, TrustModel
from ..units import duration, plural
from .channel import open_channel, utc_now
from .overview import (
    BatchLine,
    ChannelSnapshot,
    NoticeLine,
    batch_lines,
    notice_lines,
    read_snapshot,
)
from .staging import batch_episodes

__all__ = [
    "PlanRow",
    "Replacement",
    "SupplyAlert",
    "SupplyPlan",
    "SupplyReport",
    "channel_supply",
    "supply_alerts",
    "supply_plan",
]


class SupplyAlert(TrustModel):
    """One thing that needs attention, as every view shows it."""

    label: str = Field(
        description="revoked, withdrawn, backdated, invalid, short, late, missing, overdue or "
        "deletion."
    )
    text: str


class SupplyReport(NetSupply):
    """``embodex supply status``: the contract's status plus the channel's view, holding
    every figure the text, ``--json`` and HTML views show (the net figures from
    :class:`NetSupply`)."""

    url: str
    channel_id: str | None
    head_sequence: int
    head_expires_at: Timestamp | None
    head_fresh: bool
    status: SupplyStatus
    batches: list[BatchLine]
    notices: list[NoticeLine]
    deletions_confirmed: list[int] = Field(
        default_factory=list,
        description="Revocation notices the buyer confirmed with a signed deletion receipt "
        "on the channel.",
    )
    deletions_awaited: list[int] = Field(
        default_factory=list,
        description="Revocation notices of episodes the buyer accepted, with no deletion "
        "receipt on the channel yet.",
    )
    alerts: list[SupplyAlert] = Field(
        description="What needs attention: revoked hours, backdated batches, receipts on the "
        "channel that do not verify, late batches, missing periods, receipts overdue."
    )


def supply_alerts(report: SupplyReport) -> list[tuple[str, str]]:
    """``report.alerts`` as (label, text) pairs."""
    return [(a.label, a.text) for a in report.alerts]


def _alerts(status: SupplyStatus, net: NetSupply, batches: list[BatchLine]) -> list[SupplyAlert]:
    out = []
    if net.revoked_accepted_hours:
        out.append(
            SupplyAlert(
                label="revoked",
                text=f"{duration(net.revoked_accepted_hours)} accepted then revoked: net "
                f"{duration(net.net_accepted_hours)}, "
                f"{net.net_amount_due:,.2f} {status.currency} due",
            )
        )
    if net.withdrawn_hours:
        out.append(
            SupplyAlert(
                label="withdrawn",
                text=f"{duration(net.withdrawn_hours)} delivered then withdrawn by "
                f"revocations: {duration(net.net_delivered_hours)} delivered net",
            )
        )
    backdated = [
        str(b.number) for b in batches if b.delivered_at and b.delivered_at > b.published_at
    ]
    if backdated:
        out.append(
            SupplyAlert(
                label="backdated",
                text=f"{plural('batch', len(backdated))} {', '.join(backdated)}: on the "
                "channel later than they say (the buyer's receipts judge them by when they "
                "appeared)",
            )
        )
    out += [
        SupplyAlert(
            label="invalid", text=f"receipt for batch {b.number} not used: {b.invalid_receipt}"
        )
        for b in batches
        if b.invalid_receipt
    ]
    short = [p for p in status.periods if p.status == "short"]
    if short:
        figures = ", ".join(
            f"{p.number} ({duration(p.delivered_hours)} of {duration(p.hours_due)} due)"
            for p in short
        )
        out.append(SupplyAlert(label="short", text=f"{plural('period', len(short))} {figures}"))
    for label, what, numbers in (
        ("late", "batch", status.late_batches),
        ("missing", "period", status.missing_periods),
        ("overdue", "receipts for batch", status.overdue_receipts),
    ):
        if numbers:
            words = plural(what, len(numbers))
            out.append(SupplyAlert(label=label, text=f"{words} {', '.join(map(str, numbers))}"))
    return out


@dataclass(frozen=True)
class _Facts:
    """What the supply rules judge, as the channel holds it: the batches (as the contract
    sees them), the verified receipts by batch, and the episodes each revocation withdrew."""

    batches: list[BatchSummary]
    receipts: dict[int, Receipt]
    revoked: dict[int, list[str]]

    @classmethod
    def of(cls, snap: ChannelSnapshot) -> _Facts:
        return cls(
            batches=[m.summary() for m, _ in snap.manifests],
            receipts={n: r.receipt for n, r in snap.receipts.items()},
            revoked=snap.revoked(),
        )


def channel_supply(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    *,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
) -> SupplyReport:
    """The supply status of the contract as its channel shows it, on ``now``'s date.

    Raises the verification errors of the channel readers for the centre's documents and
    ``StorageError``; a buyer's receipt that does not verify is not used and is reported
    (``batches[n].invalid_receipt``, and in ``alerts``).

    Example::

        report = channel_supply("s3://acme/deliveries", "contract.signed.json")
        print(report.status.accepted_hours, report.net_amount_due, report.status.currency)
    """
    now = now or utc_now()
    snap = read_snapshot(open_channel(url, contract, trusted=trusted, at=now))
    return _report(snap, now)


def _accounts(
    snap: ChannelSnapshot, facts: _Facts, now: datetime
) -> tuple[SupplyStatus, NetSupply]:
    """The contract's status of ``facts`` on ``now``'s date, and the same net of revocations."""
    channel = snap.channel
    status = contract_supply_status(
        channel.verified,
        facts.receipts.values(),
        facts.batches,
        supply_day(channel.contract, now),
        revoked=facts.revoked.keys(),
    )
    return status, net_supply(status, facts.batches, facts.receipts, facts.revoked)


def _report(snap: ChannelSnapshot, now: datetime) -> SupplyReport:
    status, net = _accounts(snap, _Facts.of(snap), now)
    head = snap.head.head if snap.head else None
    batches = batch_lines(snap)
    return SupplyReport(
        url=snap.channel.url,
        channel_id=head.channel_id if head else None,
        head_sequence=head.sequence if head else 0,
        head_expires_at=head.expires_at if head else None,
        head_fresh=bool(head and head.expires_at > now),
        status=status,
        batches=batches,
        notices=notice_lines(snap),
        **dict(net),
        deletions_confirmed=sorted(snap.deletions),
        deletions_awaited=snap.deletions_awaited(),
        alerts=[
            *_alerts(status, net, batches),
            *(
                [
                    SupplyAlert(
                        label="deletion",
                        text="no deletion receipt from the buyer yet for revocation notices "
                        + ", ".join(map(str, snap.deletions_awaited())),
                    )
                ]
                if snap.deletions_awaited()
                else []
            ),
        ],
    )


# -- the centre's plan ---------------------------------------------------------------------


class SupplyPlan(CollectionPlan):
    """``embodex supply plan``: what remains to be collected to meet the contract, and the
    channel's notices behind it."""

    delays: list[NoticeLine]
    revocations: list[NoticeLine] = Field(
        description="Batches the centre withdrew; their accepted hours no longer count."
    )
    notices: list[NoticeLine] = Field(description="Every notice on the channel.")


def supply_plan(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    *,
    dataset: str | Path | None = None,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
) -> SupplyPlan:
    """What the centre still has to collect and deliver (:func:`embodex.contract.supply.
    collection_plan` on what the channel holds).

    ``dataset``: the centre's dataset; its episodes not yet delivered count as ready.

    Example::

        plan = supply_plan("s3://acme/deliveries", "contract.signed.json",
                           dataset="centre/all")
        for row in plan.by_scene_type:
            print(row.name, row.to_collect_hours)
    """
    now = now or utc_now()
    channel = open_channel(url, contract, trusted=trusted, at=now)
    snap = read_snapshot(channel)
    facts = _Facts.of(snap)
    status, net = _accounts(snap, facts, now)
    recorded = batch_episodes(open_dataset(dataset)) if dataset is not None else []
    plan = collection_plan(
        channel.contract, status, net, facts.batches, facts.receipts, facts.revoked, recorded
    )
    notices = notice_lines(snap)
    return SupplyPlan(
        **dict(plan),
        delays=[n for n in notices if n.type == "delay"],
        revocations=[n for n in notices if n.type == "revocation"],
        notices=notices,
    )
