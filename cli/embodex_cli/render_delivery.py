"""Text rendering of delivery results (publish, pull, channel, notices, receipts) for people;
scripts use --json, which prints the same models."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embodex.units import count, duration, plural, unit_for

from .output import err
from .render import fmt_bytes, hours_header, table
from .render_trust import short

if TYPE_CHECKING:
    from embodex.delivery import PublishResult, PullReport
    from embodex.delivery.overview import ChannelOverview

__all__ = [
    "channel_lines",
    "countersign_lines",
    "head_lines",
    "notice_lines",
    "post_lines",
    "publish_lines",
    "pull_lines",
    "warning_lines",
]


def _ts(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


def warning_lines(warnings: Sequence[Any]) -> Iterator[str]:
    """The contract checks the buyer will fail, said before anything is uploaded."""
    for v in warnings:
        yield err(f"warning: {v.rule}: {v.message}")


def publish_lines(r: PublishResult) -> Iterator[str]:
    for line in r.recovered:
        yield f"{'note' if r.dry_run else 'recovered'}: {line}"
    for eid, why in r.excluded.items():
        yield f"left out (out of scope): {eid}: {why}"
    if r.number is None:
        yield f"nothing new to publish on {r.url} (head sequence {r.head_sequence})"
        return
    if r.dry_run:
        yield from warning_lines(r.warnings)
        yield (
            f"would publish batch {r.number} to {r.url}: "
            f"{count(len(r.episodes), 'episode')}, {duration(r.hours)}, {r.files} files "
            f"({fmt_bytes(r.bytes)}); dry run: nothing uploaded"
        )
        return
    yield (
        f"published batch {r.number} to {r.url}: "
        f"{count(len(r.episodes), 'episode')}, {duration(r.hours)}, {r.files} files "
        f"({fmt_bytes(r.bytes)}); head sequence {r.head_sequence}, valid until "
        f"{r.expires_at.isoformat() if r.expires_at else '-'}"
    )


def pull_lines(report: PullReport, url: str, contract: Path) -> Iterator[str]:
    for n in report.notices:
        what = f" (batch {n.batch})" if n.batch else f" (period {n.period})" if n.period else ""
        yield f"notice {n.number}: {n.type}{what}: {n.reason}"
    for b in report.batches:
        text = (
            f"batch {b.number}: {b.outcome}: {b.accepted} of {count(b.episodes, 'episode')} "
            f"accepted ({duration(b.accepted_hours)})"
        )
        if b.rejected:
            top = next(iter(b.reasons))
            text += f", {b.rejected} rejected ({duration(b.rejected_hours)}) — {top}"
        text += f"; {fmt_bytes(b.bytes)} downloaded"
        if b.reused_files:
            text += f", {b.reused_files} files kept from before"
        yield text
        yield f"  receipt {b.receipt}"
    for batch, ids in report.revoked.items():
        yield (
            f"revoked in batch {batch}: {count(len(ids), 'episode')} marked in "
            f"{report.dataset} (no longer loaded; deletion receipt in receipts/deletions/)"
        )
    if report.deletions_posted:
        numbers = ", ".join(map(str, report.deletions_posted))
        yield f"deletion receipts posted for revocation notices {numbers}"
    for batch in report.receipts_repaired:
        yield f"receipt {batch}: the channel's copy was missing or did not verify: put back"
    for batch in report.receipts_posted:
        yield f"receipt {batch}: posted (an earlier pull could not)"
    if report.message:
        yield report.message
    if report.batches and report.region:
        how = {
            "declared": "--region",
            "store": "this store's region",
            "environment": "EMBODEX_REGION",
            "assumed": "none declared: the contract's origin",
        }
        yield f"processed in {report.region} ({how.get(report.region_source or '', '?')})"
    if report.dataset_episodes:
        yield (
            f"{report.dataset}: {count(report.dataset_episodes, 'episode')}, "
            f'{duration(report.dataset_hours)} — train with embodex.train.load("{report.dataset}")'
        )
    if report.receipts_unposted:
        yield err(_unposted_warning(report, url, contract))
    if report.receipts_conflicting:
        yield err(_conflict_warning(report))


def _unposted_warning(report: PullReport, url: str, contract: Path) -> str:
    """One line: which receipts the channel refused, why, where they are, what to do."""
    batches = report.receipts_unposted
    folder = report.into / "receipts"
    return (
        f"warning: {count(len(batches), 'receipt')} ({plural('batch', len(batches))} "
        f"{', '.join(map(str, batches))}) could not be posted to the channel: "
        f"{report.receipts_refused}; kept in {folder}/ — give this account write access to the "
        "channel (every pull tries again), or send those files to the centre, which posts "
        f"them with `embodex receipt post FILE... --channel {url} --contract {contract.name}`"
    )


def _conflict_warning(report: PullReport) -> str:
    """One line: batches whose receipt on the channel is another of this buyer's."""
    batches = ", ".join(map(str, report.receipts_conflicting))
    return (
        f"warning: the channel holds another receipt of yours for batch {batches} than "
        f"{report.into / 'receipts'}/ (another store's decision?); it stands and was not "
        "replaced — the centre accounts by the one on the channel"
    )


def channel_lines(view: ChannelOverview) -> Iterator[str]:
    if view.channel_id is None:
        yield f"{view.url}: nothing published yet (contract {view.contract_id})"
        return
    fresh = "valid" if view.head_fresh else "EXPIRED — the centre must run `channel refresh`"
    yield (
        f"{view.url}: channel {view.channel_id} of contract {view.contract_id}\n"
        f"  head         sequence {view.head_sequence}, signed {_ts(view.head_issued_at)}, "
        f"until {_ts(view.head_expires_at)} ({fresh})\n"
        f"  batches      {view.latest_batch} ({duration(view.hours)})"
    )
    u = unit_for(b.hours for b in view.batches)  # one unit down the column
    rows = [
        [
            b.number,
            b.published_at.date().isoformat(),
            b.episodes,
            duration(b.hours, u),
            "-" if not b.receipt else f"{b.accepted} ok / {b.rejected} rejected",
            "yes" if b.countersigned else "no",
            "; ".join(
                [
                    *([f"replaces batch {b.replacement_for}"] if b.replacement_for else []),
                    *(
                        [f"REVOKED ({b.revoked_episodes}/{b.episodes}): {b.revoked}"]
                        if b.revoked
                        else []
                    ),
                    *([f"INVALID RECEIPT: {b.invalid_receipt}"] if b.invalid_receipt else []),
                ]
            ),
        ]
        for b in view.batches
    ]
    if rows:
        yield table(
            ["batch", "published", "episodes", hours_header(u), "receipt", "countersigned", "note"],
            rows,
        )
    for n in view.notices:
        yield f"notice {n.number} ({n.issued_at.date()}): {n.type}: {n.reason}"


def head_lines(update: Any) -> Iterator[str]:
    h = update.head
    yield f"head sequence {h.sequence} (batch {h.batch}) valid until {_ts(h.expires_at)}"


def notice_lines(result: Any) -> Iterator[str]:
    n = result.notice
    yield (
        f"notice {n.number} ({n.type}) signed and published; head sequence "
        f"{result.head.head.sequence} ({short(result.digest)})"
    )


def countersign_lines(done: Sequence[Any]) -> Iterator[str]:
    if not done:
        yield "no receipts to countersign yet"
    for d in done:
        if d.problem:
            yield err(f"batch {d.batch}: receipt not valid, skipped: {d.problem}")
            continue
        state = "already countersigned" if d.already else "countersigned"
        yield (
            f"batch {d.batch}: {state} ({d.accepted} accepted, {d.rejected} rejected; "
            f"{short(d.digest)})"
        )


def post_lines(done: Sequence[Any]) -> Iterator[str]:
    for d in done:
        state = "already on the channel" if d.already else "posted"
        if d.notice is not None:
            yield (
                f"deletion receipt for revocation notice {d.notice} (batch {d.batch}): {state} "
                f"({short(d.digest)}) from {d.file}"
            )
            continue
        yield (
            f"batch {d.batch}: {state} ({d.accepted} accepted, {d.rejected} rejected; "
            f"{short(d.digest)}) from {d.file}"
        )
