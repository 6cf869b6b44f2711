"""Notices from the centre: a delivery delay, a schema change, a batch revocation.

A notice is signed by the centre, numbered, chained to the previous notice, stored at
``notices/<n>.json`` and then named by a new head (so a reader learns of it on its next
pull and cannot be shown an older list). A revocation withdraws a published batch — the
buyer marks its episodes in the local dataset and the supply status stops counting them —
and always states its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..contract import VerifiedContract
from ..errors import DeliveryError
from ..trust import Identity, Ledger, Signer, ledger_path, sign_model
from .channel import open_channel, utc_now
from .documents import HEAD_KEY, NOTICE_TYPES, Notice, doc_digest, notice_key
from .heads import DEFAULT_HEAD_TTL, HeadUpdate, issue_head
from .outbox import Outbox
from .records import notice_note, reconcile

__all__ = ["NoticeResult", "revoke_batch", "send_notice"]


@dataclass(frozen=True)
class NoticeResult:
    """A notice signed and published, its digest, and the head that now lists it."""

    notice: Notice
    digest: str
    head: HeadUpdate

    def to_json(self) -> dict[str, Any]:
        return {"notice": self.notice.model_dump(mode="json"), "digest": self.digest}


def send_notice(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    *,
    type: str,
    reason: str,
    batch: int | None = None,
    period: int | None = None,
    expected_by: date | None = None,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
    record: bool = True,
) -> NoticeResult:
    """Sign and store a notice (``type``: delay, schema_change, revocation), then the head.

    A revocation needs ``batch`` (use :func:`revoke_batch`); every notice needs a
    non-empty ``reason``. Raises :class:`DeliveryError` (bad arguments, not the centre),
    :class:`ChannelError` (no head yet, unknown batch), ``StorageError``.

    Example::

        send_notice(url, "contract.signed.json", load_signer("hubei-centre"), type="delay",
                    reason="robot H2-00017 in repair", period=7, expected_by=date(2026, 2, 25))
    """
    if type not in NOTICE_TYPES:
        raise DeliveryError(
            f"unknown notice type {type!r}", hint=f"Use one of: {', '.join(NOTICE_TYPES)}."
        )
    if not reason.strip():
        raise DeliveryError("a notice needs a reason", hint="Pass the reason (`reason=`).")
    now = now or utc_now()
    channel = open_channel(url, contract, trusted=trusted, at=now)
    channel.require(signer, "centre")
    outbox = Outbox(channel.url)
    with outbox.locked():
        head = channel.published_head(
            "Publish a first batch (`publish(...)`) before sending notices."
        ).head
        reconcile(channel, outbox, signer, head, record=record)
        episodes: list[str] = []
        if (batch is None and type == "revocation") or (
            batch is not None and not 1 <= batch <= head.batch
        ):
            what = "to revoke " if type == "revocation" else ""
            raise DeliveryError(
                f"there is no batch {batch} {what}on {channel.url} (latest: {head.batch})",
                hint=f"Name one of batches 1..{head.batch} (`describe_channel(url, contract)` "
                "lists them).",
                url=channel.url,
                batch=batch,
            )
        if type == "revocation" and batch is not None:
            manifest, _, _ = channel.read_manifest(batch, head.channel_id)
            episodes = manifest.episode_ids
        notice = Notice(
            channel_id=head.channel_id,
            contract_id=channel.contract.contract_id,
            contract_digest=channel.contract.digest,
            number=head.notice + 1,
            previous=head.notice_digest,
            type=type,
            reason=reason.strip(),
            batch=batch,
            episodes=episodes,
            period=period,
            expected_by=expected_by,
            issued_at=now,
            issued_by=signer.key_id,
        )
        digest = doc_digest(notice)
        update = issue_head(
            head, channel_id=head.channel_id, channel=channel, signer=signer, now=now, ttl=ttl,
            notice=(notice.number, digest),
        )  # fmt: skip
        envelope = sign_model("notice", notice, signer).to_json_bytes()
        # kept first: a crash after the notice is stored and before the ledger entry is
        # made up for by the next run (records.reconcile)
        outbox.record_notice(notice.number, envelope)
        channel.store.put_group(
            [],
            [(notice_key(notice.number), envelope), (HEAD_KEY, update.data)],
            message=f"notice {notice.number}: {type}",
        )
        if record:
            Ledger(ledger_path(signer.name)).append_missing(
                signer, [("notice-sent", digest, notice_note(type, reason, batch, period))]
            )
    return NoticeResult(notice=notice, digest=digest, head=update)


def revoke_batch(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    batch: int,
    reason: str,
    *,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
    record: bool = True,
) -> NoticeResult:
    """Revoke published batch ``batch``: a revocation notice naming all its episodes and
    the (mandatory) reason. Raises as :func:`send_notice`.

    Example::

        revoke_batch(url, "contract.signed.json", centre, 3, "operator consent withdrawn")
    """
    return send_notice(
        url, contract, signer, type="revocation", reason=reason, batch=batch, ttl=ttl, now=now,
        trusted=trusted, record=record,
    )  # fmt: skip
