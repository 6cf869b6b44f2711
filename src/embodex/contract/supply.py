"""Supply accounting: delivered and accepted hours against the schedule, and the amount due.

Every supply figure any view shows is computed here, once, from the contract, the batches
delivered, the buyer's receipts and the batches the centre revoked; the delivery layer only
reads those from the channel (``embodex.delivery.channel_supply``) and the renderers only
format them.

Hours due are the contract's total spread evenly over its periods (to 0.001 h; the last
period takes the rounding rest). A period's state is decided by its figures — hours
delivered for it against hours due, and when they came against its deadline — never by
"something arrived":

* ``upcoming`` — it has not started and nothing was delivered for it;
* ``open`` — its deadline has not passed and less than the hours due has arrived;
* ``delivered`` — the hours due arrived before the deadline, which has not passed yet;
* ``on time`` — the deadline passed and the hours due had arrived before it;
* ``late`` — the deadline passed; the hours due arrived, but only with batches after it;
* ``short`` — the deadline passed and less than the hours due arrived (late batches
  counted too);
* ``missing`` — the deadline passed and nothing arrived.

A batch counts towards "before the deadline" unless it is late (an ordinary batch at or
after its period's deadline, a replacement after its replacement date). A batch's delivery
time is the later of its stated ``delivered_at`` and the
``delivered_at`` its receipt judged it by. Money is computed exactly (accepted hours ×
price per accepted hour, as Decimals) and stated rounded half-up to the currency's minor
unit (:func:`round_money`: 2 places for CNY).

Three steps build on each other:

* :func:`supply_status` — per period, scene type and skill; late, missing, overdue; money;
  and the periods a view lists (``shown_periods``).
* :func:`net_supply` — revoked batches netted out: their accepted hours stay in the signed
  receipts but no longer count towards the amount due.
* :func:`collection_plan` — what the centre still has to collect: the contract sets a
  total, not quotas per scene, so the plan spreads the total evenly over the scene types and
  skills in scope; hours needed per remaining period; episodes to replace.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal, Protocol

from pydantic import Field

from ..errors import ContractError
from ..trust.types import Dec, Hours, IsoDate, Rate, Timestamp, TrustModel, round_money
from .checking import BatchSummary, batch_period, replaced_batch
from .file import VerifiedContract
from .model import Contract
from .periods import Period, zone
from .receipts import Receipt, is_for_contract, replaceable_batches

__all__ = [
    "SHORT_STATES",
    "Breakdown",
    "CollectionPlan",
    "NetSupply",
    "PeriodSupply",
    "PlanRow",
    "Replacement",
    "SupplyStatus",
    "collection_plan",
    "net_supply",
    "period_state",
    "shown_periods",
    "supply_day",
    "supply_status",
    "withdrawn_hours",
]

PeriodStatus = Literal["upcoming", "open", "delivered", "on time", "late", "short", "missing"]
#: the states of a period whose deadline passed with less than the hours due delivered
SHORT_STATES = frozenset({"short", "missing"})

#: the key of an episode that names no scene type or skill
NONE = "(none)"


class PeriodSupply(TrustModel):
    number: int
    start: IsoDate
    end: IsoDate
    deadline: Timestamp
    status: PeriodStatus = Field(
        description="upcoming, open, delivered (in full before a deadline still ahead), "
        "on time, late (in full only after the deadline), short or missing: see the module."
    )
    hours_due: Hours
    delivered_hours: Hours
    accepted_hours: Hours
    shortfall_hours: Hours = Field(description="Hours due minus accepted (never negative).")
    batches: list[int]
    rejected_hours: Hours = Field(
        description="Hours of the period's batches with a receipt that it did not accept.",
    )
    pending_hours: Hours = Field(description="Hours of the period's batches without a receipt yet.")
    undelivered_hours: Hours = Field(description="Hours due minus delivered (never negative).")


class Breakdown(TrustModel):
    delivered_hours: Hours
    accepted_hours: Hours
    not_accepted_hours: Hours = Field(
        description="Delivered minus accepted: rejected or awaiting a receipt."
    )


class SupplyStatus(TrustModel):
    """Where the supply stands on ``as_of``."""

    contract_id: str
    as_of: IsoDate
    timezone: str = Field(
        default="UTC", description="The contract's time zone: deadlines and days are its."
    )
    currency: str
    price_per_accepted_hour: Dec
    contracted_hours: Hours
    due_to_date_hours: Hours = Field(description="Hours due in periods whose deadline passed.")
    delivered_hours: Hours
    accepted_hours: Hours
    rejected_hours: Hours
    pending_hours: Hours = Field(description="Delivered hours without a receipt yet.")
    shortfall_to_date_hours: Hours = Field(
        description="Hours due to date minus accepted (never negative)."
    )
    undelivered_to_date_hours: Hours = Field(
        default=Decimal(0),
        description="Hours due minus delivered, summed over the periods whose deadline passed.",
    )
    acceptance_rate: Rate | None = Field(description="Accepted / (accepted + rejected) hours.")
    amount_due: Dec = Field(
        description="accepted_hours × price, rounded half-up to the currency's minor unit."
    )
    periods: list[PeriodSupply]
    by_scene_type: dict[str, Breakdown]
    by_skill: dict[str, Breakdown]
    late_batches: list[int]
    missing_periods: list[int]
    short_periods: list[int] = Field(
        default_factory=list,
        description="Periods whose deadline passed with less than the hours due delivered "
        "(state short or missing).",
    )
    overdue_receipts: list[int] = Field(description="Batches past the acceptance window.")
    late_replacements: list[int]
    notes: list[str] = Field(default_factory=list)
    shown_periods: list[int] = Field(
        description="The periods a view lists: every one that is not upcoming, and the next "
        "upcoming one.",
    )

    def shown(self) -> list[PeriodSupply]:
        """The periods named in ``shown_periods``, in order (what every view lists)."""
        wanted = set(self.shown_periods)
        return [p for p in self.periods if p.number in wanted]


def supply_day(contract: Contract, now: datetime) -> date:
    """The date ``now`` falls on in the contract's time zone: the day supply is judged on."""
    return now.astimezone(zone(contract.schedule.timezone)).date()


# -- supply status ---------------------------------------------------------------------------


@dataclass
class _PeriodTally:
    """Running sums of one period, filled batch by batch."""

    delivered: Decimal = Decimal(0)
    accepted: Decimal = Decimal(0)
    rejected: Decimal = Decimal(0)
    pending: Decimal = Decimal(0)
    in_time: Decimal = Decimal(0)  # delivered by batches that were not late
    batches: list[int] = field(default_factory=list)


def _cells() -> defaultdict[str, list[Decimal]]:
    return defaultdict(lambda: [Decimal(0), Decimal(0)])


@dataclass
class _Tally:
    """Running sums of :func:`supply_status`, filled batch by batch."""

    periods: defaultdict[int, _PeriodTally] = field(
        default_factory=lambda: defaultdict(_PeriodTally)
    )
    scenes: defaultdict[str, list[Decimal]] = field(default_factory=_cells)
    skills: defaultdict[str, list[Decimal]] = field(default_factory=_cells)
    rejected: Decimal = Decimal(0)
    pending: Decimal = Decimal(0)
    late_batches: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    late_replacements: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _receipts_by_batch(
    digests: Collection[str], receipts: Iterable[Receipt], delivered: Collection[int]
) -> dict[int, Receipt]:
    """The receipts by batch number; raises :class:`ContractError` for a receipt under
    another contract or for a batch not delivered."""
    out: dict[int, Receipt] = {}
    for r in receipts:
        if not is_for_contract(r, digests):
            raise ContractError(
                f"the receipt for batch {r.batch_number} is for another contract "
                f"({r.contract_digest})"
            )
        if r.batch_number not in delivered:
            raise ContractError(f"a receipt names batch {r.batch_number}, which is not delivered")
        out[r.batch_number] = r
    return out


def _delivery_time(batch: BatchSummary, receipt: Receipt | None) -> datetime:
    """The later of the batch's stated time and the time its receipt judged it by (the
    buyer's evidence that a batch was published later than it says)."""
    if receipt is not None and receipt.delivered_at is not None:
        return max(batch.delivered_at, receipt.delivered_at)
    return batch.delivered_at


def _count_schedule(
    t: _Tally,
    batch: BatchSummary,
    period: Period,
    replaces: int | None,
    receipts: Mapping[int, Receipt],
) -> bool:
    """Lateness: an ordinary batch against its period's deadline, a replacement against the
    replacement date of the receipt that rejected its original's episodes. True when late."""
    when = _delivery_time(batch, receipts.get(batch.batch_number))
    if replaces is None:
        if when >= period.deadline:
            t.late_batches.append(batch.batch_number)
            return True
        return False
    first = receipts.get(replaces)
    replace_by = first.replacement_due if first is not None else None
    if replace_by is not None and when.date() > replace_by:
        t.late_replacements.append(batch.batch_number)
        return True
    return False


def _count_episodes(t: _Tally, batch: BatchSummary, receipt: Receipt | None) -> None:
    """Delivered and accepted hours per scene type and skill."""
    accepted = set(receipt.accepted) if receipt else set()
    for ep in batch.episodes:
        for table, key in ((t.scenes, ep.scene_type), (t.skills, ep.skill)):
            cell = table[key or NONE]
            cell[0] += ep.hours
            if ep.episode_id in accepted:
                cell[1] += ep.hours


def _count_pending(t: _Tally, contract: Contract, batch: BatchSummary, today: date) -> None:
    """A batch without a receipt: pending, and overdue once the acceptance window passed."""
    t.pending += batch.hours
    window = batch.delivered_at.date() + timedelta(days=contract.schedule.acceptance_window_days)
    if window < today:
        t.overdue.append(batch.batch_number)


def _count_receipt(t: _Tally, batch: BatchSummary, receipt: Receipt, into: _PeriodTally) -> None:
    """A judged batch: accepted hours as its receipt states them, rejected episodes' hours,
    and a note when the receipt's sum disagrees with its accepted episodes."""
    into.accepted += receipt.accepted_hours
    # a receipt stating more accepted hours than the batch holds is noted below, not negative
    into.rejected += max(batch.hours - receipt.accepted_hours, Decimal(0))
    rejected_ids = {r.episode_id for r in receipt.rejected}
    accepted_ids = set(receipt.accepted)
    t.rejected += sum((e.hours for e in batch.episodes if e.episode_id in rejected_ids), Decimal(0))
    counted = sum((e.hours for e in batch.episodes if e.episode_id in accepted_ids), Decimal(0))
    if counted != receipt.accepted_hours:
        t.notes.append(
            f"receipt for batch {batch.batch_number} states {receipt.accepted_hours} accepted "
            f"hours; its accepted episodes add up to {counted}"
        )


def _count_batch(
    t: _Tally,
    contract: Contract,
    batch: BatchSummary,
    replaces: int | None,
    origin: BatchSummary,
    receipts: Mapping[int, Receipt],
    today: date,
) -> None:
    """One batch, in the period of ``origin`` (itself, or the batch it replaces)."""
    period = batch_period(contract, origin)
    if period is None:
        t.notes.append(f"batch {batch.batch_number} falls outside the contract's term")
        return
    into = t.periods[period.number]
    into.batches.append(batch.batch_number)
    into.delivered += batch.hours
    if not _count_schedule(t, batch, period, replaces, receipts):
        into.in_time += batch.hours
    receipt = receipts.get(batch.batch_number)
    _count_episodes(t, batch, receipt)
    if receipt is None:
        into.pending += batch.hours
        _count_pending(t, contract, batch, today)
    else:
        _count_receipt(t, batch, receipt, into)


def _start_of(day: date, tz: tzinfo | None) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def period_state(
    due: Decimal, delivered: Decimal, in_time: Decimal, *, started: bool, deadline_passed: bool
) -> PeriodStatus:
    """A period's state from its figures (see the module docstring): ``delivered`` hours in
    all, ``in_time`` of them by batches that were not late, against ``due``."""
    if in_time >= due and (delivered > 0 or started):
        return "on time" if deadline_passed else "delivered"
    if not deadline_passed:
        return "open" if started or delivered > 0 else "upcoming"
    if delivered >= due:
        return "late"
    return "short" if delivered > 0 else "missing"


def _period_status(
    period: Period, due: Decimal, tally: _PeriodTally, now: datetime
) -> PeriodStatus:
    return period_state(
        due,
        tally.delivered,
        tally.in_time,
        started=_start_of(period.start, now.tzinfo) <= now,
        deadline_passed=period.deadline <= now,
    )


def _period_lines(contract: Contract, t: _Tally, now: datetime) -> list[PeriodSupply]:
    out = []
    for period, due in contract.hours_due_per_period():
        tally = t.periods.get(period.number, _PeriodTally())
        out.append(
            PeriodSupply(
                number=period.number,
                start=period.start,
                end=period.end,
                deadline=period.deadline,
                status=_period_status(period, due, tally, now),
                hours_due=due,
                delivered_hours=tally.delivered,
                accepted_hours=tally.accepted,
                shortfall_hours=max(due - tally.accepted, Decimal(0)),
                batches=tally.batches,
                rejected_hours=tally.rejected,
                pending_hours=tally.pending,
                undelivered_hours=max(due - tally.delivered, Decimal(0)),
            )
        )
    return out


def shown_periods(periods: Sequence[PeriodSupply]) -> list[int]:
    """The periods a view lists: every one that is not upcoming (started, or delivered for
    ahead of time), and the next upcoming one — not the whole remaining term."""
    upcoming = [p.number for p in periods if p.status == "upcoming"]
    return [p.number for p in periods if p.status != "upcoming" or p.number in upcoming[:1]]


def _breakdown(table: Mapping[str, list[Decimal]]) -> dict[str, Breakdown]:
    return {
        k: Breakdown(delivered_hours=v[0], accepted_hours=v[1], not_accepted_hours=v[0] - v[1])
        for k, v in sorted(table.items())
    }


def _contract_and_digests(
    contract: Contract | VerifiedContract,
) -> tuple[Contract, frozenset[str]]:
    """The contract in force and the digests of every version a receipt may name."""
    if isinstance(contract, VerifiedContract):
        return contract.contract, contract.digests
    return contract, frozenset({contract.digest})


def supply_status(
    contract: Contract | VerifiedContract,
    receipts: Iterable[Receipt],
    batches: Iterable[BatchSummary],
    today: date,
    *,
    revoked: Collection[int] = (),
) -> SupplyStatus:
    """Delivered and accepted hours per period, scene type and skill; shortfall; amount due.

    ``receipts`` must be for this contract (any version of it when a
    :class:`VerifiedContract` is passed); raises :class:`ContractError` otherwise, or when a
    receipt names a batch that is not in ``batches``. A batch counts as a replacement (for
    its original's period, judged by the original's replacement date) only when the batch it
    names came before it and had episodes rejected or is in ``revoked``.

    Example::

        status = supply_status(verified, receipts, batches, date.today())
        print(status.accepted_hours, status.amount_due, status.missing_periods)
    """
    contract, digests = _contract_and_digests(contract)
    by_number = {b.batch_number: b for b in batches}
    by_batch = _receipts_by_batch(digests, receipts, by_number)
    replaceable = replaceable_batches(by_batch.values(), revoked)
    t = _Tally()
    for number in sorted(by_number):
        batch = by_number[number]
        replaces = replaced_batch(batch, replaceable)
        origin = by_number.get(replaces or 0, batch)
        _count_batch(t, contract, batch, replaces, origin, by_batch, today)
    now = _start_of(today, contract.periods()[0].deadline.tzinfo)
    periods = _period_lines(contract, t, now)
    return _status(contract, today, now, t, periods)


def _status(
    contract: Contract, today: date, now: datetime, t: _Tally, periods: list[PeriodSupply]
) -> SupplyStatus:
    """The totals over ``periods`` and the tally, as a :class:`SupplyStatus`."""
    due_to_date = sum((p.hours_due for p in periods if p.deadline <= now), Decimal(0))
    accepted = sum((p.accepted_hours for p in periods), Decimal(0))
    judged = accepted + t.rejected
    price = contract.price
    return SupplyStatus(
        contract_id=contract.contract_id,
        as_of=today,
        timezone=contract.schedule.timezone,
        currency=price.currency,
        price_per_accepted_hour=price.per_accepted_hour,
        contracted_hours=contract.volume.total_hours,
        due_to_date_hours=due_to_date,
        delivered_hours=sum((p.delivered_hours for p in periods), Decimal(0)),
        accepted_hours=accepted,
        rejected_hours=t.rejected,
        pending_hours=t.pending,
        shortfall_to_date_hours=max(due_to_date - accepted, Decimal(0)),
        undelivered_to_date_hours=sum(
            (p.undelivered_hours for p in periods if p.deadline <= now), Decimal(0)
        ),
        acceptance_rate=(accepted / judged).quantize(Decimal("0.0001")) if judged else None,
        amount_due=round_money(accepted * price.per_accepted_hour, price.currency),
        periods=periods,
        by_scene_type=_breakdown(t.scenes),
        by_skill=_breakdown(t.skills),
        late_batches=t.late_batches,
        missing_periods=[p.number for p in periods if p.status == "missing"],
        short_periods=[p.number for p in periods if p.status in SHORT_STATES],
        overdue_receipts=t.overdue,
        late_replacements=t.late_replacements,
        notes=t.notes,
        shown_periods=shown_periods(periods),
    )


# -- revocations -----------------------------------------------------------------------------


class NetSupply(TrustModel):
    """The status's accepted hours and amount due, net of the batches the centre revoked."""

    revoked_accepted_hours: Hours = Field(description="Accepted hours of revoked episodes.")
    net_accepted_hours: Hours = Field(description="Accepted hours less revoked ones.")
    net_amount_due: Dec = Field(
        description="net_accepted_hours × price, rounded half-up to the currency's minor unit: "
        "the amount due."
    )
    withdrawn_hours: Hours = Field(
        default=Decimal(0),
        description="Delivered hours of every revoked episode (accepted or not): a batch "
        "revoked, or episodes withdrawn one by one (consent withdrawn).",
    )
    net_delivered_hours: Hours = Field(
        default=Decimal(0), description="Delivered hours less withdrawn ones."
    )


def withdrawn_hours(
    batches: Iterable[BatchSummary],
    receipts: Mapping[int, Receipt],
    revoked: Mapping[int, Collection[str]],
) -> Decimal:
    """Hours the buyer accepted that the centre then revoked (``revoked``: batch number ->
    the episode ids withdrawn). Their receipts stay signed as they were."""
    total = Decimal(0)
    for b in batches:
        r = receipts.get(b.batch_number)
        if b.batch_number in revoked and r is not None:
            gone = set(revoked[b.batch_number]) & set(r.accepted)
            total += sum((e.hours for e in b.episodes if e.episode_id in gone), Decimal(0))
    return total


def net_supply(
    status: SupplyStatus,
    batches: Iterable[BatchSummary],
    receipts: Mapping[int, Receipt],
    revoked: Mapping[int, Collection[str]],
) -> NetSupply:
    """``status`` net of revocations: the hours that still count and the amount due."""
    batches = list(batches)
    gone = withdrawn_hours(batches, receipts, revoked)
    net = status.accepted_hours - gone
    withdrawn = sum(
        (
            e.hours
            for b in batches
            for e in b.episodes
            if e.episode_id in set(revoked.get(b.batch_number, ()))
        ),
        Decimal(0),
    )
    return NetSupply(
        revoked_accepted_hours=gone,
        net_accepted_hours=net,
        net_amount_due=round_money(net * status.price_per_accepted_hour, status.currency),
        withdrawn_hours=withdrawn,
        net_delivered_hours=status.delivered_hours - withdrawn,
    )


def _whole(batch: BatchSummary, revoked: Mapping[int, Collection[str]]) -> bool:
    """Whether revocations withdrew every episode of ``batch`` (the batch revoked), not
    only some of them (per-episode revocations)."""
    gone = set(revoked.get(batch.batch_number, ()))
    return bool(gone) and {e.episode_id for e in batch.episodes} <= gone


# -- the centre's plan -----------------------------------------------------------------------


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


class CollectionPlan(TrustModel):
    """What remains to be collected to meet the contract (the figures of ``supply plan``)."""

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
    revoked_accepted_hours: Hours
    by_scene_type: list[PlanRow]
    by_skill: list[PlanRow]


class RecordedEpisode(Protocol):
    """An episode of the centre's dataset as the plan reads it."""

    @property
    def episode_id(self) -> str: ...
    @property
    def scene_type(self) -> str | None: ...
    @property
    def skill(self) -> str | None: ...
    @property
    def hours(self) -> Decimal: ...


@dataclass
class _Groups:
    """Hours per scene type and per skill."""

    scene: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    skill: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, e: RecordedEpisode) -> None:
        self.scene[e.scene_type or NONE] += e.hours
        self.skill[e.skill or NONE] += e.hours


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)


def _rows(
    names: list[str],
    total: Decimal,
    accepted: dict[str, Decimal],
    pending: dict[str, Decimal],
    ready: dict[str, Decimal],
) -> list[PlanRow]:
    """One row per name in scope (an even share of ``total`` each), then per name found
    outside the scope (target 0)."""
    share = _q(total / len(names)) if names else Decimal(0)
    zero = Decimal(0)
    out = []
    for k in dict.fromkeys([*names, *accepted, *pending, *ready]):
        target = share if k in names else zero
        left = target - accepted.get(k, zero) - pending.get(k, zero)
        out.append(
            PlanRow(
                name=k,
                target_hours=target,
                accepted_hours=accepted.get(k, zero),
                pending_hours=pending.get(k, zero),
                ready_hours=ready.get(k, zero),
                to_collect_hours=max(left - ready.get(k, zero), zero),
            )
        )
    return out


def _counted(
    batches: Sequence[BatchSummary],
    receipts: Mapping[int, Receipt],
    revoked: Mapping[int, Collection[str]],
) -> tuple[_Groups, _Groups]:
    """Accepted and pending hours per scene type and skill. A revoked episode counts for
    neither, and a revoked batch without a receipt is not awaited."""
    accepted, pending = _Groups(), _Groups()
    for b in batches:
        r = receipts.get(b.batch_number)
        gone = set(revoked.get(b.batch_number, ()))
        ok = set(r.accepted) - gone if r is not None else set()
        for e in b.episodes:
            if r is None and e.episode_id not in gone:
                pending.add(e)
            elif e.episode_id in ok:
                accepted.add(e)
    return accepted, pending


def _replacing(
    batches: Sequence[BatchSummary],
    receipts: Mapping[int, Receipt],
    revoked: Mapping[int, Collection[str]],
) -> dict[int, list[BatchSummary]]:
    """The batches published as replacement of each batch. One counts when it really
    replaces a replaceable batch and is not revoked itself."""
    replaceable = replaceable_batches(receipts.values(), revoked)
    out: dict[int, list[BatchSummary]] = defaultdict(list)
    for b in batches:
        target = replaced_batch(b, replaceable)
        if target is not None and not _whole(b, revoked):
            out[target].append(b)
    return out


def _replacements(
    batches: Sequence[BatchSummary],
    receipts: Mapping[int, Receipt],
    revoked: Mapping[int, Collection[str]],
) -> list[Replacement]:
    """Per batch with episodes rejected or revoked: what is to replace, by when, and the
    batches published as its replacement."""
    replacing = _replacing(batches, receipts, revoked)
    out = []
    for b in batches:
        r = receipts.get(b.batch_number)
        lost = {x.episode_id for x in r.rejected} if r is not None else set()
        lost |= set(revoked.get(b.batch_number, ()))
        if lost:
            by = replacing.get(b.batch_number, [])
            out.append(
                Replacement(
                    batch=b.batch_number,
                    episodes=len(lost),
                    hours=sum((e.hours for e in b.episodes if e.episode_id in lost), Decimal(0)),
                    due=r.replacement_due if r is not None else None,
                    revoked=b.batch_number in revoked,
                    replaced_by=[x.batch_number for x in by],
                    replaced_hours=sum((x.hours for x in by), Decimal(0)),
                )
            )
    return out


def _ready(batches: Sequence[BatchSummary], recorded: Iterable[RecordedEpisode]) -> _Groups:
    """Hours recorded in the centre's dataset and not delivered in any batch."""
    delivered = {e.episode_id for b in batches for e in b.episodes}
    ready = _Groups()
    for e in recorded:
        if e.episode_id not in delivered:
            ready.add(e)
    return ready


def collection_plan(
    contract: Contract,
    status: SupplyStatus,
    net: NetSupply,
    batches: Sequence[BatchSummary],
    receipts: Mapping[int, Receipt],
    revoked: Mapping[int, Collection[str]],
    recorded: Iterable[RecordedEpisode] = (),
) -> CollectionPlan:
    """What the centre still has to collect and deliver, from ``status`` and ``net`` (of the
    same batches, receipts and revocations) and the episodes ``recorded`` in its dataset
    (those not delivered count as ready).

    Example::

        status = supply_status(contract, receipts.values(), batches, today)
        net = net_supply(status, batches, receipts, revoked)
        plan = collection_plan(contract, status, net, batches, receipts, revoked)
        print(plan.to_collect_hours, plan.hours_per_period_needed)
    """
    accepted, pending = _counted(batches, receipts, revoked)
    ready = _ready(batches, recorded)
    ready_total = sum(ready.scene.values(), Decimal(0))
    total = contract.volume.total_hours
    remaining = max(total - net.net_accepted_hours - status.pending_hours, Decimal(0))
    upcoming = [p for p in status.periods if p.status in ("open", "upcoming")]
    nxt = upcoming[0] if upcoming else None
    return CollectionPlan(
        contract_id=contract.contract_id,
        as_of=status.as_of,
        contracted_hours=total,
        accepted_hours=net.net_accepted_hours,
        pending_hours=status.pending_hours,
        ready_hours=ready_total,
        remaining_hours=remaining,
        to_collect_hours=max(remaining - ready_total, Decimal(0)),
        periods_left=len(upcoming),
        hours_per_period_needed=_q(remaining / len(upcoming)) if upcoming else None,
        next_period=nxt.number if nxt else None,
        next_deadline=nxt.deadline if nxt else None,
        next_hours_due=nxt.hours_due if nxt else None,
        missing_periods=status.missing_periods,
        replacements=_replacements(batches, receipts, revoked),
        revoked_accepted_hours=net.revoked_accepted_hours,
        by_scene_type=_rows(
            list(contract.scope.scene_types), total, accepted.scene, pending.scene, ready.scene
        ),
        by_skill=_rows(
            list(contract.scope.skills), total, accepted.skill, pending.skill, ready.skill
        ),
    )
