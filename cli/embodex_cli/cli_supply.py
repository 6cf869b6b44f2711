"""`embodex supply status|plan`: delivered versus contracted hours, and what is left to do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from embodex.units import amount, count, duration, percent, plural, unit_for

from .commands_delivery import channel_options
from .output import Output, err, json_option
from .render import table

if TYPE_CHECKING:
    from embodex.contract.supply import Replacement, SupplyStatus
    from embodex.delivery.channel_supply import SupplyPlan, SupplyReport
    from embodex.delivery.overview import NoticeLine


@click.group()
def supply() -> None:
    """Continuous supply: the status per period, and the centre's collection plan.

    \b
    Example:
      embodex supply status acme    # a remote: `embodex remote add`
      embodex supply status --contract contract.signed.json --channel s3://acme/deliveries
      embodex supply plan --contract contract.signed.json --channel s3://acme/deliveries
    """


def _money(value: Any, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _status_lines(r: SupplyReport) -> list[str]:
    s = r.status
    u = unit_for([s.contracted_hours])  # one unit for the whole view

    def hh(value: Any) -> str:
        return duration(value, u)

    rate = percent(s.acceptance_rate, 1) if s.acceptance_rate is not None else "-"
    # the amount as hours × price in one unit, digits enough to multiply back to it
    made = amount(
        r.net_accepted_hours, s.price_per_accepted_hour, s.currency, total=r.net_amount_due
    )
    lines = [
        f"{s.contract_id} as of {s.as_of}: {r.url} (head sequence {r.head_sequence}"
        + ("" if r.head_fresh or r.head_sequence == 0 else ", EXPIRED")
        + ")",
        f"  contracted   {hh(s.contracted_hours)}; due to date {hh(s.due_to_date_hours)}",
        f"  delivered    {hh(s.delivered_hours)}: accepted {hh(s.accepted_hours)}, "
        f"rejected {hh(s.rejected_hours)}, awaiting a receipt {hh(s.pending_hours)}",
        *(
            [
                f"  withdrawn    {hh(r.withdrawn_hours)} revoked after delivery; delivered net "
                f"{hh(r.net_delivered_hours)}"
            ]
            if r.withdrawn_hours
            else []
        ),
        f"  acceptance   {rate}; shortfall to date {hh(s.shortfall_to_date_hours)} not "
        f"accepted, {hh(s.undelivered_to_date_hours)} not delivered"
        + (
            f" (short: {plural('period', len(s.short_periods))} "
            f"{', '.join(map(str, s.short_periods))})"
            if s.short_periods
            else ""
        ),
        f"  amount due   {_money(r.net_amount_due, s.currency)} "
        f"({made} accepted"
        + (
            f"; net of {hh(r.revoked_accepted_hours)} revoked, "
            f"{_money(s.amount_due, s.currency)} before"
            if r.revoked_accepted_hours
            else ""
        )
        + ")",
    ]
    return lines + [f"  {a.label:<12} {a.text}" for a in r.alerts]


def _period_table(s: SupplyStatus) -> str:
    shown = s.shown()
    u = unit_for(p.hours_due for p in shown)  # one unit for the whole table
    rows = [
        [p.number, f"{p.start}..{p.end}", p.status, duration(p.hours_due, u),
         duration(p.delivered_hours, u), duration(p.accepted_hours, u),
         ",".join(map(str, p.batches)) or "-"]
        for p in shown
    ]  # fmt: skip
    return table(["period", "dates", "status", "due", "delivered", "accepted", "batches"], rows)


def _status_view(report: SupplyReport) -> Iterator[str]:
    s = report.status
    yield from _status_lines(report)
    yield ""
    yield _period_table(s)
    for title, groups in (("scene type", s.by_scene_type), ("skill", s.by_skill)):
        yield ""
        yield (
            table(
                [title, "delivered", "accepted"],
                [
                    [k, duration(v.delivered_hours), duration(v.accepted_hours)]
                    for k, v in groups.items()
                ],
            )
        )
    for n in report.notices:
        yield f"notice {n.number} ({n.issued_at.date()}): {n.type}: {n.reason}"
    for note in s.notes:
        yield f"note: {note}"


@supply.command("status")
@channel_options(key=False)
@click.option(
    "--html", "html", type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the status as one self-contained HTML page with charts.",
)  # fmt: skip
@json_option()
def supply_status(
    url: str, contract: Path, at: datetime | None, html: Path | None, as_json: bool
) -> None:
    """Hours due, delivered and accepted per period, scene type and skill; amount due.

    Reads the channel (every batch manifest, receipt and notice verified) and the contract:
    late or missing deliveries, receipts overdue, acceptance rate, revoked batches.

    \b
    Example:
      embodex supply status acme    # a remote (`embodex remote add`)
      embodex supply status --contract contract.signed.json --channel s3://acme/deliveries
      embodex supply status --contract contract.signed.json --channel deliveries/ch \\
          --html supply.html
    """
    from embodex.delivery import channel_supply

    out = Output(as_json)
    report = channel_supply(url, contract, now=at)
    if html is not None:
        from embodex.reports.supply_page import write_supply_report

        write_supply_report(report, html)
        out.lines([err(f"wrote {html}")])
    out.result(report, text=_status_view)


@supply.command("plan")
@channel_options(key=False)
@click.option(
    "--dataset", type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Your dataset: episodes recorded but not delivered count as ready.",
)  # fmt: skip
@json_option()
def supply_plan(
    url: str, contract: Path, at: datetime | None, dataset: Path | None, as_json: bool
) -> None:
    """What the centre still has to collect, per scene type and skill, to meet the contract.

    The contract fixes total hours, not quotas per scene: the plan spreads the total evenly
    over the scene types and skills in scope and subtracts what was accepted, what awaits a
    receipt and (with --dataset) what is recorded but not delivered.

    \b
    Example:
      embodex supply plan --contract contract.signed.json --channel s3://acme/deliveries \\
          --dataset centre/all
    """
    from embodex.delivery import supply_plan as sdk_plan

    Output(as_json).result(sdk_plan(url, contract, dataset=dataset, now=at), text=_plan_view)


def _plan_lines(plan: SupplyPlan) -> list[str]:
    per_period = plan.hours_per_period_needed
    u = unit_for([plan.contracted_hours])  # one unit for the whole view

    def hh(value: Any) -> str:
        return duration(value, u)

    lines = [
        f"{plan.contract_id} as of {plan.as_of}: {hh(plan.accepted_hours)} accepted, "
        f"{hh(plan.pending_hours)} awaiting receipts, {hh(plan.ready_hours)} ready, of "
        f"{hh(plan.contracted_hours)}",
        f"  to collect   {hh(plan.to_collect_hours)} over {plan.periods_left} periods"
        + (f" ({hh(per_period)} per period)" if per_period is not None else ""),
    ]
    if plan.next_period is not None:
        deadline = plan.next_deadline.isoformat() if plan.next_deadline else "-"
        lines.append(
            f"  next         period {plan.next_period}: {hh(plan.next_hours_due)} due before "
            f"{deadline}"
        )
    lines += [_replacement_line(r) for r in plan.replacements]
    lines += [_notice_line(n) for n in plan.notices]
    if plan.revoked_accepted_hours:
        lines.append(
            f"  revoked      {hh(plan.revoked_accepted_hours)} accepted before, no longer "
            "counted: collect them again"
        )
    return lines


def _replacement_line(r: Replacement) -> str:
    why = "revoked" if r.revoked else "rejected"
    what = f"{count(r.episodes, why + ' episode')} ({duration(r.hours)}) of batch {r.batch}"
    done = (
        f"; replaced by batch {', '.join(map(str, r.replaced_by))} "
        f"({duration(r.replaced_hours)} delivered)"
        if r.replaced_by
        else ""
    )
    return f"  replace      {what}{f' by {r.due}' if r.due else ''}{done}"


def _notice_line(n: NoticeLine) -> str:
    if n.type == "revocation":
        return f"  revoked      batch {n.batch} (notice {n.number}): {n.reason}"
    if n.type == "delay":
        return f"  delay        notice {n.number}: {n.reason}"
    return f"  notice       {n.number}: {n.type}: {n.reason}"


def _plan_view(plan: SupplyPlan) -> Iterator[str]:
    yield from _plan_lines(plan)
    for title, rows in (("scene type", plan.by_scene_type), ("skill", plan.by_skill)):
        yield ""
        yield (
            table(
                [title, "target", "accepted", "pending", "ready", "to collect"],
                [
                    [r.name, duration(r.target_hours), duration(r.accepted_hours),
                     duration(r.pending_hours), duration(r.ready_hours),
                     duration(r.to_collect_hours)]
                    for r in rows
                ],
            )
        )  # fmt: skip
