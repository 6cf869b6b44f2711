"""Supply accounting: delivered and accepted hours against the schedule, and the amount due.

Hours due are the contract's total spread evenly over its periods (to 0.001 h; the last
period takes the rounding rest). A period is ``upcoming`` before it starts, ``open`` until
its deadline, then ``delivered``, ``late`` (a batch for it came after the deadline) or
``missing``. A batch's delivery time is the later of its stated ``delivered_at`` and the
``delivered_at`` its receipt judged it by. Money is computed exactly (accepted hours ×
price per accepted hour, as Decimals) and stated rounded half-up to the currency's minor
unit (:func:`round_money`: 2 places for CNY).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field

from ..errors import ContractError
from ..trust.types import Dec, Hours, IsoDate, Rate, Timestamp, TrustModel, round_money
from .checking import BatchSummary, batch_period, replaced_batch
from .file import VerifiedContract
from .model import Contract
from .receipts import Receipt, replaceable_batches

__all__ = ["Breakdown", "PeriodSupply", "SupplyStatus", "supply_status"]

PeriodStatus = Literal["upcoming", "open", "delivered", "late", "missing"]


class PeriodSupply(TrustModel):
    number: int
    start: IsoDate
    end: IsoDate
    deadline: Timestamp
    status: PeriodStatus
    hours_due: Hours
    delivered_hours: Hours
    accepted_hours: Hours
    shortfall_hours: Hours = Field(description="Hours due minus accepted (never negative).")
    batches: list[int]


class Breakdown(TrustModel):
    delivered_hours: Hours
    accepted_hours: Hours


class SupplyStatus(TrustModel):
    """Where the supply stands on ``as_of``."""

    contract_id: str
    as_of: IsoDate
    currency: str
    price_per_accepted_hour: Dec
    contracted_hours: Hours
    due_to_date_hours: Hours = Field(description="Hours due in periods whose deadline passed.")
    delivered_hours: Hours
    accepted_hours: Hours
    rejected_hours: Hours
    pending_hours: Hours = Field(description="Delivered hours without a receipt yet.")
    shortfall_to_date_hours: Hours
    acceptance_rate: Rate | None = Field(description="Accepted / (accepted + rejected) hours.")
    amount_due: Dec = Field(
        description="accepted_hours × price, rounded half-up to the currency's minor unit."
    )
    periods: list[PeriodSupply]
    by_scene_type: dict[str, Breakdown]
    by_skill: dict[str, Breakdown]
    late_batches: list[int]
    missing_periods: list[int]
    overdue_receipts: list[int] = Field(description="Batches past the acceptance window.")
    late_replacements: list[int]
    notes: list[str] = Field(default_factory=list)


def _breakdown(table: dict[str, list[Decimal]]) -> dict[str, Breakdown]:
    return {
        k: Breakdown(delivered_hours=v[0], accepted_hours=v[1]) for k, v in sorted(table.items())
    }


def _start_of(day: date, tz: object) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)  # type: ignore[arg-type]


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
    if isinstance(contract, VerifiedContract):
        digests = {c.digest for c in (*contract.history, contract.latest)}
        contract = contract.contract
    else:
        digests = {contract.digest}
    by_number = {b.batch_number: b for b in batches}
    by_batch: dict[int, Receipt] = {}
    for r in receipts:
        if r.contract_digest not in digests:
            raise ContractError(
                f"the receipt for batch {r.batch_number} is for another contract "
                f"({r.contract_digest})"
            )
        if r.batch_number not in by_number:
            raise ContractError(f"a receipt names batch {r.batch_number}, which is not delivered")
        by_batch[r.batch_number] = r
    tz = contract.periods()[0].deadline.tzinfo
    now = _start_of(today, tz)
    dues = contract.hours_due_per_period()
    delivered: dict[int, Decimal] = defaultdict(Decimal)
    accepted: dict[int, Decimal] = defaultdict(Decimal)
    members: dict[int, list[int]] = defaultdict(list)
    late_periods: set[int] = set()
    scenes: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    skills: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    notes: list[str] = []
    late_batches, overdue, late_repl = [], [], []
    rejected_total = pending = Decimal(0)
    replaceable = replaceable_batches(by_batch.values(), revoked)
    for number in sorted(by_number):
        batch = by_number[number]
        repl = replaced_batch(batch, replaceable)
        origin = by_number.get(repl or 0, batch)
        period = batch_period(contract, origin)
        receipt = by_batch.get(number)
        if period is None:
            notes.append(f"batch {number} falls outside the contract's term")
            continue
        members[period.number].append(number)
        delivered[period.number] += batch.hours
        # lateness by the later of the batch's stated time and the time its receipt judged
        # it by (the buyer's evidence that a batch was published later than it says)
        when = batch.delivered_at
        if receipt is not None and receipt.delivered_at is not None:
            when = max(when, receipt.delivered_at)
        if repl is None and when >= period.deadline:
            late_batches.append(number)
            late_periods.add(period.number)
        if repl is not None:
            first = by_batch.get(repl)
            replace_by = first.replacement_due if first is not None else None
            if replace_by is not None and when.date() > replace_by:
                late_repl.append(number)
        accepted_ids = set(receipt.accepted) if receipt else set()
        for ep in batch.episodes:
            for table, key in ((scenes, ep.scene_type), (skills, ep.skill)):
                cell = table[key or "(none)"]
                cell[0] += ep.hours
                if ep.episode_id in accepted_ids:
                    cell[1] += ep.hours
        if receipt is None:
            pending += batch.hours
            window = batch.delivered_at.date() + timedelta(
                days=contract.schedule.acceptance_window_days
            )
            if window < today:
                overdue.append(number)
            continue
        accepted[period.number] += receipt.accepted_hours
        rejected_ids = {r.episode_id for r in receipt.rejected}
        rejected_total += sum(
            (e.hours for e in batch.episodes if e.episode_id in rejected_ids), Decimal(0)
        )
        counted = sum((e.hours for e in batch.episodes if e.episode_id in accepted_ids), Decimal(0))
        if counted != receipt.accepted_hours:
            notes.append(
                f"receipt for batch {number} states {receipt.accepted_hours} accepted hours; "
                f"its accepted episodes add up to {counted}"
            )
    periods_out: list[PeriodSupply] = []
    missing: list[int] = []
    due_to_date = Decimal(0)
    for period, due in dues:
        n = period.number
        passed = period.deadline <= now
        if passed:
            due_to_date += due
        status: PeriodStatus
        if members[n]:
            status = "late" if n in late_periods else "delivered"
        elif _start_of(period.start, tz) > now:
            status = "upcoming"
        elif not passed:
            status = "open"
        else:
            status = "missing"
            missing.append(n)
        periods_out.append(
            PeriodSupply(
                number=n,
                start=period.start,
                end=period.end,
                deadline=period.deadline,
                status=status,
                hours_due=due,
                delivered_hours=delivered[n],
                accepted_hours=accepted[n],
                shortfall_hours=max(due - accepted[n], Decimal(0)),
                batches=members[n],
            )
        )
    total_accepted = sum(accepted.values(), Decimal(0))
    judged = total_accepted + rejected_total
    return SupplyStatus(
        contract_id=contract.contract_id,
        as_of=today,
        currency=contract.price.currency,
        price_per_accepted_hour=contract.price.per_accepted_hour,
        contracted_hours=contract.volume.total_hours,
        due_to_date_hours=due_to_date,
        delivered_hours=sum(delivered.values(), Decimal(0)),
        accepted_hours=total_accepted,
        rejected_hours=rejected_total,
        pending_hours=pending,
        shortfall_to_date_hours=max(due_to_date - total_accepted, Decimal(0)),
        acceptance_rate=(total_accepted / judged).quantize(Decimal("0.0001")) if judged else None,
        amount_due=round_money(
            total_accepted * contract.price.per_accepted_hour, contract.price.currency
        ),
        periods=periods_out,
        by_scene_type=_breakdown(scenes),
        by_skill=_breakdown(skills),
        late_batches=late_batches,
        missing_periods=missing,
        overdue_receipts=overdue,
        late_replacements=late_repl,
        notes=notes,
    )
