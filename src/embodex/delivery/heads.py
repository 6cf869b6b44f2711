"""Signing channel heads: a new head on every publish, notice and refresh.

The head is the only mutable document of a channel. Each new one carries the previous
sequence plus one and a short validity (``ttl``): a reader that sees a lower sequence than
before refuses it (rollback), and one that finds it expired refuses it too (freeze), so
the centre re-signs it regularly with ``embodex channel refresh`` (for example from cron).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..contract import VerifiedContract
from ..errors import DeliveryError
from ..trust import Identity, Signer, sign_model
from .channel import Channel, open_channel, utc_now
from .documents import HEAD_KEY, ChannelHead, doc_digest

__all__ = [
    "DEFAULT_HEAD_TTL",
    "HeadUpdate",
    "issue_head",
    "new_channel_id",
    "refresh_channel",
]

#: How long a head stays valid unless the centre says otherwise.
DEFAULT_HEAD_TTL = timedelta(days=3)


def new_channel_id() -> str:
    """A fresh random channel id (``ch-`` + 24 hex characters)."""
    return f"ch-{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True)
class HeadUpdate:
    """A signed head and its envelope bytes, ready to be put at ``head.json``."""

    head: ChannelHead
    data: bytes

    @property
    def digest(self) -> str:
        return doc_digest(self.head)

    def to_json(self) -> dict[str, Any]:
        """The signed head (``embodex channel refresh --json``)."""
        return self.head.model_dump(mode="json")


def issue_head(
    previous: ChannelHead | None,
    *,
    channel_id: str,
    channel: Channel,
    signer: Signer,
    now: datetime,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    batch: tuple[int, str] | None = None,
    notice: tuple[int, str] | None = None,
) -> HeadUpdate:
    """Sign the head that follows ``previous`` (sequence + 1), naming ``batch`` and
    ``notice`` (number, digest) when they changed.

    Raises :class:`DeliveryError` when ``ttl`` is not positive or the clock is behind the
    previous head (a head never goes back in time).
    """
    if ttl <= timedelta(0):
        raise DeliveryError(
            "the head's validity must be positive", hint="Pass e.g. `ttl=timedelta(days=3)`."
        )
    if previous is not None and now < previous.issued_at:
        raise DeliveryError(
            f"this machine's time {now.isoformat()} is before the channel's last head "
            f"({previous.issued_at.isoformat()})",
            hint="Fix the clock (or `now=`); heads never go back in time.",
        )
    b_num, b_digest = batch or (
        (previous.batch, previous.batch_manifest) if previous else (0, None)
    )
    n_num, n_digest = notice or (
        (previous.notice, previous.notice_digest) if previous else (0, None)
    )
    head = ChannelHead(
        channel_id=channel_id,
        contract_id=channel.contract.contract_id,
        contract_digest=channel.contract.digest,
        centre=signer.key_id,
        sequence=previous.sequence + 1 if previous else 1,
        batch=b_num,
        batch_manifest=b_digest,
        notice=n_num,
        notice_digest=n_digest,
        issued_at=now,
        expires_at=now + ttl,
    )
    return HeadUpdate(head=head, data=sign_model("channel-head", head, signer).to_json_bytes())


def refresh_channel(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    *,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
) -> HeadUpdate:
    """Re-sign the channel's head with a new expiry (same batches and notices).

    The current head must verify with the centre's key first, so a planted head is never
    extended. Raises :class:`ChannelError` (no head yet), :class:`SignatureError`,
    :class:`DeliveryError` (not the centre's key).

    Example::

        refresh_channel("s3://acme/deliveries", "contract.signed.json",
                        load_signer("hubei-centre"), ttl=timedelta(days=2))
    """
    from .outbox import Outbox

    now = now or utc_now()
    channel = open_channel(url, contract, trusted=trusted, at=now)
    channel.require(signer, "centre")
    with Outbox(channel.url).locked():
        got = channel.published_head("Publish a first batch with `publish(...)`.")
        update = issue_head(
            got.head, channel_id=got.head.channel_id, channel=channel, signer=signer, now=now,
            ttl=ttl,
        )  # fmt: skip
        channel.store.put_bytes(HEAD_KEY, update.data)
    return update
