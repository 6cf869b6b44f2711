"""Provenance from recording to delivery: a signed chain for each delivered batch.

A batch published on a channel (:mod:`embodex.delivery`) is a dataset of its own, named by
its signed batch manifest. Its provenance chain (specs/catalog.md §6.3) is about that
dataset and has four statements, each signed by the centre and naming the one before:

1. ``collection`` — when, where, on which robot and by which operator each of the batch's
   episodes was recorded (from the centre's source dataset, whose episode rows must be
   exactly those the batch manifest lists);
2. ``processing`` — import or synthesis, trimming, the selection of the batch's episodes
   from the source dataset (its digest), packaging;
3. ``qc`` — the batch's QC manifest, the one the batch manifest names (its digest), with
   the profile and the verdict counts;
4. ``delivery`` — the channel, the contract (id and digest), the buyer's key, the batch
   number, the digest of the signed batch manifest, when it was published, episodes, hours.

The centre writes the chain of batch *n* to ``provenance/batches/<n:06d>.json`` below the
channel URL (:func:`record_delivery`); a buyer checks it against the channel's verified
batch manifest (:func:`verify_delivery`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .._version import __version__
from ..canonical import digest_json
from ..delivery.channel import Channel, open_channel
from ..delivery.documents import BatchManifest, qc_key
from ..delivery.staging import batch_episodes
from ..errors import ObjectNotFoundError, ProvenanceError, SignatureError
from ..format import open_dataset
from ..qc.manifest import QCManifest
from ..trust.keys import Identity, Signer
from ..trust.qc_manifest import verify_qc_manifest
from .provenance import (
    DatasetRef,
    DeliveryStatement,
    ProcessingStep,
    ProvenanceChain,
    chain_file_bytes,
    parse_chain_file,
    processing_steps,
    qc_body,
    sign_chain,
    verify_chain,
)

__all__ = ["DeliveryProvenance", "batch_chain_key", "record_delivery", "verify_delivery"]


def batch_chain_key(number: int) -> str:
    """``provenance/batches/000003.json``: where batch ``number``'s chain lives on a channel."""
    return f"provenance/batches/{number:06d}.json"


@dataclass(frozen=True)
class DeliveryProvenance:
    """A delivered batch's verified chain and the manifest it was checked against."""

    batch: int
    manifest: BatchManifest
    manifest_digest: str
    chain: ProvenanceChain
    where: str

    def to_json(self) -> dict[str, Any]:
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {"batch": self.batch, "where": self.where, **self.chain.describe()}


def _batches(ch: Channel, batch: int | None) -> list[tuple[BatchManifest, str]]:
    got = ch.read_head()
    if got is None:
        ch.require_location()  # a typo is "no channel there", not "nothing delivered yet"
    if got is None or got.head.batch == 0:
        raise ProvenanceError(
            f"{ch.url}: nothing has been delivered on this channel yet", url=ch.url
        )
    last = got.head.batch
    if batch is not None and not 1 <= batch <= last:
        raise ProvenanceError(
            f"{ch.url} has batches 1..{last}, not {batch}",
            hint="Pick one of those batches.",
            url=ch.url,
        )
    chain = ch.read_chain(got.head.channel_id, last)  # every manifest verified and linked
    if chain[-1][1] != got.head.batch_manifest:
        raise ProvenanceError(
            f"{ch.url}: the head does not name batch {last}'s manifest", url=ch.url
        )
    return [(m, d) for m, d, _ in chain if batch is None or m.number == batch]


def _batch_qc(ch: Channel, manifest: BatchManifest) -> QCManifest:
    """The batch's QC manifest from the channel, signed by the centre and the one the batch
    manifest names."""
    key = qc_key(manifest.number)
    try:
        doc = verify_qc_manifest(ch.store.get_document(key), ch.centre)
    except ObjectNotFoundError:
        raise ProvenanceError(f"{ch.where(key)} is missing") from None
    if digest_json(doc) != manifest.qc_manifest_digest:
        raise ProvenanceError(
            f"{ch.where(key)} is not the QC manifest batch {manifest.number} names",
            batch=manifest.number,
        )
    return QCManifest.model_validate(doc)


def _delivery_body(ch: Channel, manifest: BatchManifest, digest: str) -> DeliveryStatement:
    return DeliveryStatement(
        channel_id=manifest.channel_id,
        contract_id=manifest.contract_id,
        contract_digest=manifest.contract_digest,
        buyer_key_id=ch.buyer.key_id,
        batch=manifest.number,
        batch_manifest_digest=digest,
        published_at=manifest.published_at.isoformat().replace("+00:00", "Z"),
        episodes=len(manifest.episodes),
        hours=manifest.hours,
    )


def record_delivery(
    dataset: str | Path,
    channel: str | Path,
    contract: str | Path,
    signer: Signer,
    *,
    batch: int | None = None,
    at: datetime | None = None,
) -> list[DeliveryProvenance]:
    """Sign and publish the provenance chain of delivered batches (the centre's side).

    ``dataset`` is the centre's dataset the batches were published from (``embodex publish
    DATASET``); every batch (or only ``batch``) on the channel gets its chain at
    :func:`batch_chain_key`, replacing an earlier one. The channel's head and manifests are
    verified first, ``signer`` must be the contract's centre, and the batch's episodes must
    be in ``dataset`` with the very rows the batch manifest lists. Raises
    :class:`ProvenanceError`, the channel and contract errors, ``StorageError``.

    Example::

        record_delivery("centre/all", "s3://acme/deliveries", "contract.signed.json",
                        load_signer("hubei-centre"))
    """
    ch = open_channel(channel, contract, at=at)
    ch.require(signer, "centre")
    ds = open_dataset(dataset)
    known = set(ds.episode_ids)
    tool = f"embodex {__version__}"
    out = []
    for manifest, digest in _batches(ch, batch):
        n = manifest.number
        missing = [e for e in manifest.episode_ids if e not in known]
        if missing:
            raise ProvenanceError(
                f"batch {n} holds episodes {dataset} does not ({missing[0]}, …)",
                hint="Pass the dataset the batch was published from.",
            )
        view = ds.select(episode_ids=manifest.episode_ids)
        if batch_episodes(view) != manifest.episodes:
            raise ProvenanceError(
                f"the episodes of batch {n} differ from those rows of {dataset} (edited since?)"
            )
        steps = processing_steps(view)
        select = ProcessingStep(
            step="select", tool=tool, episodes=len(view),
            details={"from_dataset": ds.digest, "for": f"batch {n} of {manifest.contract_id}"},
        )  # fmt: skip
        steps.insert(len(steps) - 1, select)  # before packaging
        qc = _batch_qc(ch, manifest)
        envelopes = sign_chain(
            view,
            signer,
            subject=DatasetRef(name=ds.meta.name, digest=manifest.dataset_digest),
            steps=steps,
            qc=qc_body(qc).model_copy(update={"manifest_digest": manifest.qc_manifest_digest}),
            last={"statement": "delivery", "delivery": _delivery_body(ch, manifest, digest)},
        )
        key = batch_chain_key(n)
        ch.store.put_bytes(key, chain_file_bytes(envelopes))
        out.append(_check(ch, manifest, digest, envelopes))
    return out


def _check(
    ch: Channel, manifest: BatchManifest, digest: str, envelopes: Sequence[Any]
) -> DeliveryProvenance:
    """Verify a batch's chain against the channel's verified manifest of that batch."""
    n = manifest.number
    where = ch.where(batch_chain_key(n))
    chain = verify_chain(envelopes, ch.centre)
    last = chain.statements[-1].delivery
    qc = chain.statement("qc").qc
    origins = [o.episode_id for o in chain.statement("collection").collection.episodes]  # type: ignore[union-attr]
    if last is None:
        raise ProvenanceError(f"{where} does not end with a delivery statement")
    qc_digest = None if qc is None else qc.manifest_digest
    problems = [
        what
        for what, ok in (
            ("the batch's dataset", chain.dataset.digest == manifest.dataset_digest),
            ("its QC manifest", qc_digest == manifest.qc_manifest_digest),
            ("the batch manifest", last.batch_manifest_digest == digest and last.batch == n),
            ("the channel and contract", (last.channel_id, last.contract_id, last.contract_digest)
             == (manifest.channel_id, manifest.contract_id, manifest.contract_digest)),
            ("the buyer", last.buyer_key_id == ch.buyer.key_id),
            ("the episodes", sorted(origins) == sorted(manifest.episode_ids)),
        )
        if not ok
    ]  # fmt: skip
    if problems:
        raise ProvenanceError(
            f"{where} is not the provenance of batch {n}: it names another " + ", ".join(problems),
            hint="Do not rely on this batch's provenance; ask the centre to record it again.",
        )
    return DeliveryProvenance(batch=n, manifest=manifest, manifest_digest=digest, chain=chain,
                              where=where)  # fmt: skip


def verify_delivery(
    channel: str | Path,
    contract: str | Path,
    *,
    batch: int | None = None,
    trusted: list[Identity] | None = None,
    at: datetime | None = None,
) -> list[DeliveryProvenance]:
    """Verify the provenance chains of the batches on a channel (the buyer's side).

    Each chain must be signed by the contract's centre and link collection → processing →
    qc → delivery, and must name exactly the batch the channel's verified manifest
    describes: its dataset digest, its QC manifest digest, the manifest's own digest, the
    channel, contract and buyer, and the same episodes. Raises :class:`ProvenanceError`
    (missing or mismatched chain), ``SignatureError``, the channel and contract errors.

    Example::

        for d in verify_delivery("s3://acme/deliveries", "contract.signed.json"):
            print(d.batch, d.chain.origin(d.manifest.episode_ids[0]).operator_level)
    """
    ch = open_channel(channel, contract, trusted=trusted, at=at)
    out = []
    for manifest, digest in _batches(ch, batch):
        key = batch_chain_key(manifest.number)
        try:
            data = ch.store.get_document(key)
        except ObjectNotFoundError:
            raise ProvenanceError(
                f"{ch.where(key)} is missing: batch {manifest.number} has no provenance chain",
                hint="Ask the centre to record the delivery (`record_delivery(...)`).",
                url=ch.where(key),
                batch=manifest.number,
            ) from None
        envelopes = parse_chain_file(data, ch.where(key))
        try:
            out.append(_check(ch, manifest, digest, envelopes))
        except SignatureError as exc:
            raise SignatureError(f"{ch.where(key)}: {exc.message}", hint=exc.hint) from None
    return out
