"""A channel at a glance: its head, batches (with receipts), notices — all verified.

``embodex channel show`` prints :func:`describe_channel`; the supply reports build on
:func:`read_snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pydantic import Field

from ..contract import VerifiedContract
from ..contract.receipts import DeletionReceipt, replaceable_batches
from ..errors import EmbodexError
from ..trust import Identity, open_model
from ..trust.types import Hours, IsoDate, Timestamp, TrustModel
from .channel import Channel, HeadRead, open_channel, utc_now
from .documents import BatchManifest, Notice, deletion_key, doc_digest
from .receipt_exchange import ChannelReceipt, InvalidReceipt, read_receipts

__all__ = [
    "BatchLine",
    "ChannelOverview",
    "ChannelSnapshot",
    "NoticeLine",
    "batch_lines",
    "describe_channel",
    "notice_lines",
    "read_deletions",
    "read_snapshot",
]


@dataclass
class ChannelSnapshot:
    """Every verified document of a channel at one moment."""

    channel: Channel
    head: HeadRead | None
    manifests: list[tuple[BatchManifest, str]]
    receipts: dict[int, ChannelReceipt]
    notices: list[Notice]
    invalid_receipts: list[InvalidReceipt] = field(default_factory=list)
    #: revocation notice -> the buyer's verified deletion receipt for it
    deletions: dict[int, DeletionReceipt] = field(default_factory=dict)

    def deletions_awaited(self) -> list[int]:
        """Revocation notices that withdrew episodes the buyer's receipt accepted (so they
        are in its dataset) and for which the channel holds no valid deletion receipt."""
        out = []
        for n in self.notices:
            r = self.receipts.get(n.batch or 0)
            accepted = set(r.receipt.accepted) if r is not None else set()
            wanted = n.type == "revocation" and accepted & set(n.episodes)
            if wanted and n.number not in self.deletions:
                out.append(n.number)
        return out

    def revoked(self) -> dict[int, list[str]]:
        """Batch -> every episode a revocation withdrew from it (a whole batch, or episodes
        one by one over several notices)."""
        out: dict[int, list[str]] = {}
        for n in self.notices:
            if n.type == "revocation" and n.batch:
                have = out.setdefault(n.batch, [])
                have += [e for e in n.episodes if e not in have]
        return out

    def revocation_reasons(self) -> dict[int, str]:
        """Batch -> the reason of the last revocation naming it."""
        return {n.batch: n.reason for n in self.notices if n.type == "revocation" and n.batch}

    def replaceable(self) -> set[int]:
        """The batches a later one may replace: those whose receipt rejected episodes, and
        the revoked ones."""
        return replaceable_batches((r.receipt for r in self.receipts.values()), self.revoked())


def read_snapshot(channel: Channel) -> ChannelSnapshot:
    """Read and verify the head, every batch manifest (chained), receipt and notice.

    The centre's documents must all verify (else their errors are raised); a buyer's receipt
    that does not is left out and listed in ``invalid_receipts`` (its batch counts as
    awaiting a receipt) — one bad object must not stop the accounting.
    """
    got = channel.read_head()
    if got is None:
        channel.require_location()  # a mistyped URL is an error, not an empty channel
        return ChannelSnapshot(channel, None, [], {}, [])
    head = got.head
    manifests = [(m, d) for m, d, _ in channel.read_chain(head.channel_id, head.batch)]
    notices = [n for n, _, _ in channel.read_notices(head.channel_id, head.notice)]
    receipts, invalid = read_receipts(channel, {m.number: d for m, d in manifests})
    deletions = read_deletions(channel, [n for n in notices if n.type == "revocation"])
    return ChannelSnapshot(channel, got, manifests, receipts, notices, invalid, deletions)


def read_deletions(channel: Channel, revocations: list[Notice]) -> dict[int, DeletionReceipt]:
    """The buyer's deletion receipts on the channel for ``revocations`` (notice number ->
    receipt): each verified with the buyer's key before parsing and naming this contract,
    channel and the notice by number and digest. One missing, unreadable or not verifying is
    left out (the revocation counts as not confirmed)."""
    digests = channel.verified.digests
    out: dict[int, DeletionReceipt] = {}
    for n in revocations:
        try:
            data = channel.store.get_document(deletion_key(n.number))
            got = open_model(
                "deletion-receipt", DeletionReceipt, data, [channel.buyer],
                required_keyids=[channel.buyer.key_id],
            )  # fmt: skip
        except EmbodexError:
            continue
        ok = (
            got.notice_number == n.number
            and got.notice_digest == doc_digest(n)
            and got.channel_id == n.channel_id
            and got.contract_id == n.contract_id
            and got.contract_digest in digests
            and got.issued_by == channel.buyer.key_id
        )
        if ok:
            out[n.number] = got
    return out


class BatchLine(TrustModel):
    """One batch as the supply report lists it."""

    number: int
    published_at: Timestamp
    period: int | None
    episodes: int
    hours: Hours
    receipt: bool
    accepted: int | None = None
    rejected: int | None = None
    accepted_hours: Hours | None = None
    countersigned: bool = False
    revoked: str | None = Field(default=None, description="The revocation's reason.")
    revoked_episodes: int = Field(
        default=0, description="Episodes revocations withdrew (all of them: the batch revoked)."
    )
    replacement_for: int | None = Field(
        default=None, description="The batch whose rejected or revoked episodes it replaces."
    )
    invalid_receipt: str | None = Field(
        default=None, description="Why the receipt on the channel was not used (not verified)."
    )
    delivered_at: Timestamp | None = Field(
        default=None,
        description="The delivery time the receipt judged the schedule by (later than "
        "published_at when the buyer saw evidence of backdating).",
    )
    first_seen_at: Timestamp | None = Field(
        default=None, description="When the buyer's pulls first saw the batch (its receipt)."
    )


class NoticeLine(TrustModel):
    number: int
    type: str
    reason: str
    batch: int | None
    period: int | None
    expected_by: IsoDate | None
    issued_at: Timestamp


def batch_lines(snap: ChannelSnapshot) -> list[BatchLine]:
    revoked = snap.revoked()
    reasons = snap.revocation_reasons()
    invalid = {b.batch: b.problem for b in snap.invalid_receipts}
    out = []
    for m, _ in snap.manifests:
        r = snap.receipts.get(m.number)
        out.append(
            BatchLine(
                number=m.number,
                published_at=m.published_at,
                period=m.period,
                episodes=len(m.episodes),
                hours=m.hours,
                receipt=r is not None,
                accepted=len(r.receipt.accepted) if r else None,
                rejected=len(r.receipt.rejected) if r else None,
                accepted_hours=r.receipt.accepted_hours if r else None,
                countersigned=r.countersigned if r else False,
                revoked=reasons.get(m.number),
                revoked_episodes=len(revoked.get(m.number, [])),
                replacement_for=m.replacement_for,
                invalid_receipt=invalid.get(m.number),
                delivered_at=r.receipt.delivered_at if r else None,
                first_seen_at=r.receipt.first_seen_at if r else None,
            )
        )
    return out


def notice_lines(snap: ChannelSnapshot) -> list[NoticeLine]:
    return [
        NoticeLine(
            number=n.number,
            type=n.type,
            reason=n.reason,
            batch=n.batch,
            period=n.period,
            expected_by=n.expected_by,
            issued_at=n.issued_at,
        )
        for n in snap.notices
    ]


class ChannelOverview(TrustModel):
    """``embodex channel show``."""

    url: str
    contract_id: str
    channel_id: str | None
    head_sequence: int
    head_issued_at: Timestamp | None
    head_expires_at: Timestamp | None
    head_fresh: bool
    latest_batch: int
    hours: Hours
    batches: list[BatchLine]
    notices: list[NoticeLine]


def describe_channel(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    *,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
) -> ChannelOverview:
    """Verify and summarise a channel. Raises the channel readers' errors.

    Example::

        print(describe_channel("s3://acme/deliveries", "contract.signed.json").batches)
    """
    now = now or utc_now()
    snap = read_snapshot(open_channel(url, contract, trusted=trusted, at=now))
    head = snap.head.head if snap.head else None
    return ChannelOverview(
        url=snap.channel.url,
        contract_id=snap.channel.contract.contract_id,
        channel_id=head.channel_id if head else None,
        head_sequence=head.sequence if head else 0,
        head_issued_at=head.issued_at if head else None,
        head_expires_at=head.expires_at if head else None,
        head_fresh=bool(head and head.expires_at > now),
        latest_batch=head.batch if head else 0,
        hours=sum((m.hours for m, _ in snap.manifests), Decimal(0)),
        batches=batch_lines(snap),
        notices=notice_lines(snap),
    )
