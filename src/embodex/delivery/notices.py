"""Notices from the centre: a delivery delay, a schema change, a revocation.

A notice is signed by the centre, numbered, chained to the previous notice, stored at
``notices/<n>.json`` and then named by a new head (so a reader learns of it on its next
pull and cannot be shown an older list). A revocation withdraws a published batch, or only
some of its episodes (:func:`revoke_episodes`; :func:`revoke_operator` for every delivered
episode of one operator, when consent is withdrawn) — the buyer marks them in the local
dataset, stops training on them and signs a deletion receipt; the supply status stops
counting them — and always states its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..contract import VerifiedContract
from ..errors import DeliveryError
from ..trust import Identity, Ledger, Signer, ledger_path, sign_model
from .channel import Channel, open_channel, utc_now
from .documents import HEAD_KEY, NOTICE_TYPES, Notice, doc_digest, notice_key
from .heads import DEFAULT_HEAD_TTL, HeadUpdate, issue_head
from .outbox import Outbox
from .records import notice_note, reconcile

__all__ = [
    "EpisodeRevocation",
    "NoticeResult",
    "revoke_batch",
    "revoke_episodes",
    "revoke_operator",
    "send_notice",
]


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
    episodes: Sequence[str] | None = None,
    period: int | None = None,
    expected_by: date | None = None,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
    record: bool = True,
) -> NoticeResult:
    """Sign and store a notice (``type``: delay, schema_change, revocation), then the head.

    A revocation needs ``batch`` (use :func:`revoke_batch`) and withdraws all its episodes,
    or only ``episodes`` (of that batch: a per-episode revocation, :func:`revoke_episodes`);
    every notice needs a non-empty ``reason``. Raises :class:`DeliveryError` (bad
    arguments, not the centre, an episode not in the batch), :class:`ChannelError` (no head
    yet, unknown batch), ``StorageError``.

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
        chosen: list[str] = []
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
            ids = list(dict.fromkeys(episodes or ()))
            stray = [e for e in ids if e not in set(manifest.episode_ids)]
            if stray:
                raise DeliveryError(
                    f"episode {stray[0]} is not in batch {batch} on {channel.url}",
                    hint="Name episodes the batch delivered (`describe_channel(url, contract)`).",
                    url=channel.url,
                    batch=batch,
                )
            chosen = ids or manifest.episode_ids
        elif episodes:
            raise DeliveryError("only a revocation names episodes", hint="Leave out episodes.")
        notice = Notice(
            channel_id=head.channel_id,
            contract_id=channel.contract.contract_id,
            contract_digest=channel.contract.digest,
            number=head.notice + 1,
            previous=head.notice_digest,
            type=type,
            reason=reason.strip(),
            batch=batch,
            episodes=chosen,
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


@dataclass
class EpisodeRevocation:
    """Per-episode revocations sent: one notice per batch holding revoked episodes."""

    url: str
    notices: list[NoticeResult] = field(default_factory=list)
    operator: str | None = None

    @property
    def episodes(self) -> list[str]:
        return [e for n in self.notices for e in n.notice.episodes]

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "operator": self.operator,
            "episodes": self.episodes,
            "notices": [n.to_json() for n in self.notices],
        }


def revoke_episodes(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    episode_ids: Sequence[str],
    reason: str,
    *,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
    record: bool = True,
) -> EpisodeRevocation:
    """Revoke delivered episodes one by one (not their whole batches): one signed revocation
    notice per batch that delivered some of them, listing only those. The buyer's pull drops
    them from training and records the deletion (specs/channel.md §5.4). Raises
    :class:`DeliveryError` for an episode no batch of the channel delivered, and as
    :func:`send_notice`.

    Example::

        revoke_episodes(url, "contract.signed.json", centre, ["c:0007"], "consent-withdrawn")
    """
    now = now or utc_now()
    channel = open_channel(url, contract, trusted=trusted, at=now)
    by_batch = _delivered(channel)
    wanted = list(dict.fromkeys(episode_ids))
    unknown = [e for e in wanted if e not in by_batch]
    if not wanted or unknown:
        raise DeliveryError(
            f"episode {unknown[0]} was not delivered on {channel.url}"
            if unknown
            else "no episode to revoke",
            hint="Name episodes a batch of the channel delivered "
            "(`describe_channel(url, contract)`).",
            url=channel.url,
        )
    out = EpisodeRevocation(url=channel.url)
    for batch in sorted({by_batch[e] for e in wanted}):
        ids = [e for e in wanted if by_batch[e] == batch]
        out.notices.append(
            send_notice(
                url,
                channel.verified,
                signer,
                type="revocation",
                reason=reason,
                batch=batch,
                episodes=ids,
                ttl=ttl,
                now=now,
                trusted=trusted,
                record=record,
            )
        )
    return out


def _delivered(channel: Channel) -> dict[str, int]:
    """episode id -> the batch of the channel that delivered it (every manifest verified)."""
    got = channel.read_head()
    if got is None:
        return {}
    chain = channel.read_chain(got.head.channel_id, got.head.batch)
    return {e: m.number for m, _, _ in chain for e in m.episode_ids}


def revoke_operator(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    operator: str,
    reason: str = "consent-withdrawn",
    *,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
    record: bool = True,
) -> EpisodeRevocation:
    """Revoke every episode the channel delivered whose operator is ``operator`` (its
    pseudonym, as the batch manifests list it) and that no revocation withdrew yet: what a
    withdrawal of consent requires. Returns no notice when there is none to revoke.

    Example::

        revoke_operator(url, "contract.signed.json", centre, "op-3f9a0c1d2e4b5a68")
    """
    now = now or utc_now()
    channel = open_channel(url, contract, trusted=trusted, at=now)
    got = channel.read_head()
    out = EpisodeRevocation(url=channel.url, operator=operator)
    if got is None:
        return out
    head = got.head
    done = {
        e
        for n, _, _ in channel.read_notices(head.channel_id, head.notice)
        if n.type == "revocation"
        for e in n.episodes
    }
    ids = [
        e.episode_id
        for m, _, _ in channel.read_chain(head.channel_id, head.batch)
        for e in m.episodes
        if e.operator_id == operator and e.episode_id not in done
    ]
    if not ids:
        return out
    sent = revoke_episodes(
        url, channel.verified, signer, ids, reason, ttl=ttl, now=now, trusted=trusted,
        record=record,
    )  # fmt: skip
    out.notices = sent.notices
    return out
