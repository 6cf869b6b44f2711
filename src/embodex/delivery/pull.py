"""``pull``: the buyer fetches new batches, checks them, decides, installs, signs receipts.

For each run (specs/channel.md §5), under the store's lock:

1. the head: signed by the contract's centre, the same channel as before, a sequence and
   batch number never lower than seen (rollback), not expired (freeze);
2. new notices, verified and chained; revocations (of a batch, or of single episodes) are
   applied to the local dataset, each with a signed deletion receipt (posted on the channel
   at the end of the run);
3. for each new batch in order: its manifest verified and chained to the previous one;
   its files downloaded in parallel (resuming partial files, never fetching a finished
   one again), each checked for size and sha256 before anything reads it;
4. the contract's QC profile re-run locally and compared with the centre's QC manifest;
5. the decision (:mod:`.decide`): accept, accept in part or reject, episode by episode;
6. accepted episodes installed atomically into ``DIR/dataset``, rejected ones quarantined;
7. the signed receipt written to ``DIR/receipts``, the channel and the buyer's ledger;
8. every receipt of this store the channel lacks, or holds in a form that does not verify,
   put back (one bad object on the channel must not stop the accounting for good).

A channel that refuses the buyer's writes (:class:`StorageAccessError`: a gated Hub repo's
approved users, a read-only mirror or credential) does not stop the pull: the receipt stays
in ``DIR/receipts``, the batch is done, and the state lists it as unposted
(``receipts_unposted``) until a later pull — or anyone with write access, through
:func:`~embodex.delivery.receipt_exchange.post_receipts` — puts it on the channel.

The state file records each step, so a pull killed at any moment resumes where it stopped.
"""

from __future__ import annotations

import base64
import functools
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..canonical import canonical_json, digest_json
from ..config import region as declared_region
from ..contract import (
    Contract,
    Receipt,
    VerifiedContract,
    build_receipt,
    open_receipt,
    sign_receipt,
)
from ..contract.checking import Violation, replaced_batch
from ..contract.receipts import DeletionReceipt, replaceable_batches
from ..contract.regions import abroad, allows_region, parse_region
from ..errors import (
    ChannelError,
    DeliveryError,
    EmbodexError,
    FrozenChannelError,
    ObjectNotFoundError,
    PullLockedError,
    RegionError,
    RollbackError,
    StorageAccessError,
    StorageError,
    StorageIntegrityError,
)
from ..format import Manifest, open_dataset
from ..format.layout import MANIFEST_FILE
from ..fsutil import UnsafePathError, atomic_write_bytes, safe_join
from ..parsing import describe_validation_error, parse_document
from ..qc import Profile, QCManifest, default_profile, load_qc_manifest, run_qc, write_qc
from ..qc.manifest import profile_path
from ..storage.transfer import (
    DEFAULT_ATTEMPTS,
    DEFAULT_WORKERS,
    Download,
    TransferStats,
    download_files,
    with_retries,
)
from ..trust import (
    Envelope,
    Identity,
    Ledger,
    Signer,
    ledger_path,
    open_model,
    sign_model,
    verify_qc_manifest,
)
from ..trust.types import dec_str
from ..units import count
from .buyer_store import BatchProgress, BatchSeen, BuyerStore, PullState
from .channel import CLOCK_SKEW, Channel, HeadRead, check_fresh, open_channel, utc_now
from .decide import Decision, decide, reasons_summary, reject_all
from .documents import (
    BatchManifest,
    ChannelHead,
    Notice,
    batch_prefix,
    deletion_key,
    doc_digest,
    open_document,
    receipt_key,
)
from .install import install_batch, mark_revoked
from .receipt_exchange import append_once, channel_receipt_state, repair_receipts
from .staging import batch_episodes

__all__ = ["BatchReport", "PullReport", "pull", "watch"]


@dataclass
class BatchReport:
    """One batch a pull finished."""

    number: int
    outcome: str
    episodes: int
    accepted: int
    rejected: int
    accepted_hours: Decimal
    rejected_hours: Decimal
    reasons: dict[str, int]
    receipt: Path
    bytes: int = 0
    files: int = 0
    reused_files: int = 0
    disagreements: int = 0
    #: seconds spent downloading and hash-checking, re-running QC, installing (this run)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.number,
            "outcome": self.outcome,
            "episodes": self.episodes,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "accepted_hours": dec_str(self.accepted_hours),
            "rejected_hours": dec_str(self.rejected_hours),
            "reasons": self.reasons,
            "receipt": str(self.receipt),
            "bytes_downloaded": self.bytes,
            "files_downloaded": self.files,
            "files_reused": self.reused_files,
            "qc_disagreements": self.disagreements,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


@dataclass
class PullReport:
    """What a pull did."""

    url: str
    into: Path
    channel_id: str | None = None
    head_sequence: int = 0
    expires_at: datetime | None = None
    batches: list[BatchReport] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    revoked: dict[int, list[str]] = field(default_factory=dict)
    dataset_episodes: int = 0
    dataset_hours: float = 0.0
    message: str | None = None
    #: batches whose receipt the channel lacked or held altered: this store's copy was put back
    receipts_repaired: list[int] = field(default_factory=list)
    #: batches whose receipt an earlier pull could not post: posted by this one
    receipts_posted: list[int] = field(default_factory=list)
    #: batches whose receipt the channel still lacks because it refused this account's
    #: write; kept in ``DIR/receipts`` (every pull tries again; ``embodex receipt post``)
    receipts_unposted: list[int] = field(default_factory=list)
    #: the store's one-line refusal when ``receipts_unposted`` is not empty
    receipts_refused: str | None = None
    #: batches for which the channel holds another valid receipt of this buyer than this
    #: store's (another store's decision, say): kept on the channel, never replaced
    receipts_conflicting: list[int] = field(default_factory=list)
    #: revocation notices whose deletion receipt this pull put on the channel
    deletions_posted: list[int] = field(default_factory=list)
    #: the region where this store processes the data (specs/privacy.md §4e), and where
    #: that came from: ``declared`` (``region=``), ``environment`` (``EMBODEX_REGION``),
    #: ``store`` (fixed by an earlier pull), ``assumed`` (none declared: the contract's origin)
    region: str | None = None
    region_source: str | None = None

    @property
    def dataset(self) -> Path:
        return self.into / "dataset"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "into": str(self.into),
            "dataset": str(self.dataset),
            "channel_id": self.channel_id,
            "head_sequence": self.head_sequence,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "batches": [b.to_dict() for b in self.batches],
            "notices": [n.model_dump(mode="json") for n in self.notices],
            "revoked": {str(k): v for k, v in self.revoked.items()},
            "dataset_episodes": self.dataset_episodes,
            "dataset_hours": round(self.dataset_hours, 6),
            "message": self.message,
            "receipts_repaired": self.receipts_repaired,
            "receipts_posted": self.receipts_posted,
            "receipts_unposted": self.receipts_unposted,
            "receipts_refused": self.receipts_refused,
            "receipts_conflicting": self.receipts_conflicting,
            "deletions_posted": self.deletions_posted,
            "region": self.region,
            "region_source": self.region_source,
        }


def _check_head(got: HeadRead, state: PullState, channel: Channel, now: datetime) -> None:
    """Same channel, nothing older than seen before (rollback), not expired (freeze)."""
    head = got.head
    where = channel.where("head.json")
    if state.channel_id is not None and head.channel_id != state.channel_id:
        raise ChannelError(
            f"{where} is channel {head.channel_id}, but this store was filled from channel "
            f"{state.channel_id}",
            hint="Check the URL, or pull this channel into a new directory.",
        )
    seen = f"sequence {state.head_sequence} (batch {state.head_batch}) was seen before"
    if head.sequence < state.head_sequence:
        raise RollbackError(
            f"{where} has sequence {head.sequence} (batch {head.batch}), but {seen}: an old "
            "head was replayed"
        )
    if head.sequence == state.head_sequence and got.digest != state.head_digest:
        raise RollbackError(f"{where} is a different head with the same sequence {head.sequence}")
    if head.batch < state.head_batch or head.notice < state.head_notice:
        raise RollbackError(
            f"{where} names batch {head.batch} and notice {head.notice}, but batch "
            f"{state.head_batch} and notice {state.head_notice} were named before: the channel "
            "was rolled back"
        )
    if state.head_issued_at is not None and head.issued_at < state.head_issued_at:
        raise ChannelError(
            f"{where} (sequence {head.sequence}) was issued at {head.issued_at.isoformat()}, "
            f"before the head seen earlier ({state.head_issued_at.isoformat()}): the centre "
            "signs heads back in time",
            hint="Do not trust its delivery times; tell the centre.",
        )
    check_fresh(got, now, where)


def _check_fork(got: HeadRead, run: _Puller, *, record: bool) -> None:
    """Refuse a channel whose history forked: batch ``last_batch`` — installed here — served
    now with other content under the centre's signature. Both signed manifests are kept in
    ``DIR/.pull/evidence/`` and the buyer's ledger gets ``fork-detected`` (the refusal's
    proof: the centre signed two different batches under one number).

    Batch ``last_batch`` is read again only when something points at a fork: the head names
    it with another digest, or the next batch does not chain to it (the caller's call after
    ``read_chain`` failed) — a normal pull reads nothing it installed before."""
    st, ch, store = run.state, run.ch, run.store
    n = st.last_batch
    if n == 0 or got.head.batch < n or st.last_manifest_digest is None:
        return  # nothing installed yet, or a rollback (_check_head refuses it)
    if got.head.batch == n and got.head.batch_manifest == st.last_manifest_digest:
        return
    try:
        _, their_digest, their_data = ch.read_manifest(n, got.head.channel_id)
    except ChannelError:
        return  # batch n is gone or unreadable: the caller's own error says so
    if their_digest == st.last_manifest_digest:
        return
    copy = store.manifest_copy(n)
    ours_data = copy.read_bytes() if copy.exists() else b""
    evidence = store.evidence(f"fork-batch-{n:06d}.json")
    atomic_write_bytes(
        evidence,
        canonical_json(
            {
                "batch": n,
                "installed": {"digest": st.last_manifest_digest, "envelope": _b64(ours_data)},
                "channel": {"digest": their_digest, "envelope": _b64(their_data)},
                "head": _b64(got.data),
            }
        ),
    )
    note = (
        f"batch {n} forked: installed {st.last_manifest_digest} sig {_sig_of(ours_data)}; "
        f"channel serves {their_digest} sig {_sig_of(their_data)} (head sequence "
        f"{got.head.sequence})"
    )
    append_once(run.signer, "fork-detected", their_digest, note, record=record)
    raise RollbackError(
        f"batch {n} on {ch.url} was rewritten: this store installed manifest "
        f"{st.last_manifest_digest}, the channel now serves {their_digest}, both signed by the "
        f"centre's key — a forked history (evidence: {evidence} and the ledger)",
        hint="Do not use this channel; the evidence file proves the centre signed both. "
        "Tell the centre (or its security contact).",
        url=ch.url,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _sig_of(envelope: bytes) -> str:
    """The first signature of an envelope (for a ledger note), or "?" when unreadable."""
    try:
        return str(Envelope.parse(envelope).signatures[0].sig)
    except (EmbodexError, IndexError, AttributeError):
        return "?"


def _note_seen(state: PullState, head: ChannelHead, now: datetime) -> None:
    """Record, for each batch this head names for the first time, when it was first seen and
    what the store saw before it: the newest head (its signed issue time) and the last pull
    (this buyer's clock), neither of which showed it (specs/channel.md §5.6)."""
    for n in range(state.head_batch + 1, head.batch + 1):
        if n not in state.seen:
            state.seen[n] = BatchSeen(
                first_seen=now, head_before=state.head_issued_at, pulled_before=state.checked_at
            )


def _delivery_time(
    manifest: BatchManifest, seen: BatchSeen | None
) -> tuple[datetime, list[Violation]]:
    """The time the schedule is judged by: the manifest's ``published_at`` (the centre's
    word), unless the store saw the channel without the batch later than that — a head
    signed after it, or a pull (less the clock-skew allowance) — when that time is used
    and a ``schedule.backdated`` violation says why."""
    if seen is None:
        return manifest.published_at, []
    evidence: list[tuple[datetime, str]] = []
    if seen.head_before is not None:
        evidence.append((seen.head_before, "a head the centre signed at {} did not name it"))
    if seen.pulled_before is not None:
        evidence.append((seen.pulled_before - CLOCK_SKEW, "this buyer's pull at {} did not see it"))
    late = [(t, why) for t, why in evidence if t > manifest.published_at]
    if not late:
        return manifest.published_at, []
    bound, why = max(late)
    shown = seen.pulled_before if bound != seen.head_before else bound
    return bound, [
        Violation(
            rule="schedule.backdated",
            message=f"batch {manifest.number} says it was published at "
            f"{manifest.published_at.isoformat()}, but {why.format(_iso(shown))}: judged as "
            f"delivered at {bound.isoformat()}",
            measured=manifest.published_at.isoformat(),
            threshold=bound.isoformat(),
        )
    ]


def _iso(when: datetime | None) -> str:
    return when.isoformat() if when is not None else "?"


def _profile(channel: Channel, incoming: Path, override: Profile | None) -> Profile:
    """The contract's QC profile: given, shipped with the batch, or built in — by digest."""
    wanted = channel.contract.acceptance.qc_profile_digest
    shipped = incoming / profile_path(wanted)
    candidates: list[Callable[[], Profile]] = []
    if override is not None:
        candidates.append(lambda: override)
    if shipped.exists():
        candidates.append(lambda: parse_document(shipped, Profile, DeliveryError))
    candidates.append(default_profile)
    for make in candidates:
        try:
            profile = make()
        except (ValueError, DeliveryError):
            continue
        if profile.digest == wanted:
            return profile
    raise DeliveryError(
        f"the contract's QC profile {wanted} is not available here",
        hint="Pass the agreed profile (`profile=`).",
    )


def _dest(incoming: Path, path: str) -> Path:
    """Where a batch file goes: inside ``incoming``, through no symbolic link."""
    try:
        dest = safe_join(incoming, path, what="batch file")
    except UnsafePathError as exc:
        raise ChannelError(exc.message, hint=exc.hint) from None
    if not dest.resolve().is_relative_to(incoming.resolve()):
        raise ChannelError(f"file name {path!r} escapes the download folder", path=path)
    return dest


def _verify_dataset(manifest: BatchManifest, incoming: Path) -> None:
    """The downloaded dataset is exactly what the signed batch manifest describes."""
    listed = {f.path: f for f in manifest.files}
    ds_root = incoming / "dataset"
    inner = parse_document(
        ds_root / MANIFEST_FILE, Manifest, StorageIntegrityError, name="the batch's manifest.json"
    )
    if inner.digest != manifest.dataset_digest:
        raise StorageIntegrityError(
            f"the batch's dataset has digest {inner.digest}, the manifest names "
            f"{manifest.dataset_digest}"
        )
    for entry in inner.files:
        got = listed.get(f"dataset/{entry.path}")
        if got is None or (got.size, got.sha256) != (entry.size, entry.sha256):
            raise StorageIntegrityError(
                f"dataset file {entry.path} is not the one the batch manifest lists"
            )
    ds = open_dataset(ds_root)
    if batch_episodes(ds) != manifest.episodes:
        raise StorageIntegrityError(
            "the batch manifest does not describe the episodes in its dataset"
        )


def _centre_qc(channel: Channel, manifest: BatchManifest, incoming: Path) -> QCManifest:
    data = (incoming / "qc.json").read_bytes()
    doc = verify_qc_manifest(data, channel.centre)
    if digest_json(doc) != manifest.qc_manifest_digest:
        raise StorageIntegrityError("the centre's QC manifest is not the one the batch names")
    try:
        return QCManifest.model_validate(doc)
    except ValidationError as exc:
        raise StorageIntegrityError(
            f"the centre's QC manifest: {describe_validation_error(exc)}"
        ) from None


def _resolve_region(contract: Contract, stored: str | None, given: str | None) -> tuple[str, str]:
    """Where this store processes the data, and how that is known (see
    :attr:`PullReport.region_source`); refuses a region the contract does not allow, a
    declaration that differs from the store's, and no declaration on a cross-border
    contract. Raises :class:`RegionError`."""
    usage, cid = contract.usage, contract.contract_id
    allowed = ", ".join(usage.allowed_regions)
    declared: str | None = None
    source = ""
    for text, src in ((given, "declared"), (declared_region(), "environment")):
        if text is None:
            continue
        declared, source = parse_region(text), src
        if declared is None:
            where = "EMBODEX_REGION" if src == "environment" else "the region"
            raise RegionError(
                f"{where} {text!r} is not an ISO 3166 region code",
                hint="Give a country (CN, DE) or a subdivision (CN-HB).",
            )
        break
    if stored is not None:
        if declared is not None and declared != stored:
            raise RegionError(
                f"this store received its data in region {stored}, but this pull declares "
                f"{declared}: a store's region is fixed by its first pull",
                hint=f"Pull into a new directory for {declared}; moving this store's data to "
                "another region is itself a transfer the contract must allow.",
            )
        region, source = stored, "store"
    elif declared is not None:
        region = declared
    elif any(abroad(usage, r) for r in usage.allowed_regions):
        raise RegionError(
            f"contract {cid} lets data leave {usage.origin_region} ({allowed}), so a pull must "
            "declare where its store processes the data; none was declared",
            hint=f"Pass `region=` (e.g. {usage.allowed_regions[-1]}) or set EMBODEX_REGION.",
        )
    else:
        region, source = usage.origin_region, "assumed"
    if not allows_region(usage, region):
        how = {
            "declared": "declared",
            "environment": "declared by EMBODEX_REGION",
            "store": "this store's region",
            "assumed": "no region declared: the contract's origin",
        }[source]
        raise RegionError(
            f"contract {cid} does not allow its data to be processed in {region} ({how}); "
            f"it allows {allowed}"
        )
    return region, source


class _Puller:
    """One pull run: the channel, the store, the state, the options."""

    def __init__(
        self,
        channel: Channel,
        store: BuyerStore,
        signer: Signer,
        now: datetime,
        *,
        workers: int,
        attempts: int,
        record: bool,
        profile: Profile | None,
        on_batch: Callable[[int, int], None] | None,
        on_bytes: Callable[[int], None] | None,
        region: str | None = None,
    ) -> None:
        self.ch = channel
        self.store = store
        self.signer = signer
        self.now = now
        self.workers = workers
        self.attempts = attempts
        self.record = record
        self.profile = profile
        self.on_batch = on_batch
        self.on_bytes = on_bytes
        self.state = store.load_state()
        if self.state.marked:
            # a state from before per-episode revocations: ``marked`` listed the batches
            # whose one revocation (``revoked``) was applied; carried over once, then cleared
            st = self.state
            for batch in st.marked:
                number = st.revoked.get(batch)
                if number is not None and number not in st.marked_notices:
                    st.marked_notices.append(number)
            st.marked = []
        #: where this store processes the data (set by :func:`pull` before any batch)
        self.region, self.region_source = _resolve_region(
            channel.contract, self.state.region, region
        )
        #: the channel refused this account's write in this run: no further write is tried
        self.refused: StorageAccessError | None = None

    def save(self) -> None:
        self.store.save_state(self.state)

    # -- notices ----------------------------------------------------------------------------

    def notices(self, got: HeadRead, report: PullReport) -> None:
        st = self.state
        head = got.head
        for notice, digest, data in self.ch.read_notices(
            head.channel_id, head.notice, after=st.last_notice, previous=st.last_notice_digest
        ):
            atomic_write_bytes(self.store.notice(notice.number), data)
            if notice.type == "revocation" and notice.batch is not None:
                st.revoked[notice.batch] = notice.number
                numbers = st.revocations.setdefault(notice.batch, [])
                if notice.number not in numbers:
                    numbers.append(notice.number)
            st.last_notice, st.last_notice_digest = notice.number, digest
            self.save()
            report.notices.append(notice)
        self.apply_revocations(report)

    def _notice(self, number: int) -> Notice:
        data = self.store.notice(number).read_bytes()
        return open_document("notice", Notice, data, self.ch.centre, str(self.store.notice(number)))

    def _revocations(self) -> dict[int, list[int]]:
        """Batch -> its revocation notices (a state from before per-episode revocations
        knows one notice per batch, in ``revoked``)."""
        st = self.state
        out = {b: list(ns) for b, ns in st.revocations.items()}
        for batch, number in st.revoked.items():
            if number not in out.setdefault(batch, []):
                out[batch].append(number)
        return out

    def _revoked_episodes(self, batch: int) -> set[str]:
        """Every episode of ``batch`` some revocation notice withdrew."""
        return {e for n in self._revocations().get(batch, []) for e in self._notice(n).episodes}

    def apply_revocations(self, report: PullReport) -> None:
        """Mark the episodes each revocation notice withdrew in the installed dataset (once
        per notice), then sign and keep a deletion receipt for those it dropped."""
        st = self.state
        for batch, numbers in sorted(self._revocations().items()):
            if batch > st.last_batch:
                continue
            for number in sorted(numbers):
                if number in st.marked_notices:
                    continue
                notice = self._notice(number)
                marked = mark_revoked(
                    self.store,
                    batch,
                    notice.episodes,
                    notice=number,
                    reason=notice.reason,
                    reviewer=self.signer.name,
                    at=self.now,
                )
                if marked:
                    report.revoked[batch] = sorted({*report.revoked.get(batch, []), *marked})
                    self._deletion_receipt(notice, marked)
                st.marked_notices.append(number)
                self.save()

    def _deletion_receipt(self, notice: Notice, deleted: list[str]) -> None:
        """Sign and keep the buyer's record of the episodes ``notice`` made it drop (once),
        with their hours from the batch manifest as installed; the ledger gets
        ``episodes-deleted``."""
        path = self.store.deletion(notice.number)
        if not path.exists():
            assert notice.batch is not None
            copy = self.store.manifest_copy(notice.batch)
            if copy.exists():
                manifest = open_document(
                    "batch-manifest", BatchManifest, copy.read_bytes(), self.ch.centre, str(copy)
                )
            else:  # a store from before manifest copies were kept: the channel's, verified
                manifest, _, _ = self.ch.read_manifest(notice.batch, notice.channel_id)
            hours = {e.episode_id: e.hours for e in manifest.episodes}
            receipt = DeletionReceipt(
                contract_id=notice.contract_id, contract_digest=notice.contract_digest,
                channel_id=notice.channel_id, notice_number=notice.number,
                notice_digest=doc_digest(notice), batch_number=notice.batch,
                deleted=deleted, deleted_hours=sum((hours[e] for e in deleted), Decimal(0)),
                reason=notice.reason, issued_at=self.now, issued_by=self.signer.key_id,
            )  # fmt: skip
            envelope = sign_model("deletion-receipt", receipt, self.signer)
            atomic_write_bytes(path, envelope.to_json_bytes())
        receipt = open_model(
            "deletion-receipt", DeletionReceipt, path.read_bytes(), [self.signer.identity],
            required_keyids=[self.signer.key_id],
        )  # fmt: skip
        append_once(
            self.signer, "episodes-deleted", digest_json(receipt.model_dump(mode="json")),
            f"batch {receipt.batch_number}, notice {receipt.notice_number}: "
            f"{count(len(receipt.deleted), 'episode')}, {dec_str(receipt.deleted_hours)} h dropped",
            record=self.record,
        )  # fmt: skip

    # -- batches ----------------------------------------------------------------------------

    def batch(self, manifest: BatchManifest, digest: str, data: bytes) -> BatchReport:
        st = self.state
        n = manifest.number
        progress = st.current
        if progress is not None and progress.number == n and progress.manifest_digest != digest:
            raise RollbackError(
                f"batch {n} on {self.ch.url} is not the manifest this store started to pull "
                "before: the channel's history was rewritten",
                url=self.ch.url,
            )
        if progress is None or progress.number != n:
            progress = BatchProgress(number=n, manifest_digest=digest)
            st.current = progress
            self.save()
        incoming = self.store.incoming(n)
        incoming.mkdir(parents=True, exist_ok=True)
        report = BatchReport(
            number=n, outcome="", episodes=len(manifest.episodes), accepted=0, rejected=0,
            accepted_hours=Decimal(0), rejected_hours=Decimal(0), reasons={},
            receipt=self.store.receipt(n),
        )  # fmt: skip
        buyer_qc: QCManifest | None = None
        if progress.stage == "downloading":
            replaceable = self._replaceable(n)  # read once: the decision and the receipt
            decision, buyer_qc = self._fetch_and_decide(manifest, incoming, report, replaceable)
            receipt_env = self._receipt(manifest, digest, decision, buyer_qc, replaceable)
            atomic_write_bytes(self.store.receipt(n), receipt_env.to_json_bytes())
            progress.advance("decided")
            progress.receipt_digest = digest_json(
                open_receipt(receipt_env, self.signer.identity).model_dump(mode="json")
            )
            self.save()
        # on every pass, not only the one that decided: a pull killed after saving the
        # decision and before this entry makes up for it when it resumes
        append_once(
            self.signer, "batch-received", digest,
            f"{manifest.channel_id} batch {n}: {count(len(manifest.episodes), 'episode')}"
            + self._region_note(),
            record=self.record, region=self.region,
        )  # fmt: skip
        receipt = self._stored_receipt(n)
        if progress.stage == "decided":
            t2 = time.perf_counter()
            self._install(manifest, incoming, receipt, buyer_qc)
            report.seconds["install"] = time.perf_counter() - t2
            progress.advance("installed")
            self.save()
        self._send_receipt(n, receipt, progress)
        # the signed manifest as installed: the evidence should the channel later serve
        # another one for this number (a forked history, _check_fork)
        atomic_write_bytes(self.store.manifest_copy(n), data)
        st.last_batch, st.last_manifest_digest, st.current = n, digest, None
        self.save()
        shutil.rmtree(incoming, ignore_errors=True)
        self._fill(report, manifest, receipt)
        return report

    def _region_note(self) -> str:
        usage = self.ch.contract.usage
        if self.region_source == "assumed":
            return f"; no region declared: origin {self.region} assumed"
        if abroad(usage, self.region):
            return f"; cross-border to {self.region} under {usage.transfer_approval_ref}"
        return ""

    def _fetch_and_decide(
        self, manifest: BatchManifest, incoming: Path, report: BatchReport, replaceable: set[int]
    ) -> tuple[Decision, QCManifest | None]:
        n = manifest.number
        revoked = self.state.revoked.get(n)
        if revoked is not None and set(manifest.episode_ids) <= self._revoked_episodes(n):
            # the whole batch withdrawn before it was pulled; a per-episode revocation is
            # applied once the batch is installed (apply_revocations)
            reason = self._notice(revoked).reason
            return reject_all(manifest, f"revoked by the centre: {reason}"), None
        prefix = batch_prefix(n)
        items = [
            Download(f"{prefix}/{f.path}", _dest(incoming, f.path), f.size, f.sha256)
            for f in manifest.files
        ]
        if self.on_batch is not None:
            self.on_batch(n, sum(f.size for f in manifest.files))
        t0 = time.perf_counter()
        stats = TransferStats()
        try:
            download_files(
                self.ch.store, items, workers=self.workers, attempts=self.attempts,
                on_bytes=self.on_bytes, stats=stats,
            )  # fmt: skip
            report.bytes, report.files, report.reused_files = (
                stats.bytes,
                stats.files,
                stats.reused_files,
            )
            _verify_dataset(manifest, incoming)
            centre_qc = _centre_qc(self.ch, manifest, incoming)
            report.seconds["download"] = time.perf_counter() - t0
        except StorageIntegrityError as exc:
            # Nothing of a batch that does not match its signed manifest is kept; its bytes
            # were fetched all the same and are counted.
            report.bytes, report.files = stats.bytes, stats.files
            shutil.rmtree(incoming, ignore_errors=True)
            incoming.mkdir(parents=True, exist_ok=True)
            return reject_all(manifest, f"integrity: {exc.message}"), None
        ds_root = incoming / "dataset"
        profile = _profile(self.ch, incoming, self.profile)
        known = (
            open_dataset(self.store.dataset).episode_ids
            if (self.store.dataset / "embodex.json").exists()
            else []
        )
        t1 = time.perf_counter()
        buyer_qc = write_qc(ds_root, run_qc(ds_root, profile, known_episode_ids=known))
        when, _ = _delivery_time(manifest, self.state.seen.get(n))
        decision = decide(
            self.ch.verified, manifest, buyer_qc, centre_qc, delivered_at=when,
            replaceable=replaceable,
        )  # fmt: skip
        report.seconds["qc"] = time.perf_counter() - t1
        report.disagreements = len(decision.disagreements)
        return decision, buyer_qc

    def _receipt(
        self,
        manifest: BatchManifest,
        digest: str,
        decision: Decision,
        buyer_qc: QCManifest | None,
        replaceable: set[int],
    ) -> Envelope:
        seen = self.state.seen.get(manifest.number)
        when, backdated = _delivery_time(manifest, seen)
        summary = manifest.summary()
        repl = replaced_batch(summary, replaceable)
        receipt = build_receipt(
            self.ch.verified,
            summary.model_copy(update={"delivered_at": when, "replacement_for": repl}),
            batch_manifest_digest=digest,
            rejected=decision.rejected,
            qc_manifest=buyer_qc.model_dump(mode="json") if buyer_qc is not None else None,
            issued_by=self.signer,
            issued_at=self.now,
            note=decision.note(),
            first_seen_at=seen.first_seen if seen is not None else None,
            extra_violations=backdated,
        )
        return sign_receipt(receipt, self.signer)

    def _replaceable(self, before: int) -> set[int]:
        """Earlier batches this buyer rejected episodes of, or that were revoked: the only
        ones a later batch may replace (its own receipts are the evidence)."""
        held = (self._stored_receipt(n) for n in range(1, before) if self.store.receipt(n).exists())
        return replaceable_batches(held, (n for n in self.state.revoked if n < before))

    def _stored_receipt(self, n: int) -> Receipt:
        return open_receipt(self.store.receipt(n).read_bytes(), self.signer.identity)

    def _install(
        self,
        manifest: BatchManifest,
        incoming: Path,
        receipt: Receipt,
        buyer_qc: QCManifest | None,
    ) -> None:
        ds_root = incoming / "dataset"
        if not (ds_root / "qc" / "manifest.json").exists():
            return  # nothing was downloaded or kept (integrity, revocation): nothing to install
        qc = buyer_qc or load_qc_manifest(ds_root)
        install_batch(
            self.store,
            manifest.number,
            ds_root,
            qc,
            receipt.accepted,
            [r.episode_id for r in receipt.rejected],
        )

    def _send_receipt(self, n: int, receipt: Receipt, progress: BatchProgress) -> None:
        if not progress.receipt_stored:
            data = self.store.receipt(n).read_bytes()
            if self.refused is None:
                try:
                    # a valid receipt of this buyer already there (from another store that
                    # pulled this batch) is a decision on record: never replaced
                    try:
                        there = channel_receipt_state(self.ch, n, data)
                    except StorageAccessError:
                        raise
                    except StorageError:
                        there = "absent"  # unreadable (a mirror's 500 for a missing file)
                    if there not in ("same", "other"):
                        with_retries(
                            lambda: self.ch.store.put_bytes(receipt_key(n), data),
                            attempts=self.attempts,
                        )
                except StorageAccessError as exc:
                    self.refused = exc  # read access only: the pull goes on without posting
                else:
                    progress.receipt_stored = True
                    self.save()
            if not progress.receipt_stored and n not in self.state.receipts_unposted:
                # saved with the batch's end (the caller's next save, one write of the
                # state): a pull killed before it finds the batch unfinished and tries again
                self.state.receipts_unposted.append(n)
        ref = digest_json(receipt.model_dump(mode="json"))
        append_once(
            self.signer, "receipt-issued", ref,
            f"batch {n}: {len(receipt.accepted)} accepted, {len(receipt.rejected)} rejected",
            record=self.record,
        )  # fmt: skip

    def repair(self, report: PullReport) -> None:
        """Put on the channel every receipt of the store it lacks, or holds altered: those
        an earlier pull could not post among them (read access only), where it may now."""
        st, store = self.state, self.store
        local = {
            n: store.receipt(n).read_bytes()
            for n in range(1, st.last_batch + 1)
            if store.receipt(n).exists()
        }
        before = set(st.receipts_unposted)
        done = repair_receipts(self.ch, local, unposted=before, refused=self.refused)
        report.receipts_posted = [n for n in done.put if n in before]
        report.receipts_repaired = [n for n in done.put if n not in before]
        report.receipts_unposted = done.unposted
        report.receipts_conflicting = done.conflicts
        if done.refused is not None and done.unposted:
            report.receipts_refused = done.refused.message
        if st.receipts_unposted != done.unposted:
            st.receipts_unposted = done.unposted
            self.save()

    def post_deletions(self, report: PullReport) -> None:
        """Put on the channel each deletion receipt of the store it lacks or holds altered
        (``receipts/deletions/N.json``): the centre's evidence that the buyer dropped what
        was revoked. A channel that refuses this account's writes is left alone (the
        receipts stay in ``DIR/receipts/deletions``; a later pull tries again)."""
        folder = self.store.deletion(1).parent
        if self.refused is not None or not folder.is_dir():
            return
        for path in sorted(folder.glob("[0-9]*.json")):
            number = int(path.stem)
            mine = path.read_bytes()
            key = deletion_key(number)
            try:
                if self.ch.store.get_document(key) == mine:
                    continue
            except ObjectNotFoundError:
                pass
            except StorageAccessError as exc:
                self.refused = exc
                return
            except StorageError:
                continue  # unreadable now (a mirror's 500 for a missing file): a later pull
            try:
                put = functools.partial(self.ch.store.put_bytes, key, mine)
                with_retries(put, attempts=self.attempts)
            except StorageAccessError as exc:
                self.refused = exc
                return
            report.deletions_posted.append(number)

    def _fill(self, report: BatchReport, manifest: BatchManifest, receipt: Receipt) -> None:
        hours = {e.episode_id: e.hours for e in manifest.episodes}
        rejected = {r.episode_id: r.reason for r in receipt.rejected}
        report.accepted = len(receipt.accepted)
        report.rejected = len(rejected)
        report.accepted_hours = receipt.accepted_hours
        report.rejected_hours = sum((hours[e] for e in rejected), Decimal(0))
        report.reasons = reasons_summary(rejected)
        report.outcome = (
            "accepted" if not rejected else "rejected" if not receipt.accepted else "partial"
        )


def pull(
    channel: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    into: str | Path,
    *,
    now: datetime | None = None,
    workers: int = DEFAULT_WORKERS,
    attempts: int = DEFAULT_ATTEMPTS,
    wait: bool = False,
    profile: Profile | None = None,
    trusted: list[Identity] | None = None,
    record: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    region: str | None = None,
) -> PullReport:
    """Pull every new batch of ``channel`` into the buyer's store ``into`` (see module doc).

    ``signer`` is the buyer's key named in the contract. ``region`` is the ISO 3166 region
    where the store processes the data (default ``EMBODEX_REGION``; the store keeps the
    region of its first pull); a region the contract's ``usage.allowed_regions`` does not
    allow is refused (:class:`RegionError`) before anything is read, and every batch
    received is recorded in the ledger with it (specs/privacy.md §4e).
    ``on_batch(number, bytes)`` and ``on_bytes(n)`` report progress. ``wait`` queues
    behind a running pull instead of refusing. Raises :class:`PullLockedError`,
    :class:`RegionError`, :class:`RollbackError`,
    :class:`FrozenChannelError`, :class:`ChannelError`, :class:`SignatureError`,
    :class:`DeliveryError` and ``StorageError`` (after ``attempts`` tries; run again to
    resume: finished files are kept). A channel that refuses only the receipts
    (:class:`StorageAccessError`: this account may read it, not write) stops nothing: see
    ``receipts_unposted`` and ``receipts_refused`` in the report.

    Example::

        report = pull("s3://acme/deliveries", "contract.signed.json", load_signer("agibot"),
                      "deliveries/acme")
        for b in report.batches:
            print(b.number, b.outcome, b.accepted_hours)
        ds = embodex.train.load("deliveries/acme/dataset", horizon=50)
    """
    now = now or utc_now()
    ch = open_channel(channel, contract, trusted=trusted, at=now)
    ch.require(signer, "buyer")
    store = BuyerStore(into)
    report = PullReport(url=ch.url, into=store.root)
    with store.locked(wait=wait):
        run = _Puller(
            ch, store, signer, now, workers=workers, attempts=attempts, record=record,
            profile=profile, on_batch=on_batch, on_bytes=on_bytes, region=region,
        )  # fmt: skip
        run.state.region = run.region  # saved with the pull's first save
        report.region, report.region_source = run.region, run.region_source
        if record:
            # a ledger that would refuse the entries of this pull refuses it now, before the
            # store changes (not after a new generation was switched to)
            ledger = Ledger(ledger_path(signer.name))
            if ledger.path.exists():
                ledger.check()
        got = ch.read_head()
        st = run.state
        if got is None and st.head_sequence > 0:
            raise RollbackError(
                f"{ch.url} has no head any more, but this store saw its head sequence "
                f"{st.head_sequence} naming batch {st.head_batch}: the channel was wiped or "
                "frozen by deleting its head",
                hint="Do not trust this channel's state; ask the centre what happened.",
                url=ch.url,
            )
        if got is None:
            ch.require_location()  # a mistyped URL is an error, not an empty channel
            st.checked_at = now  # a batch later claiming an earlier time was backdated
            run.save()
            report.message = "nothing published on this channel yet"
            return report
        _check_head(got, st, ch, now)
        if got.head.batch == st.last_batch:
            _check_fork(got, run, record=record)
        head = got.head
        # every new manifest verified and chained — and the last one the head names — before
        # the store records anything of this head (a refusal leaves the store as it was)
        try:
            chain = ch.read_chain(
                head.channel_id, head.batch, after=st.last_batch, previous=st.last_manifest_digest
            )
        except ChannelError:
            _check_fork(got, run, record=record)  # a rewritten batch the store installed?
            raise
        if chain and chain[-1][1] != head.batch_manifest:
            raise RollbackError(
                f"batch {head.batch} on {ch.url} is manifest {chain[-1][1]}, but the head names "
                f"{head.batch_manifest}: the batch was replaced after the head was signed",
                url=ch.url,
            )
        _note_seen(st, head, now)
        st.channel_id, st.contract_id = head.channel_id, head.contract_id
        st.head_sequence, st.head_digest = head.sequence, got.digest
        st.head_issued_at, st.checked_at = head.issued_at, now
        st.head_batch, st.head_notice = head.batch, head.notice
        run.save()
        report.channel_id, report.head_sequence = head.channel_id, head.sequence
        report.expires_at = head.expires_at
        run.notices(got, report)
        for manifest, digest, data in chain:
            report.batches.append(run.batch(manifest, digest, data))
        run.apply_revocations(report)
        run.repair(report)
        run.post_deletions(report)
        if (store.dataset / "embodex.json").exists():
            ds = open_dataset(store.dataset)
            report.dataset_episodes, report.dataset_hours = len(ds), ds.hours
        if not report.batches:
            report.message = f"up to date: batch {head.batch} is the latest"
    return report


def watch(
    channel: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    into: str | Path,
    *,
    interval: float,
    polls: int | None = None,
    on_report: Callable[[PullReport], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **options: Any,
) -> int:
    """Pull every ``interval`` seconds until interrupted (or ``polls`` times): continuous
    supply. Returns the number of polls made.

    Errors that may clear by themselves — the store busy, the channel unreachable or its
    head expired — go to ``on_error`` and the watch goes on; anything that says the
    channel cannot be trusted (rollback, bad signature, broken chain) stops it by raising.
    ``options`` are passed to :func:`pull`.

    Example::

        watch(url, "contract.signed.json", load_signer("agibot"), "deliveries/acme",
              interval=600, on_report=lambda r: print(r.message or r.batches))
    """
    done = 0
    while polls is None or done < polls:
        try:
            report = pull(channel, contract, signer, into, **options)
        except (StorageError, FrozenChannelError, PullLockedError) as exc:
            if on_error is None:
                raise
            on_error(exc)
        else:
            if on_report is not None:
                on_report(report)
        done += 1
        if polls is None or done < polls:
            sleep(interval)
    return done
