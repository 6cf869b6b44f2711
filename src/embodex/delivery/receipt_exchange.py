"""Receipts on the channel: the buyer's signed word on each batch, countersigned by the centre.

This module is the receipts' I/O only; what a receipt says and which receipts count are the
contract's rules (:mod:`embodex.contract.receipts`).

The buyer writes ``receipts/<n>.json`` (a ``receipt`` envelope of a contract.Receipt) after
it decided on batch ``n``; the centre verifies it and adds its own signature over the same
bytes (:func:`countersign_receipts`), acknowledging what it will invoice. Reading a receipt
verifies the buyer's signature first and refuses one signed by any other key.

A receipt that does not verify — altered, signed by another key, about another contract,
batch or manifest — is never used; readers of the whole channel (supply status, channel
show, countersigning) report it as an :class:`InvalidReceipt` and go on without it, and the
buyer's next pull puts its own copy back (:func:`repair_receipts`).

A buyer whose account may only read the channel keeps its receipts in its store; anyone
with write access (the centre, typically) puts them on the channel for it with
:func:`post_receipts` — a receipt proves itself by the buyer's signature, not by who wrote it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Literal

from ..contract import Receipt, VerifiedContract, open_receipt
from ..contract.receipts import DeletionReceipt, is_for_contract
from ..errors import (
    ChannelError,
    DeliveryError,
    ObjectNotFoundError,
    PayloadError,
    SignatureError,
    StorageAccessError,
    StorageError,
)
from ..storage.transfer import with_retries
from ..trust import Envelope, Identity, Ledger, Signer, add_signature, ledger_path, open_model
from ..trust.envelope import PAYLOAD_TYPES, verify_signatures
from .channel import Channel, open_channel, utc_now
from .documents import Notice, deletion_key, doc_digest, receipt_key
from .outbox import Outbox

__all__ = [
    "ChannelReceipt",
    "InvalidReceipt",
    "PostedReceipt",
    "ReceiptRepair",
    "append_once",
    "channel_receipt_state",
    "countersign_receipts",
    "post_receipts",
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
        data = channel.store.get_document(key)
    except ObjectNotFoundError:
        return None
    try:
        envelope, receipt, centre_signed = _open_buyers(channel, data)
    except SignatureError as exc:
        raise SignatureError(
            f"{where} is not validly signed by buyer {channel.buyer.name} "
            f"({channel.buyer.key_id}): {exc.message}",
            hint="Ignore this receipt: it was altered or signed by another key. The buyer's "
            "next pull puts its own receipt back.",
        ) from None
    if not is_for_contract(receipt, channel.contract_digests) or receipt.batch_number != number:
        raise ChannelError(f"{where} is a receipt for another contract or batch")
    return ChannelReceipt(receipt, envelope, doc_digest(receipt), centre_signed)


def _open_buyers(channel: Channel, data: bytes) -> tuple[Envelope, Receipt, bool]:
    """``data`` opened as a receipt signed by the contract's buyer, every signature on it
    verified (the centre's countersignature too): the envelope, the receipt and whether the
    centre countersigned it. Raises :class:`SignatureError` and :class:`PayloadError`."""
    envelope = Envelope.parse(data)
    receipt = open_receipt(envelope, channel.buyer)
    verified = verify_signatures(
        envelope, [channel.buyer, channel.centre], payload_type=PAYLOAD_TYPES["receipt"]
    )
    return envelope, receipt, any(i.key_id == channel.centre.key_id for i in verified.signers)


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


ReceiptState = Literal["same", "absent", "invalid", "other"]


def channel_receipt_state(channel: Channel, number: int, mine: bytes) -> ReceiptState:
    """What the channel holds for batch ``number`` against the receipt ``mine``: ``same``
    (the same bytes, or the same signed payload with the centre's countersignature added),
    ``absent``, ``invalid`` (a copy that does not verify) or ``other`` (another valid
    receipt of the buyer: another store's decision, which is never replaced)."""
    try:
        theirs = channel.store.get_document(receipt_key(number))
    except ObjectNotFoundError:
        return "absent"
    if theirs == mine:
        return "same"
    # the buyer's own copy, for the manifest it verified: theirs must name that manifest too
    own = open_receipt(mine, channel.buyer)
    try:
        got = _check_receipt(channel, number, own.batch_manifest_digest)
    except (SignatureError, PayloadError, ChannelError):
        return "invalid"
    if got is None:
        return "absent"
    return "same" if got.envelope.payload == Envelope.parse(mine).payload else "other"


@dataclass
class ReceiptRepair:
    """What :func:`repair_receipts` did."""

    #: batches whose receipt the channel lacked or held altered: put (back) on it
    put: list[int] = field(default_factory=list)
    #: batches whose receipt the channel still lacks: the store refused the write
    unposted: list[int] = field(default_factory=list)
    #: the store's refusal (this account may only read the channel), if there was one
    refused: StorageAccessError | None = None
    #: batches for which the channel holds another valid receipt of this buyer (kept)
    conflicts: list[int] = field(default_factory=list)


def repair_receipts(
    channel: Channel,
    local: dict[int, bytes],
    *,
    unposted: Collection[int] = (),
    refused: StorageAccessError | None = None,
) -> ReceiptRepair:
    """Put the buyer's own receipts (number -> envelope bytes) back on the channel where the
    channel's copy is missing or does not verify. A valid copy is kept: the same receipt
    (countersigned or not), and also another valid receipt of this buyer for that batch —
    a decision on the channel, perhaps from another store, is never replaced; those batches
    are listed in ``conflicts``.

    A store that refuses the write (:class:`StorageAccessError`: this account may read the
    channel but not write to it) does not stop it: that receipt and every later one still
    missing are listed in ``unposted`` (no further write is tried) and the refusal is kept
    in ``refused``. Pass a refusal met earlier in the same run as ``refused`` to try no
    write at all. A channel copy that cannot be read (a ``StorageError``; some mirrors
    answer a missing file with an error, not a 404) is left alone until a later run can
    read it (a receipt of ``unposted`` stays listed there). Other errors of a write are
    raised.

    Example::

        mine = {1: Path("store/receipts/000001.json").read_bytes()}
        done = repair_receipts(open_channel(url, "contract.signed.json"), mine)
        print(done.put, done.unposted)
    """
    out = ReceiptRepair(refused=refused)
    for n, mine in sorted(local.items()):
        try:
            there = channel_receipt_state(channel, n, mine)
        except StorageError:
            # unreadable now (the centre may have posted and countersigned it meanwhile):
            # nothing is written until it can be read
            if n in unposted:
                out.unposted.append(n)
            continue
        if there == "same":
            continue
        if there == "other":
            out.conflicts.append(n)
            continue
        if out.refused is None:
            try:
                channel.store.put_bytes(receipt_key(n), mine)
            except StorageAccessError as exc:
                out.refused = exc
            else:
                out.put.append(n)
                continue
        out.unposted.append(n)
    return out


def append_once(
    signer: Signer, kind: str, ref: str, note: str, *, record: bool, region: str | None = None
) -> None:
    """Append a ledger entry unless the signer's ledger already has ``kind`` for ``ref``
    (so a step redone after a crash is recorded once); ``region``: where the data is
    processed (a buyer's received batch)."""
    if record:
        Ledger(ledger_path(signer.name)).append_missing(signer, [(kind, ref, note)], region=region)


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
        head = channel.published_head(
            "Receipts come after the first `publish(...)` and the buyer's pull."
        ).head
        numbers = batches if batches is not None else list(range(1, head.batch + 1))
        for n in numbers:
            if not 1 <= n <= head.batch:
                raise DeliveryError(
                    f"batch {n} is not on {channel.url} (latest is {head.batch})",
                    hint=f"Name one of batches 1..{head.batch} "
                    "(`describe_channel(url, contract)`).",
                    url=channel.url,
                    batch=n,
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


@dataclass(frozen=True)
class PostedReceipt:
    """What :func:`post_receipts` did with one receipt file."""

    batch: int
    file: str
    digest: str
    accepted: int
    rejected: int
    #: the channel held it already (the same bytes, or countersigned by the centre)
    already: bool
    #: a deletion receipt: the revocation notice it answers (None: an acceptance receipt)
    notice: int | None = None


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DeliveryError(
            f"cannot read receipt file {path} ({exc.strerror or exc})",
            hint="Name the buyer's receipt files, DIR/receipts/NNNNNN.json of its store.",
            path=path,
        ) from None


def _check_file(
    channel: Channel, channel_id: str, latest: int, path: Path
) -> tuple[bytes, Receipt]:
    """The bytes and receipt in ``path``, verified as the buyer's receipt for a batch of
    this channel.

    Raises :class:`SignatureError` or :class:`PayloadError` (not signed by the contract's
    buyer, altered, not a receipt), :class:`ChannelError` (another contract or channel) and
    :class:`DeliveryError` (a batch the channel does not have)."""
    data = _read_file(path)
    buyer = channel.buyer
    try:
        _, receipt, _ = _open_buyers(channel, data)
    except (SignatureError, PayloadError) as exc:
        raise type(exc)(
            f"{path} is not a receipt validly signed by buyer {buyer.name} ({buyer.key_id}) of "
            f"contract {channel.contract.contract_id}: {exc.message}",
            hint="Post the buyer's receipt files as its store holds them (DIR/receipts/), "
            "unaltered.",
        ) from None
    n = receipt.batch_number
    if not is_for_contract(receipt, channel.contract_digests):
        raise ChannelError(
            f"{path} is a receipt under contract {receipt.contract_id} "
            f"({receipt.contract_digest}), not under {channel.contract.contract_id}",
            hint="Post it to that contract's channel, with that contract file.",
            path=path,
        )
    if n > latest:
        raise DeliveryError(
            f"{path} is a receipt for batch {n}, but {channel.url} has "
            + (f"batches 1..{latest} only" if latest else "no batch yet"),
            hint="Check the channel URL: a receipt goes to the channel its batch came from.",
        )
    _, digest, _ = channel.read_manifest(n, channel_id)
    if receipt.batch_manifest_digest != digest:
        raise ChannelError(
            f"{path} answers batch {n} with manifest {receipt.batch_manifest_digest}, but "
            f"batch {n} on {channel.url} is {digest}: a receipt for another channel",
            hint="Post it to the channel its batch came from.",
            path=path,
            url=channel.url,
        )
    return data, receipt


def post_receipts(
    url: str | Path,
    contract: str | Path | VerifiedContract,
    files: list[str | Path],
    *,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
) -> list[PostedReceipt]:
    """Put the buyer's receipt files on the channel, on the buyer's behalf.

    A buyer whose account may only read the channel keeps its receipts in its store
    (``DIR/receipts/``); receipts are self-authenticating, so anyone with write access —
    the centre, typically — may carry them. Every file is checked first: a ``receipt``
    envelope signed by the contract's buyer (and by the centre, when countersigned), under
    this contract, for a batch on this channel with that batch's manifest digest; the same
    batch twice must be the same receipt. One that fails stops the call before anything is
    written. Then each goes to ``receipts/NNNNNN.json`` unless the channel holds it already
    (identical, or countersigned by the centre); a copy on the channel that does not verify
    is replaced; a different valid receipt of the buyer there is left alone, as an error.
    The buyer's deletion receipts (``DIR/receipts/deletions/``, type ``deletion-receipt``)
    may be among ``files``: each must verify with the buyer's key and answer a revocation
    notice of this channel (number and digest); it goes to ``receipts/deletions/N.json``.

    Raises :class:`SignatureError`, :class:`PayloadError`, :class:`ChannelError`,
    :class:`DeliveryError` (unreadable file, no such batch, another receipt on the channel)
    and ``StorageError`` (:class:`StorageAccessError` when this account may not write).

    Example::

        post_receipts("hf://datasets/hubei-centre/agibot-deliveries", "contract.signed.json",
                      ["from-buyer/000001.json", "from-buyer/000002.json"])
    """
    channel = open_channel(url, contract, trusted=trusted, at=now or utc_now())
    head = channel.published_head("Receipts answer published batches: check the channel URL.").head
    chosen: dict[int, tuple[Path, bytes, Receipt]] = {}
    deletions = _check_deletions(channel, head.channel_id, head.notice, files)
    for name in files:
        path = Path(name)
        if path in deletions:
            continue
        data, receipt = _check_file(channel, head.channel_id, head.batch, path)
        n = receipt.batch_number
        if n in chosen and Envelope.parse(chosen[n][1]).payload != Envelope.parse(data).payload:
            raise DeliveryError(
                f"{chosen[n][0]} and {path} are two different receipts for batch {n}",
                hint="Post the one in the buyer's store (DIR/receipts/).",
                path=path,
            )
        chosen.setdefault(n, (path, data, receipt))
    plan: list[tuple[int, bool]] = []
    for n, (path, data, receipt) in sorted(chosen.items()):
        try:
            there = _check_receipt(channel, n, receipt.batch_manifest_digest)
        except (SignatureError, PayloadError, ChannelError):
            there = None  # not a valid receipt: replaced
        if there is not None and there.envelope.payload != Envelope.parse(data).payload:
            raise DeliveryError(
                f"{channel.where(receipt_key(n))} holds another receipt of buyer "
                f"{channel.buyer.name} for batch {n} ({there.digest}) than {path} "
                f"({doc_digest(receipt)}): not replaced",
                hint="A valid receipt on the channel is never replaced: ask the buyer which "
                "decision stands.",
                path=path,
            )
        # a valid copy left here names the same payload: the channel holds this receipt
        plan.append((n, there is not None))
    out = []
    for n, already in plan:
        path, data, receipt = chosen[n]
        if not already:
            with_retries(partial(channel.store.put_bytes, receipt_key(n), data))
        accepted, rejected = len(receipt.accepted), len(receipt.rejected)
        out.append(PostedReceipt(n, str(path), doc_digest(receipt), accepted, rejected, already))
    for path, (data, got) in deletions.items():
        key = deletion_key(got.notice_number)
        try:
            already = channel.store.get_document(key) == data
        except ObjectNotFoundError:
            already = False
        if not already:
            with_retries(partial(channel.store.put_bytes, key, data))
        out.append(
            PostedReceipt(
                got.batch_number, str(path), doc_digest(got), 0, 0, already, got.notice_number
            )
        )
    return out


def _check_deletions(
    channel: Channel, channel_id: str, latest: int, files: list[str | Path]
) -> dict[Path, tuple[bytes, DeletionReceipt]]:
    """The buyer's deletion receipts among ``files`` (by payload type), each verified with
    the buyer's key before parsing and checked to answer a revocation notice of this channel
    (by number and digest) under this contract. Raises like :func:`_check_file`."""
    out: dict[Path, tuple[bytes, DeletionReceipt]] = {}
    notices: dict[int, Notice] | None = None
    for name in files:
        path = Path(name)
        data = _read_file(path)
        try:
            kind = Envelope.parse(data).payloadType
        except (SignatureError, PayloadError):
            continue  # not an envelope: _check_file says so
        if kind != PAYLOAD_TYPES["deletion-receipt"]:
            continue
        buyer = channel.buyer
        try:
            got = open_model(
                "deletion-receipt", DeletionReceipt, data, [buyer], required_keyids=[buyer.key_id]
            )
        except (SignatureError, PayloadError) as exc:
            raise type(exc)(
                f"{path} is not a deletion receipt validly signed by buyer {buyer.name} "
                f"({buyer.key_id}): {exc.message}",
                hint="Post the buyer's files as its store holds them (DIR/receipts/deletions/), "
                "unaltered.",
            ) from None
        if notices is None:
            notices = {n.number: n for n, _, _ in channel.read_notices(channel_id, latest)}
        notice = notices.get(got.notice_number)
        ok = (
            notice is not None
            and notice.type == "revocation"
            and doc_digest(notice) == got.notice_digest
            and got.channel_id == channel_id
            and got.contract_digest in channel.contract_digests
        )
        if not ok:
            raise ChannelError(
                f"{path} answers revocation notice {got.notice_number} of channel "
                f"{got.channel_id}, which {channel.url} does not hold",
                hint="Post it to the channel whose revocation it answers.",
                path=path,
            )
        out[path] = (data, got)
    return out
