"""Receipts on the channel: the buyer's signed word on each batch, countersigned by the centre.

The buyer writes ``receipts/<n>.json`` (a ``receipt`` envelope, trust.Receipt) after it
decided on batch ``n``; the centre verifies it and adds its own signature over the same
bytes (:func:`countersign_receipts`), acknowledging what it will invoice. Reading a receipt
verifies the buyer's signature first and refuses one signed by any other key.

A receipt that does not verify — altered, signed by another key, about another contract,
batch or manifest — is never used; readers of the whole channel (supply status, channel
show, countersigning) report it as an :class:`InvalidReceipt` and go on without it, and the
buyer's next pull puts its own copy back (:func:`repair_receipts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import (
    ChannelError,
    DeliveryError,
    ObjectNotFoundError,
    PayloadError,
    SignatureError,
)
from ..trust import (
    Envelope,
    Identity,
    Ledger,
    Receipt,
    Signer,
    VerifiedContract,
    add_signature,
    ledger_path,
    open_receipt,
)
from ..trust.envelope import PAYLOAD_TYPES, verify_signatures
from .channel import Channel, open_channel, utc_now
from .documents import doc_digest, receipt_key
from .outbox import Outbox

__all__ = [
    "ChannelReceipt",
    "InvalidReceipt",
    "append_once",
    "countersign_receipts",
    "read_receipt",
    "read_receipts",
    "repair_receipts",
]


@dataclass(frozen=True)
class ChannelReceipt:
    """A verified receipt found on the channel."""

    receipt: Receipt
    envelope: Envelope
    digest: str
    countersigned: bool


def read_receipt(channel: Channel, number: int) -> ChannelReceipt | None:
    """Receipt ``number`` from the channel, verified (None when there is none).

    Raises :class:`SignatureError` when it is not signed by the contract's buyer or a
    signature on it (the centre's countersignature included) does not verify, and
    :class:`ChannelError` when it is about another contract or batch.
    """
    key = receipt_key(number)
    where = channel.where(key)
    try:
        data = channel.store.get_bytes(key)
    except ObjectNotFoundError:
        return None
    try:
        envelope = Envelope.parse(data)
        receipt = open_receipt(envelope, channel.buyer)
        verified = verify_signatures(
            envelope, [channel.buyer, channel.centre], payload_type=PAYLOAD_TYPES["receipt"]
        )
    except SignatureError as exc:
        raise SignatureError(
            f"{where} is not validly signed by buyer {channel.buyer.name} "
            f"({channel.buyer.key_id}): {exc.message}",
            hint="Ignore this receipt: it was altered or signed by another key. The buyer's "
            "next pull puts its own receipt back.",
        ) from None
    if receipt.contract_digest not in channel.contract_digests or receipt.batch_number != number:
        raise ChannelError(f"{where} is a receipt for another contract or batch")
    centre_signed = any(i.key_id == channel.centre.key_id for i in verified.signers)
    return ChannelReceipt(receipt, envelope, doc_digest(receipt), centre_signed)


@dataclass(frozen=True)
class InvalidReceipt:
    """A receipt on the channel that does not verify, and why (it is not used)."""

    batch: int
    problem: str


def _check_receipt(
    channel: Channel, number: int, manifest_digest: str | None
) -> ChannelReceipt | None:
    """:func:`read_receipt`, and the receipt must name ``manifest_digest`` when given."""
    got = read_receipt(channel, number)
    if got is not None and manifest_digest and got.receipt.batch_manifest_digest != manifest_digest:
        raise ChannelError(
            f"{channel.where(receipt_key(number))} names another manifest "
            f"({got.receipt.batch_manifest_digest}) than the one published ({manifest_digest})",
            hint="Ignore it: a receipt from elsewhere was copied here. The buyer's next pull "
            "puts its own receipt back.",
        )
    return got


def read_receipts(
    channel: Channel, manifests: dict[int, str]
) -> tuple[dict[int, ChannelReceipt], list[InvalidReceipt]]:
    """The verified receipts of the batches ``manifests`` names (number -> manifest digest),
    and the receipts present that do not verify or name another manifest (reported, not
    used)."""
    out: dict[int, ChannelReceipt] = {}
    bad: list[InvalidReceipt] = []
    for n, digest in sorted(manifests.items()):
        try:
            got = _check_receipt(channel, n, digest)
        except (SignatureError, PayloadError, ChannelError) as exc:
            bad.append(InvalidReceipt(n, exc.message))
            continue
        if got is not None:
            out[n] = got
    return out, bad


def repair_receipts(channel: Channel, local: dict[int, bytes]) -> list[int]:
    """Put the buyer's own receipts (number -> envelope bytes) back on the channel where the
    channel's copy is missing, does not verify, or is not the same receipt (a valid
    countersignature by the centre is kept). Returns the batches repaired.

    Example::

        mine = {1: Path("store/receipts/000001.json").read_bytes()}
        repair_receipts(open_channel(url, "contract.signed.json"), mine)
    """
    fixed = []
    for n, mine in sorted(local.items()):
        try:
            theirs = channel.store.get_bytes(receipt_key(n))
        except ObjectNotFoundError:
            theirs = None
        if theirs == mine:
            continue
        if theirs is not None:
            try:
                got = read_receipt(channel, n)
                same = got is not None and got.envelope.payload == Envelope.parse(mine).payload
            except (SignatureError, PayloadError, ChannelError):
                same = False
            if same:
                continue  # the same receipt, countersigned
        channel.store.put_bytes(receipt_key(n), mine)
        fixed.append(n)
    return fixed


def append_once(signer: Signer, kind: str, ref: str, note: str, *, record: bool) -> None:
    """Append a ledger entry unless the signer's ledger already has ``kind`` for ``ref``
    (so a step redone after a crash is recorded once)."""
    if record:
        Ledger(ledger_path(signer.name)).append_missing(signer, [(kind, ref, note)])


@dataclass(frozen=True)
class Countersigned:
    """What :func:`countersign_receipts` did for one batch."""

    batch: int
    digest: str
    accepted: int
    rejected: int
    already: bool
    problem: str | None = None  # the receipt does not verify: skipped


def countersign_receipts(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    *,
    batches: list[int] | None = None,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
    record: bool = True,
) -> list[Countersigned]:
    """Add the centre's signature to the buyer's receipts on the channel.

    Each receipt is verified first (buyer's signature, this contract, a batch the head
    names, the batch manifest's digest); one that fails is not signed and comes back with
    its ``problem`` (the buyer's next pull puts its own copy back), the others are signed.
    ``batches`` limits it to those numbers (default: every receipt present); a receipt named
    there that is missing or fails raises. Raises :class:`SignatureError`,
    :class:`ChannelError`, :class:`DeliveryError`.

    Example::

        countersign_receipts("s3://acme/deliveries", "contract.signed.json",
                             load_signer("hubei-centre"))
    """
    channel = open_channel(url, contract, trusted=trusted, at=now or utc_now())
    channel.require(signer, "centre")
    out = []
    with Outbox(channel.url).locked():
        got = channel.read_head()
        if got is None:
            raise DeliveryError(
                f"{channel.url} has no head: nothing was published yet",
                hint="Receipts come after the first `embodex publish` and the buyer's pull.",
            )
        head = got.head
        numbers = batches if batches is not None else list(range(1, head.batch + 1))
        for n in numbers:
            if not 1 <= n <= head.batch:
                raise DeliveryError(
                    f"batch {n} is not on {channel.url} (latest is {head.batch})",
                    hint=f"Name one of batches 1..{head.batch} (`embodex channel show`).",
                )
            _, manifest_digest, _ = channel.read_manifest(n, head.channel_id)
            try:
                found = _check_receipt(channel, n, manifest_digest)
            except (SignatureError, PayloadError, ChannelError) as exc:
                if batches is not None:
                    raise
                out.append(Countersigned(n, "", 0, 0, False, problem=exc.message))
                continue
            if found is None:
                if batches is not None:
                    raise DeliveryError(
                        f"the buyer has not written a receipt for batch {n} yet",
                        hint="Its pull writes it; run this again afterwards.",
                    )
                continue
            r = found.receipt
            if not found.countersigned:
                signed = add_signature(found.envelope, signer)
                channel.store.put_bytes(receipt_key(n), signed.to_json_bytes())
            # also when it was countersigned already: a run killed between the two writes
            # left the ledger without the entry
            append_once(
                signer,
                "receipt-countersigned",
                found.digest,
                f"{head.channel_id} batch {n}: {len(r.accepted)} accepted, "
                f"{len(r.rejected)} rejected",
                record=record,
            )
            already = found.countersigned
            out.append(Countersigned(n, found.digest, len(r.accepted), len(r.rejected), already))
    return out
