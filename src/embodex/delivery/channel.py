"""Reading a channel as someone who trusts nothing on it: every document verified first.

:class:`Channel` pairs a storage location with the verified contract it runs under. Its
readers check each document's signature with the contract's centre key before parsing,
then that it belongs to this contract and channel, and that batches and notices chain to
their predecessors. Freshness and rollback are judged by the caller against what it saw
before (:func:`check_fresh`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .. import parsing  # bounds looked up at each read (a test may lower them)
from ..contract import VerifiedContract, verify_contract_file
from ..contract.file import default_trusted
from ..contract.lifecycle import ContractState
from ..errors import ChannelError, DeliveryError, FrozenChannelError, ObjectNotFoundError
from ..storage.stores import FileStorage, Storage, open_storage
from ..trust import Identity, Signer
from .documents import (
    HEAD_KEY,
    BatchManifest,
    ChannelHead,
    Notice,
    doc_digest,
    manifest_key,
    notice_key,
    open_document,
)

__all__ = [
    "CLOCK_SKEW",
    "Channel",
    "HeadRead",
    "check_fresh",
    "open_channel",
    "utc_now",
]

#: How far in the future a head's issue time may lie before it is refused (clock skew).
CLOCK_SKEW = timedelta(minutes=5)


def utc_now() -> datetime:
    """Now, in UTC, to the second (what signed documents carry)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class HeadRead:
    """A verified head, its digest and the exact bytes read."""

    head: ChannelHead
    digest: str
    data: bytes


class Channel:
    """A channel (storage URL) under a verified contract.

    Example::

        ch = open_channel("s3://acme/deliveries", "contract.signed.json")
        got = ch.read_head()
        manifest, digest = ch.read_manifest(got.head.batch)
    """

    def __init__(self, store: Storage, verified: VerifiedContract) -> None:
        self.store = store
        self.url = store.url
        self.verified = verified
        self.contract = verified.contract
        self.centre: Identity = self.contract.parties.centre.identity()
        self.buyer: Identity = self.contract.parties.buyer.identity()
        #: digests of every version of the contract: a channel may run under any of them
        self.contract_digests = verified.digests

    def __repr__(self) -> str:
        return f"Channel({self.url!r}, {self.contract.contract_id})"

    def where(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    def require(self, signer: Signer, role: str) -> None:
        """Raise :class:`DeliveryError` unless ``signer`` is the contract's ``role`` key
        (``centre``: publishes and signs channel documents; ``buyer``: pulls, receipts)."""
        party = self.centre if role == "centre" else self.buyer
        if signer.key_id != party.key_id:
            does = (
                "publish and sign channel documents"
                if role == "centre"
                else "pull and sign receipts"
            )
            raise DeliveryError(
                f"key {signer.name!r} ({signer.key_id}) is not the {role} of contract "
                f"{self.contract.contract_id}, which names {party.name!r} ({party.key_id})",
                hint=f"Use the {role}'s key (`signer=`): it alone may {does}.",
                key_name=signer.name,
                key_id=signer.key_id,
            )

    # -- documents -------------------------------------------------------------------------

    def _check_contract(self, contract_id: str, digest: str, what: str) -> None:
        if contract_id != self.contract.contract_id or digest not in self.contract_digests:
            raise ChannelError(
                f"{what} belongs to contract {contract_id} ({digest}), not to "
                f"{self.contract.contract_id}",
                hint="Check the channel URL and the contract file you passed.",
            )

    def read_head(self) -> HeadRead | None:
        """The verified head, or None when the channel has none yet.

        Raises :class:`SignatureError` (not the centre's), :class:`ChannelError` (another
        contract or centre), ``StorageError``.
        """
        try:
            data = self.store.get_document(HEAD_KEY, parsing.MAX_HEAD_BYTES)
        except ObjectNotFoundError:
            return None
        where = self.where(HEAD_KEY)
        head = open_document("channel-head", ChannelHead, data, self.centre, where)
        self._check_contract(head.contract_id, head.contract_digest, f"the head at {where}")
        if head.centre != self.centre.key_id:
            raise ChannelError(f"the head at {where} names another centre key ({head.centre})")
        return HeadRead(head=head, digest=doc_digest(head), data=data)

    def require_location(self) -> None:
        """Refuse a URL where nothing is stored (no head, no object, no folder): a typo in a
        channel URL must not read as "nothing published yet", which only a channel that
        exists may say. Raises :class:`ChannelError`."""
        if not self.store.location_exists():
            raise ChannelError(
                f"there is no channel at {self.url}: nothing is stored there",
                hint="Check the URL for a typo (the centre's first `publish(...)` creates "
                "the channel).",
                url=self.url,
            )

    def published_head(self, hint: str) -> HeadRead:
        """:meth:`read_head` for commands that need something published: a channel with no
        head yet is a :class:`ChannelError` carrying ``hint`` (what to do first)."""
        got = self.read_head()
        if got is None:
            self.require_location()  # a typo is "no channel there", not "nothing yet"
            raise ChannelError(
                f"{self.url} has no head: nothing was published yet", hint=hint, url=self.url
            )
        return got

    def read_manifest(
        self, number: int, channel_id: str | None
    ) -> tuple[BatchManifest, str, bytes]:
        """Batch ``number``'s verified manifest, its digest and envelope bytes
        (``channel_id`` None: of any channel, for a channel whose head is not written yet)."""
        key = manifest_key(number)
        where = self.where(key)
        try:
            data = self.store.get_document(key, parsing.MAX_DOCUMENT_BYTES)
        except ObjectNotFoundError:
            raise ChannelError(
                f"the head names batch {number} but {where} is missing",
                hint="The channel is damaged or still being written; ask the centre.",
                batch=number,
            ) from None
        manifest = open_document("batch-manifest", BatchManifest, data, self.centre, where)
        self._check_contract(manifest.contract_id, manifest.contract_digest, f"batch {number}")
        if manifest.number != number or manifest.channel_id != (channel_id or manifest.channel_id):
            raise ChannelError(
                f"{where} is batch {manifest.number} of channel {manifest.channel_id}, "
                f"not batch {number} of {channel_id}: a manifest was moved or replayed",
                batch=manifest.number,
            )
        return manifest, doc_digest(manifest), data

    def read_chain(
        self, channel_id: str, upto: int, *, after: int = 0, previous: str | None = None
    ) -> list[tuple[BatchManifest, str, bytes]]:
        """Manifests ``after+1 .. upto``, each checked to chain to the one before.

        ``previous`` is the digest of manifest ``after`` (None when ``after`` is 0).
        Raises :class:`ChannelError` on a broken link.
        """
        out = []
        for n in range(after + 1, upto + 1):
            manifest, digest, data = self.read_manifest(n, channel_id)
            if manifest.previous != previous:
                raise ChannelError(
                    f"batch {n} does not chain to batch {n - 1} (it names {manifest.previous}, "
                    f"batch {n - 1} is {previous}): the channel's history was rewritten",
                    hint="Do not use this channel; tell the centre.",
                )
            out.append((manifest, digest, data))
            previous = digest
        return out

    def read_notices(
        self, channel_id: str, upto: int, *, after: int = 0, previous: str | None = None
    ) -> list[tuple[Notice, str, bytes]]:
        """Notices ``after+1 .. upto``, verified and chained like batches."""
        out = []
        for n in range(after + 1, upto + 1):
            key = notice_key(n)
            where = self.where(key)
            try:
                data = self.store.get_document(key, parsing.MAX_DOCUMENT_BYTES)
            except ObjectNotFoundError:
                raise ChannelError(f"the head names notice {n} but {where} is missing") from None
            notice = open_document("notice", Notice, data, self.centre, where)
            self._check_contract(notice.contract_id, notice.contract_digest, f"notice {n}")
            if notice.number != n or notice.channel_id != channel_id:
                raise ChannelError(f"{where} is notice {notice.number} of {notice.channel_id}")
            if notice.previous != previous:
                raise ChannelError(
                    f"notice {n} does not chain to notice {n - 1}: the history was rewritten"
                )
            digest = doc_digest(notice)
            out.append((notice, digest, data))
            previous = digest
        return out


def check_fresh(got: HeadRead, now: datetime, where: str) -> None:
    """Refuse an expired head (freeze) or one issued in the future (a skewed clock)."""
    head = got.head
    if head.expires_at <= now:
        raise FrozenChannelError(
            f"the channel head at {where} expired at {head.expires_at.isoformat()} (signed "
            f"{head.issued_at.isoformat()}, sequence {head.sequence}): the channel may be frozen "
            "at an old state"
        )
    if head.issued_at > now + CLOCK_SKEW:
        raise ChannelError(
            f"the channel head at {where} was issued at {head.issued_at.isoformat()}, in the "
            f"future (now {now.isoformat()})",
            hint="Check this machine's clock (and `now=`); pull again.",
            url=where,
        )


def open_channel(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    *,
    trusted: list[Identity] | None = None,
    at: datetime | None = None,
    create: bool = False,
) -> Channel:
    """Open the channel at ``url`` under a signed contract file (verified here).

    The contract must carry both parties' signatures (the keys come from it). A local
    channel's folder must exist unless ``create`` (publishing makes it): a mistyped path is
    an error, not an empty channel. Raises the contract errors of
    :func:`verify_contract_file`, :class:`ChannelError` (no such folder) and
    ``StorageError``.
    """
    if isinstance(contract, VerifiedContract):
        verified = contract
    else:
        day = (at or utc_now()).date()
        verified = verify_contract_file(
            contract, trusted if trusted is not None else default_trusted(), at=day
        )
    if verified.state in (ContractState.DRAFT, ContractState.OFFERED):
        verified.require_in_force()  # says who has not signed yet
    store = open_storage(url)
    if isinstance(store, FileStorage) and not create and not store.root.is_dir():
        raise ChannelError(
            f"there is no channel folder {store.root}",
            hint="Check the path (the centre's first `publish(...)` creates the folder).",
            path=store.root,
        )
    return Channel(store, verified)
