"""Supply status and the centre's supply plan, read from the channel (everything verified).

``channel_supply`` gathers the batch manifests, the buyer's receipts and the notices of a
channel and hands them to :func:`embodex.trust.supply_status` (hours due, delivered and
accepted per period, scene type and skill; late and missing deliveries; acceptance rate;
amount due). Revoked batches are netted out: their accepted hours stay in the receipts
(signed, unchangeable) but no longer count towards the amount due.

``supply_plan`` turns that into what the centre still has to collect: hours remaining per
scene type and skill (the contract sets a total, not quotas per scene: the plan spreads the
total evenly over the scene types and skills in scope), hours needed per remaining period,
episodes to replace, delays and revocations, and — given the centre's dataset — hours
recorded but not delivered.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from pydantic import Field

from ..contract import VerifiedContract
from ..contract import supply_status as trust_supply_status
from ..contract.checking import replaced_batch
from ..contract.periods import zone
from ..contract.supply import SupplyStatus
from ..format import open_dataset
from ..trust import Identity
from ..trust.types import Dec, Hours, IsoDate, Timestamp, TrustModel, dec_str, round_money
from .channel import Channel, open_channel, utc_now
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
    "SupplyPlan",
    "SupplyReport",
    "channel_supply",
    "supply_alerts",
    "supply_plan",
]


class SupplyReport(TrustModel):
    """``embodex supply status``: the trust layer's status plus the channel's view."""

    url: str
    channel_id: str | None
    head_sequence: int
    head_expires_at: Timestamp | None
    head_fresh: bool
    status: SupplyStatus
    batches: list[BatchLine]
    notices: list[NoticeLine]
    revoked_accepted_hours: Hours
    net_accepted_hours: Hours = Field(description="Accepted hours less revoked ones.")
    net_amount_due: Dec = Field(
        description="net_accepted_hours × price, rounded half-up to the currency's minor unit: "
        "the amount due."
    )


def supply_alerts(report: SupplyReport) -> list[tuple[str, str]]:
    """What needs attention, as (label, text): revoked hours, backdated batches, receipts on
    the channel that do not verify, late batches, missing periods, receipts overdue. Shared
    by the text and HTML renderings."""
    s = report.status
    out = []
    if report.revoked_accepted_hours:
        out.append(
            (
                "revoked",
                f"{dec_str(report.revoked_accepted_hours)} h accepted then revoked: net "
                f"{dec_str(report.net_accepted_hours)} h, "
                f"{report.net_amount_due:,.2f} {s.currency} due",
            )
        )
    backdated = [
        str(b.number) for b in report.batches if b.delivered_at and b.delivered_at > b.published_at
    ]
    if backdated:
        out.append(
            (
                "backdated",
                f"batches {', '.join(backdated)}: on the channel later than they say (the "
                "buyer's receipts judge them by when they appeared)",
            )
        )
    for b in report.batches:
        if b.invalid_receipt:
            out.append(("invalid", f"receipt for batch {b.number} not used: {b.invalid_receipt}"))
    for label, what, numbers in (
        ("late", "batches", s.late_batches),
        ("missing", "periods", s.missing_periods),
        ("overdue", "receipts for batches", s.overdue_receipts),
    ):
        if numbers:
            out.append((label, f"{what} {', '.join(map(str, numbers))}"))
    return out


def _today(channel: Channel, now: datetime) -> date:
    return now.astimezone(zone(channel.contract.schedule.timezone)).date()


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
    (``batches[n].invalid_receipt``, and in :func:`supply_alerts`).

    Example::

        report = channel_supply("s3://acme/deliveries", "contract.signed.json")
        print(report.status.accepted_hours, report.net_amount_due, report.status.currency)
    """
    now = now or utc_now()
    channel = open_channel(url, contract, trusted=trusted, at=now)
    snap = read_snapshot(channel)
    return _report(snap, now)


def _report(snap: ChannelSnapshot, now: datetime) -> SupplyReport:
    channel = snap.channel
    status = trust_supply_status(
        channel.verified,
        [r.receipt for r in snap.receipts.values()],
        [m.summary() for m, _ in snap.manifests],
        _today(channel, now),
        revoked=snap.revoked().keys(),
    )
    revoked = snap.revoked()
    revoked_hours = Decimal(0)
    for m, _ in snap.manifests:
        r = snap.receipts.get(m.number)
        if m.number in revoked and r is not None:
            gone = set(revoked[m.number].episodes) & set(r.receipt.accepted)
            revoked_hours += sum((e.hours for e in m.episodes if e.episode_id in gone), Decimal(0))
    net = status.accepted_hours - revoked_hours
    head = snap.head.head if snap.head else None
    return SupplyReport(
        url=channel.url,
        channel_id=head.channel_id if head else None,
        head_sequence=head.sequence if head else 0,
        head_expires_at=head.expires_at if head else None,
        head_fresh=bool(head and head.expires_at > now),
        status=status,
        batches=batch_lines(snap),
        notices=notice_lines(snap),
        revoked_accepted_hours=revoked_hours,
        net_accepted_hours=net,
        net_amount_due=round_money(
            net * channel.contract.price.per_accepted_hour, channel.contract.price.currency
        ),
    )


# -- the centre's plan ---------------------------------------------------------------------


class PlanRow(TrustModel):
    """Hours of one scene type or skill: what counts, what is on the way, what is missing."""

    name: str
    target_hours: Hours = Field(description="Even share of the contracted total.")
    accepted_hours: Hours
    pending_hours: Hours = Field(description="Delivered, no receipt yet.")
    ready_hours: Hours = Field(description="Recorded in the centre's dataset, not delivered.")
    to_collect_hours: Hours = Field(description="target - accepted - pending - ready, >= 0.")


class Replacement(TrustModel):
    batch: int
    episodes: int
    hours: Hours
    due: IsoDate | None
    revoked: bool = Field(default=False, description="The batch was revoked (all of it counts).")
    replaced_by: list[int] = Field(
        default_factory=list,
        description="Batches published as its replacement (not revoked themselves).",
    )
    replaced_hours: Hours = Field(
        default=Decimal(0), description="Hours delivered in those batches (accepted or not)."
    )


class SupplyPlan(TrustModel):
    """``embodex supply plan``: what remains to be collected to meet the contract."""

    contract_id: str
    as_of: IsoDate
    contracted_hours: Hours
    accepted_hours: Hours = Field(description="Net of revoked batches.")
    pending_hours: Hours
    ready_hours: Hours
    remaining_hours: Hours = Field(description="contracted - accepted - pending, >= 0.")
    to_collect_hours: Hours = Field(description="remaining - ready, >= 0.")
    periods_left: int
    hours_per_period_needed: Hours | None
    next_period: int | None
    next_deadline: Timestamp | None
    next_hours_due: Hours | None
    missing_periods: list[int]
    replacements: list[Replacement]
    delays: list[NoticeLine]
    revocations: list[NoticeLine] = Field(
        description="Batches the centre withdrew; their accepted hours no longer count."
    )
    revoked_accepted_hours: Hours
    notices: list[NoticeLine] = Field(description="Every notice on the channel.")
    by_scene_type: list[PlanRow]
    by_skill: list[PlanRow]


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)


def _rows(
    names: list[str],
    total: Decimal,
    accepted: dict[str, Decimal],
    pending: dict[str, Decimal],
    ready: dict[str, Decimal],
) -> list[PlanRow]:
    share = _q(total / len(names)) if names else Decimal(0)
    keys = list(dict.fromkeys([*names, *accepted, *pending, *ready]))
    out = []
    for k in keys:
        target = share if k in names else Decimal(0)
        left = target - accepted.get(k, Decimal(0)) - pending.get(k, Decimal(0))
        out.append(
            PlanRow(
                name=k,
                target_hours=target,
                accepted_hours=accepted.get(k, Decimal(0)),
                pending_hours=pending.get(k, Decimal(0)),
                ready_hours=ready.get(k, Decimal(0)),
                to_collect_hours=max(left - ready.get(k, Decimal(0)), Decimal(0)),
            )
        )
    return out


def supply_plan(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    *,
    dataset: str | Path | None = None,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
) -> SupplyPlan:
    """What the centre still has to collect and deliver (see the module docstring).

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
    report = _report(snap, now)
    c = channel.contract
    revoked = snap.revoked()
    acc_scene: dict[str, Decimal] = defaultdict(Decimal)
    acc_skill: dict[str, Decimal] = defaultdict(Decimal)
    pend_scene: dict[str, Decimal] = defaultdict(Decimal)
    pend_skill: dict[str, Decimal] = defaultdict(Decimal)
    delivered: set[str] = set()
    replacements = []
    # a replacement counts when it really replaces a replaceable batch (episodes rejected,
    # or revoked) and is not itself revoked
    replaceable = snap.replaceable()
    replacing: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for m, _ in snap.manifests:
        target = replaced_batch(m.summary(), replaceable)
        if target is not None and m.number not in revoked:
            replacing[target].append((m.number, m.hours))
    for m, _ in snap.manifests:
        r = snap.receipts.get(m.number)
        gone = set(revoked[m.number].episodes) if m.number in revoked else set()
        accepted = set(r.receipt.accepted) if r else set()
        for e in m.episodes:
            delivered.add(e.episode_id)
            scene, skill = e.scene_type or "(none)", e.skill or "(none)"
            if r is None and not gone:
                pend_scene[scene] += e.hours
                pend_skill[skill] += e.hours
            elif e.episode_id in accepted and e.episode_id not in gone:
                acc_scene[scene] += e.hours
                acc_skill[skill] += e.hours
        lost = {x.episode_id for x in r.receipt.rejected} if r is not None else set()
        lost |= gone
        if lost:
            replacements.append(
                Replacement(
                    batch=m.number,
                    episodes=len(lost),
                    hours=sum((e.hours for e in m.episodes if e.episode_id in lost), Decimal(0)),
                    due=r.receipt.replacement_due if r is not None else None,
                    revoked=m.number in revoked,
                    replaced_by=[n for n, _ in replacing[m.number]],
                    replaced_hours=sum((h for _, h in replacing[m.number]), Decimal(0)),
                )
            )
    ready_scene: dict[str, Decimal] = defaultdict(Decimal)
    ready_skill: dict[str, Decimal] = defaultdict(Decimal)
    if dataset is not None:
        for e in batch_episodes(open_dataset(dataset)):
            if e.episode_id not in delivered:
                ready_scene[e.scene_type or "(none)"] += e.hours
                ready_skill[e.skill or "(none)"] += e.hours
    status = report.status
    accepted_total = report.net_accepted_hours
    pending_total = status.pending_hours
    ready_total = sum(ready_scene.values(), Decimal(0))
    remaining = max(c.volume.total_hours - accepted_total - pending_total, Decimal(0))
    upcoming = [p for p in status.periods if p.status in ("open", "upcoming")]
    nxt = upcoming[0] if upcoming else None
    return SupplyPlan(
        contract_id=c.contract_id,
        as_of=status.as_of,
        contracted_hours=c.volume.total_hours,
        accepted_hours=accepted_total,
        pending_hours=pending_total,
        ready_hours=ready_total,
        remaining_hours=remaining,
        to_collect_hours=max(remaining - ready_total, Decimal(0)),
        periods_left=len(upcoming),
        hours_per_period_needed=_q(remaining / len(upcoming)) if upcoming else None,
        next_period=nxt.number if nxt else None,
        next_deadline=nxt.deadline if nxt else None,
        next_hours_due=nxt.hours_due if nxt else None,
        missing_periods=status.missing_periods,
        replacements=replacements,
        delays=[n for n in report.notices if n.type == "delay"],
        revocations=[n for n in report.notices if n.type == "revocation"],
        revoked_accepted_hours=report.revoked_accepted_hours,
        notices=report.notices,
        by_scene_type=_rows(
            list(c.scope.scene_types), c.volume.total_hours, acc_scene, pend_scene, ready_scene
        ),
        by_skill=_rows(
            list(c.scope.skills), c.volume.total_hours, acc_skill, pend_skill, ready_skill
        ),
    )
