"""``publish``: the centre delivers the episodes not delivered before as the next batch.

Order of writes (specs/channel.md): the batch's data and QC files (in parallel, with
retries), the signed QC manifest, the signed batch manifest, then the head naming it. A
reader never sees half a batch: nothing names a batch before its manifest is stored, and
the manifest is stored after every file it names.

A publish interrupted at any point is finished or cleaned up by the next run:

* a manifest stored without its head → the head is written (the batch is complete);
* files stored without a manifest → the run resumes from the outbox's record of them, or
  deletes objects nothing records before the batch number is used;
* the episodes of an interrupted batch stay reserved for it, so none is delivered twice.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..contract import VerifiedContract
from ..contract.checking import BatchSummary, Violation, check_batch
from ..contract.model import Contract
from ..errors import ConsentError, DeliveryError, ScopeError
from ..format import Dataset, open_dataset
from ..format.classification import classify
from ..format.pseudonyms import PSEUDONYM_PATTERN, pseudonym_record
from ..qc import Profile, default_profile
from ..storage.stores import FileStorage
from ..storage.transfer import DEFAULT_ATTEMPTS, DEFAULT_WORKERS
from ..trust import Identity, Ledger, Signer, ledger_path
from ..trust.consent import episode_consent_problems
from ..trust.types import dec_str
from ..units import count, duration, of_count, plural
from .channel import Channel, HeadRead, open_channel, utc_now
from .documents import (
    HEAD_KEY,
    BatchManifest,
    batch_prefix,
    doc_digest,
    episode_summaries,
    manifest_key,
    qc_key,
)
from .heads import DEFAULT_HEAD_TTL, HeadUpdate, issue_head, new_channel_id
from .outbox import Outbox, PendingBatch, delivered_under
from .overview import read_snapshot
from .records import published_events, reconcile
from .staging import (
    StagedBatch,
    batch_episodes,
    batch_files,
    build_manifest,
    fps_of,
    load_staged,
    preview_violations,
    stage_batch,
)

__all__ = ["PublishResult", "publish"]


@dataclass
class PublishResult:
    """What a publish did. ``number`` is None when there was nothing new to deliver."""

    url: str
    channel_id: str
    number: int | None = None
    manifest_digest: str | None = None
    episodes: list[str] = field(default_factory=list)
    hours: Decimal = Decimal(0)
    #: the batch's files (data and QC) this run stored, and their bytes: what --dry-run
    #: counts and the buyer downloads (the manifest and head are the channel's documents)
    files: int = 0
    bytes: int = 0
    warnings: list[Violation] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)
    head_sequence: int = 0
    expires_at: datetime | None = None
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "url": self.url,
            "channel_id": self.channel_id,
            "batch": self.number,
            "manifest_digest": self.manifest_digest,
            "episodes": self.episodes,
            "hours": dec_str(self.hours),
            "files": self.files,
            "bytes": self.bytes,
            "warnings": [v.model_dump(mode="json") for v in self.warnings],
            "excluded": self.excluded,
            "recovered": self.recovered,
            "head_sequence": self.head_sequence,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


@dataclass
class _Channel:
    """The verified state of the channel at the start of a publish."""

    head: HeadRead | None
    channel_id: str
    last: int = 0
    last_digest: str | None = None
    delivered: dict[str, int] = field(default_factory=dict)

    def add(self, manifest: BatchManifest, digest: str) -> None:
        self.last, self.last_digest = manifest.number, digest
        for eid in manifest.episode_ids:
            self.delivered[eid] = manifest.number


def _check_replacement(channel: Channel, batch: int | None) -> None:
    """A replacement names a batch on the channel that had episodes rejected (its receipt
    says so) or was revoked; buyers judge any other as an ordinary delivery, so it is
    refused here rather than published under a label that will not hold."""
    if batch is None:
        return
    snap = read_snapshot(channel)
    numbers = [m.number for m, _ in snap.manifests]
    hint = "`supply_plan(url, contract)` lists the batches with episodes to replace."
    if batch not in numbers:
        last = max(numbers, default=0)
        raise DeliveryError(
            f"there is no batch {batch} on {channel.url} to replace (its last batch is {last})",
            hint=hint,
            url=channel.url,
            batch=batch,
        )
    if batch not in snap.replaceable():
        state = "has no receipt yet" if batch not in snap.receipts else "had nothing rejected"
        raise DeliveryError(
            f"batch {batch} {state} and was not revoked: there is nothing to replace",
            hint=hint,
            url=channel.url,
            batch=batch,
        )


def _contract_profile(channel: Channel, profile: Profile | None) -> Profile:
    wanted = channel.contract.acceptance.qc_profile_digest
    chosen = profile or default_profile()
    if chosen.digest != wanted:
        raise DeliveryError(
            f"QC profile {chosen.id} v{chosen.version} ({chosen.digest}) is not the one the "
            f"contract names ({channel.contract.acceptance.qc_profile_id}, {wanted})",
            hint="Pass the agreed profile (`profile=`).",
        )
    return chosen


def _read_state(ch: Channel, outbox: Outbox) -> _Channel:
    head = ch.read_head()
    if head is not None:
        state = _Channel(head=head, channel_id=head.head.channel_id)
        for manifest, digest, _ in ch.read_chain(state.channel_id, head.head.batch):
            state.add(manifest, digest)
        return state
    pending = outbox.pending()
    return _Channel(head=None, channel_id=pending.channel_id if pending else new_channel_id())


@dataclass
class _Options:
    """What a publish was asked to do beyond the defaults."""

    ttl: timedelta
    period: int | None
    replacement_for: int | None
    workers: int
    attempts: int
    record: bool
    on_start: Callable[[int, int], None] | None
    on_file: Callable[[str, int], None] | None
    on_warnings: Callable[[list[Violation]], None] | None = None


class _Publisher:
    """One publish run: the channel and its verified state, the outbox, the key, the time."""

    def __init__(
        self, ch: Channel, outbox: Outbox, signer: Signer, now: datetime, opts: _Options
    ) -> None:
        self.ch, self.outbox, self.signer, self.now, self.opts = ch, outbox, signer, now, opts
        self.state = _read_state(ch, outbox)
        #: episodes without valid consent under a contract that only warns (privacy.consent)
        self.consent_warnings: list[Violation] = []

    def next_head(self, manifest: BatchManifest, digest: str, when: datetime) -> HeadUpdate:
        """The head after the current one, naming ``manifest`` as the latest batch."""
        st = self.state
        return issue_head(
            st.head.head if st.head else None,
            channel_id=st.channel_id,
            channel=self.ch,
            signer=self.signer,
            now=when,
            ttl=self.opts.ttl,
            batch=(manifest.number, digest),
        )

    def published(
        self, manifest: BatchManifest, digest: str, data: bytes, head: HeadUpdate
    ) -> None:
        """Record a batch the channel now names: state, outbox copy, ledger, pending cleared."""
        st = self.state
        st.head = HeadRead(head=head.head, digest=head.digest, data=head.data)
        st.add(manifest, digest)
        self.outbox.record_published(manifest.number, data)
        if self.opts.record:
            Ledger(ledger_path(self.signer.name)).append_missing(
                self.signer,
                published_events(st.channel_id, manifest.model_dump(mode="json"), digest),
            )
        pending = self.outbox.pending()
        if pending is not None and pending.number <= manifest.number:
            self.outbox.clear_pending()

    def recover(self) -> list[str]:
        """Finish or clean up what an interrupted publish left (see the module docstring)."""
        ch, st, outbox = self.ch, self.state, self.outbox
        done = reconcile(
            ch, outbox, self.signer, st.head.head if st.head else None, record=self.opts.record
        )
        n = st.last + 1
        if ch.store.exists(manifest_key(n)):
            # a new channel takes the id its first batch was signed with
            manifest, digest, data = ch.read_manifest(n, st.channel_id if st.head else None)
            st.channel_id = manifest.channel_id
            if manifest.previous != st.last_digest:
                raise DeliveryError(
                    f"batch {n} on {ch.url} does not follow batch {n - 1}",
                    hint=f"Remove {ch.where(batch_prefix(n))}/ if it is not yours, then publish.",
                    url=ch.url,
                )
            head = self.next_head(manifest, digest, max(self.now, manifest.published_at))
            ch.store.put_bytes(HEAD_KEY, head.data)
            self.published(manifest, digest, data, head)
            done.append(f"finished batch {n}, whose head an interrupted publish did not write")
            n += 1
        outbox.check_ahead(st.last)
        pending = outbox.pending()
        if pending is not None and (
            pending.url != ch.url or pending.channel_id != st.channel_id or pending.number != n
        ):
            outbox.clear_pending()
            pending = None
        ours = set(pending.uploaded) if pending else set()
        prefix = batch_prefix(n) + "/"
        stray = [o.key for o in ch.store.list(prefix) if o.key.removeprefix(prefix) not in ours]
        for key in stray:
            ch.store.delete(key)
        if isinstance(ch.store, FileStorage):
            # temporary files of an upload killed mid-copy (hidden from list(): no reader may
            # see them as objects); one publisher per channel, so none is in use now
            stray += ch.store.remove_temporaries(prefix)
        if stray:
            done.append(
                f"removed {count(len(stray), 'object')} of batch {n} left by an interrupted publish"
            )
        return done

    def resume_options(self, pending: PendingBatch) -> None:
        """An interrupted batch goes out as it was staged: the same period and replacement;
        a re-run that asks for others is refused rather than relabel the batch."""
        for what, asked, staged in (
            ("period", self.opts.period, pending.period),
            ("replacement_for", self.opts.replacement_for, pending.replacement_for),
        ):
            if asked is not None and asked != staged:
                raise DeliveryError(
                    f"batch {pending.number} was staged with {what} {staged}, this run asks "
                    f"for {asked}",
                    hint="Run publish again without it to finish the interrupted batch as it "
                    "was staged, then publish the next one.",
                )
        self.opts.period, self.opts.replacement_for = pending.period, pending.replacement_for

    def resume_staged(self, pending: PendingBatch, src: Dataset, profile: Profile) -> StagedBatch:
        """The staged files of an interrupted batch, rebuilt when they are gone or changed."""
        root = self.outbox.stage_dir(pending.number)
        try:
            staged = load_staged(root)
            if staged.dataset.digest == pending.dataset_digest:
                return staged
        except DeliveryError:
            pass
        if pending.uploaded:
            # Objects already stored came from the old staging and would not match a new
            # one: the user decides to start the batch over.
            raise DeliveryError(
                f"the staged files of batch {pending.number} in {root} are gone or changed",
                hint=f"Delete {self.outbox.root / 'pending.json'} to start the batch again; "
                "objects already uploaded are then removed by the next publish.",
                path=root,
            )
        staged = self.stage(src, pending.episode_ids, profile)
        pending.dataset_digest = staged.dataset.digest
        pending.qc_manifest_digest = staged.qc_digest
        self.outbox.save_pending(pending)
        return staged

    def choose(
        self,
        src: Dataset,
        episode_ids: list[str] | None,
        number: int,
        exclude: bool,
        result: PublishResult,
    ) -> list[str]:
        """The episodes batch ``number`` delivers: not delivered before under the contract
        (:func:`_candidates`) and in scope (:func:`_scope_filter`; those left out go to
        ``result.excluded``)."""
        ch = self.ch
        elsewhere = delivered_under(ch.contract.contract_id, besides=ch.url)
        candidates = _candidates(src, self.state, episode_ids, elsewhere)
        ids, result.excluded = _scope_filter(ch, src, candidates, number, self.now, exclude)
        self.consent_warnings = _require_consent(ch.contract, src, ids, self.now)
        return ids

    def stage(self, src: Dataset, ids: list[str], profile: Profile) -> StagedBatch:
        return stage_batch(
            src,
            ids,
            self.outbox.stage_dir(self.state.last + 1),
            profile=profile,
            signer=self.signer,
            known_episode_ids=self.state.delivered,
        )

    def upload(self, pending: PendingBatch, staged: StagedBatch, result: PublishResult) -> None:
        """Files, QC, manifest, head — as one group — then record the batch."""
        ch, st, opts = self.ch, self.state, self.opts
        n = pending.number
        prefix = batch_prefix(n)
        files = batch_files(staged)
        manifest, data = build_manifest(
            staged,
            files,
            contract=ch.contract,
            channel_id=st.channel_id,
            number=n,
            previous=st.last_digest,
            published_at=self.now,
            period=opts.period,
            replacement_for=opts.replacement_for,
            signer=self.signer,
        )
        digest = doc_digest(manifest)
        head = self.next_head(manifest, digest, manifest.published_at)
        # What the store holds, not only what this outbox remembers sending: a store that
        # lost objects (an S3 server restarted empty) gets them again.
        held = {o.key: o.size for o in ch.store.list(prefix + "/")}
        todo = [
            (f"{prefix}/{rel}", path)
            for rel, path in files
            if rel not in pending.uploaded or held.get(f"{prefix}/{rel}") != path.stat().st_size
        ]
        lock = threading.Lock()
        result.warnings = self.warnings(staged, n)
        if result.warnings and opts.on_warnings is not None:
            opts.on_warnings(result.warnings)  # before anything is uploaded
        if opts.on_start is not None:
            opts.on_start(len(todo), sum(p.stat().st_size for _, p in todo))

        channel_docs = {manifest_key(n), HEAD_KEY}

        def stored(key: str, size: int) -> None:
            rel = key.removeprefix(prefix + "/")
            with lock:
                if rel != key and rel not in pending.uploaded:
                    pending.uploaded.append(rel)
                    self.outbox.save_pending(pending)
                if key not in channel_docs:  # the batch's files (data, QC), as --dry-run counts
                    result.files += 1
                    result.bytes += size
            if opts.on_file is not None:
                opts.on_file(key, size)

        if pending.stage == "staged":
            pending.advance("uploading")
            self.outbox.save_pending(pending)
        ch.store.put_group(
            todo,
            [(qc_key(n), staged.qc_envelope), (manifest_key(n), data), (HEAD_KEY, head.data)],
            message=f"batch {n}: {count(len(manifest.episodes), 'episode')}, "
            f"{duration(manifest.hours, 'auto')}",
            workers=opts.workers,
            attempts=opts.attempts,
            on_file=stored,
        )
        self.published(manifest, digest, data, head)
        result.number = n
        result.manifest_digest = digest
        result.episodes = manifest.episode_ids
        result.hours = manifest.hours

    def warnings(self, staged: StagedBatch, number: int) -> list[Violation]:
        """The buyer's contract checks on the staged batch (§4.1 of specs/channel.md), and
        the episodes without consent on record when the contract only warns about them."""
        return self.consent_warnings + preview_violations(
            self.ch.contract,
            staged,
            number=number,
            published_at=self.now,
            period=self.opts.period,
            replacement_for=self.opts.replacement_for,
        )

    def dry_run(
        self,
        src: Dataset,
        episode_ids: list[str] | None,
        profile: Profile,
        exclude: bool,
        result: PublishResult,
    ) -> PublishResult:
        """What a publish would deliver and what the buyer's checks would say about it: the
        batch is staged in a temporary folder and checked; nothing is uploaded, recorded or
        cleaned up on the channel, and the outbox keeps its state."""
        ch, st, outbox = self.ch, self.state, self.outbox
        result.dry_run = True
        number = st.last + 1
        if ch.store.exists(manifest_key(number)):
            manifest, digest, _ = ch.read_manifest(number, st.channel_id if st.head else None)
            st.add(manifest, digest)
            result.recovered.append(
                f"a real publish would first finish batch {number}, stored without its head"
            )
            number += 1
        pending = outbox.pending()
        if pending is not None and pending.number == number and pending.url == ch.url:
            ids = pending.episode_ids
            result.recovered.append(f"a real publish would resume batch {number}")
        else:
            ids = self.choose(src, episode_ids, number, exclude, result)
        if not ids:
            return self.finish(result)
        outbox.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dry-run-", dir=outbox.root) as tmp:
            staged = stage_batch(
                src, ids, Path(tmp), profile=profile, signer=self.signer,
                known_episode_ids=st.delivered,
            )  # fmt: skip
            result.warnings = self.warnings(staged, number)
            episodes = batch_episodes(staged.dataset)
            files = batch_files(staged)
            result.number, result.episodes = number, [e.episode_id for e in episodes]
            result.hours = sum((e.hours for e in episodes), Decimal(0))
            result.files = len(files) + 1  # + qc.json
            result.bytes = sum(p.stat().st_size for _, p in files) + len(staged.qc_envelope)
        return self.finish(result)

    def finish(self, result: PublishResult) -> PublishResult:
        if self.state.head is not None:
            result.head_sequence = self.state.head.head.sequence
            result.expires_at = self.state.head.head.expires_at
        return result


def _candidates(
    src: Dataset,
    state: _Channel,
    episode_ids: list[str] | None,
    elsewhere: dict[str, tuple[str, int]],
) -> list[str]:
    """The episodes to publish: not delivered on this channel nor, under the same contract,
    on another one (``elsewhere``: episode -> (url, batch), from this machine's outboxes)."""
    if episode_ids is None:
        return [e for e in src.episode_ids if e not in state.delivered and e not in elsewhere]
    known = set(src.episode_ids)
    unknown = [e for e in episode_ids if e not in known]
    if unknown:
        raise DeliveryError(f"episode {unknown[0]} is not in {src.root}", path=src.root)
    again = [e for e in episode_ids if e in state.delivered or e in elsewhere]
    if again:
        first = again[0]
        if first in state.delivered:
            where = f"batch {state.delivered[first]}"
        else:
            url, batch = elsewhere[first]
            where = f"batch {batch} of channel {url}"
        raise DeliveryError(
            f"episode {first} was delivered under this contract in {where}"
            + (f" (and {len(again) - 1} more)" if len(again) > 1 else ""),
            hint="An episode is delivered once per contract; record a new episode to replace it.",
        )
    return list(dict.fromkeys(episode_ids))


def _require_pseudonyms(contract: Contract, mode: str, src: Dataset) -> None:
    """The dataset's operator ids are pseudonyms in the scope the contract names."""
    cid = contract.contract_id
    fix = (
        f"Pseudonymise the centre's original with scope {cid} (`pseudonymise_operators(...)`) "
        "and publish that."
    )
    record = pseudonym_record(src.meta)
    if record is None:
        raise ScopeError(
            f"the contract requires pseudonyms: {mode} and {src.root} carries no pseudonym "
            "record (embodex.json extra.privacy.pseudonyms)",
            hint=fix,
        )
    if mode == "per-contract" and record.get("scope") != cid:
        raise ScopeError(
            f"the contract requires pseudonyms scoped to {cid}; {src.root} was pseudonymised "
            f"for scope {record.get('scope')!r}",
            hint=fix,
        )
    bad = [
        r["episode_id"]
        for r in src.episodes.select(["episode_id", "operator_id"]).to_pylist()
        if r["operator_id"] is not None and not re.match(PSEUDONYM_PATTERN, r["operator_id"])
    ]
    if bad:
        raise ScopeError(
            f"{count(len(bad), 'episode')} of {src.root} {'names' if len(bad) == 1 else 'name'} "
            "an operator that is not a pseudonym "
            f"(first: {bad[0]})",
            hint=fix,
        )


def _require_privacy(contract: Contract, src: Dataset) -> None:
    """Refuse a dataset without the anonymisation the contract requires (specs/privacy.md);
    residual faces are QC's privacy.faces findings, judged by the acceptance terms."""
    terms = contract.privacy
    if terms is None:
        return
    label = classify(src.meta)
    for key, allowed in (
        ("personal_information", terms.personal_information),
        ("importance", terms.importance),
    ):
        if allowed is not None and label[key] not in allowed:
            raise ScopeError(
                f"{src.root} is classified {key}: {label[key]}; the contract allows "
                f"{', '.join(allowed)}",
                hint="Publish the output of anonymise_dataset(...), correct the dataset's "
                "extra.classification, or amend the contract's privacy terms.",
            )
    if terms.pseudonyms is not None:
        _require_pseudonyms(contract, terms.pseudonyms, src)
    if "faces" not in terms.anonymised:
        return
    record = (src.meta.extra.get("privacy") or {}).get("faces")
    if not isinstance(record, dict) or not isinstance(record.get("cameras"), dict):
        raise ScopeError(
            f"the contract requires anonymised: faces and {src.root} carries no face "
            "anonymisation record (embodex.json extra.privacy.faces)",
            hint="Publish the output of anonymise_dataset(...) (or import_recordings(..., "
            "anonymise='faces')).",
        )


def _require_consent(
    contract: Contract, src: Dataset, ids: list[str], now: datetime
) -> list[Violation]:
    """Under ``privacy.consent: required``, refuse episodes whose operator has no consent in
    force linked to them (specs/privacy.md §4d); under ``warn``, return them as a warning."""
    terms = contract.privacy
    mode = terms.consent if terms is not None else None
    if terms is None or mode is None or not ids:
        return []
    wanted = set(ids)
    rows = src.episodes.select(["episode_id", "operator_id", "extra"]).to_pylist()
    problems = episode_consent_problems(
        (
            (r["episode_id"], r["operator_id"], json.loads(r["extra"] or "{}"))
            for r in rows
            if r["episode_id"] in wanted
        ),
        on=now.date(),
        scope=terms.consent_scope or (),
    )
    if not problems:
        return []
    first = next(iter(problems))
    message = (
        f"{of_count(len(problems), len(ids), 'episode')} "
        f"{'lacks' if len(problems) == 1 else 'lack'} consent on record, e.g. {first} "
        f"({problems[first]})"
    )
    if mode == "required":
        raise ConsentError(
            f"the contract requires consent on record: {message}",
            hint="Record each operator's consent (`record_consent(operator, signer, "
            "scope=[...])`), link it (`link_consent(dataset)`), or publish without their "
            "episodes.",
        )
    return [Violation(rule="privacy.consent", message=message, episode_ids=sorted(problems))]


#: scope rule -> what one episode outside it is said to have (per episode: no batch totals)
_SCOPE_FIELDS = {
    "scope.skills": "skill",
    "scope.scene_types": "scene type",
    "scope.scene_ids": "scene",
    "scope.robot_models": "robot model",
}


def _why_outside(v: Violation) -> str:
    """One episode's reason for lying outside the scope: its value and what is allowed."""
    if v.rule == "scope.required_cameras":
        return f"{v.rule}: lacks camera(s) {v.measured} (the contract requires {v.threshold})"
    if v.rule == "scope.fps":
        return f"{v.rule}: {v.measured} fps (the contract says {v.threshold})"
    label = _SCOPE_FIELDS.get(v.rule, v.rule.removeprefix("scope."))
    what = f"no {label}" if v.measured in (None, "None") else f"{label} {v.measured!s}"
    return f"{v.rule}: {what}, outside the contract's scope ({v.threshold})"


def _scope_filter(
    ch: Channel, src: Dataset, ids: list[str], number: int, now: datetime, exclude: bool
) -> tuple[list[str], dict[str, str]]:
    """Refuse (or, with ``exclude``, leave out) episodes outside the contract's scope."""
    summary = BatchSummary(
        batch_number=number,
        delivered_at=now,
        episodes=episode_summaries(batch_episodes(src, ids), fps_of(src)),
    )
    out: dict[str, str] = {}
    for v in check_batch(ch.contract, summary, None):
        if v.rule.startswith("scope."):
            for eid in v.episode_ids:
                out.setdefault(eid, _why_outside(v))
    if out and not exclude:
        first = next(iter(out))
        raise ScopeError(
            f"{of_count(len(out), len(ids), 'episode')} to publish "
            f"{plural('is', len(out))} outside the contract's scope, e.g. {first} ({out[first]})"
        )
    return [e for e in ids if e not in out], out


def publish(
    dataset: str | Path | Dataset,
    channel: str | Path,
    contract: str | Path | VerifiedContract,
    signer: Signer,
    *,
    profile: Profile | None = None,
    episode_ids: list[str] | None = None,
    exclude_out_of_scope: bool = False,
    period: int | None = None,
    replacement_for: int | None = None,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    workers: int = DEFAULT_WORKERS,
    attempts: int = DEFAULT_ATTEMPTS,
    trusted: list[Identity] | None = None,
    record: bool = True,
    on_start: Callable[[int, int], None] | None = None,
    on_file: Callable[[str, int], None] | None = None,
    on_warnings: Callable[[list[Violation]], None] | None = None,
    dry_run: bool = False,
) -> PublishResult:
    """Publish the episodes of ``dataset`` not delivered before as the channel's next batch.

    "Delivered before" is per contract: episodes this machine published (or is publishing)
    under the same contract on another channel are left out too (an explicit
    ``episode_ids`` naming one raises :class:`DeliveryError`).

    Checks first: the contract is in force and ``signer`` is its centre; the episodes are in
    scope (else :class:`ScopeError`, or leave them out with ``exclude_out_of_scope``); the QC
    profile is the contract's (default: the built-in one, when the contract names it). Then
    stages the batch (copy, QC, signed QC manifest), uploads it in order and records it in
    the centre's ledger. Contract checks the buyer will make (pass rate, success rate,
    deadline, minimum hours) are run on the staged batch before anything is uploaded: they
    come back as ``warnings`` and go to ``on_warnings(violations)`` first. With ``dry_run``
    the batch is staged and checked only: nothing is uploaded or recorded (the result says
    what would be published, with ``dry_run=True``). ``on_start(files, bytes)`` and
    ``on_file(key, size)`` report progress. A re-run after a crash finishes or cleans up
    the interrupted batch. ``replacement_for`` marks the batch as replacing the rejected
    (or revoked) episodes of that earlier batch: it counts for that batch's period and is
    judged against its replacement date.

    Raises :class:`DeliveryError`, :class:`ScopeError`, ``ContractStateError``,
    ``StorageError`` (after ``attempts`` tries; run again to resume).

    Example::

        result = publish("centre/week07", "s3://acme/deliveries", "contract.signed.json",
                         load_signer("hubei-centre"))
        print(result.number, result.hours, [w.message for w in result.warnings])
    """
    now = now or utc_now()
    ch = open_channel(channel, contract, trusted=trusted, at=now, create=True)
    ch.verified.require_in_force()
    ch.require(signer, "centre")
    profile = _contract_profile(ch, profile)
    src = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    _require_privacy(ch.contract, src)
    opts = _Options(
        ttl, period, replacement_for, workers, attempts, record, on_start, on_file, on_warnings
    )
    outbox = Outbox(ch.url)
    with outbox.locked():
        run = _Publisher(ch, outbox, signer, now, opts)
        result = PublishResult(url=ch.url, channel_id=run.state.channel_id)
        if dry_run:
            _check_replacement(ch, replacement_for)
            return run.dry_run(src, episode_ids, profile, exclude_out_of_scope, result)
        result.recovered = run.recover()
        result.channel_id = run.state.channel_id
        number = run.state.last + 1
        pending = outbox.pending()
        if pending is not None:
            run.resume_options(pending)
            staged = run.resume_staged(pending, src, profile)
            result.recovered.append(
                f"resumed batch {number} ({count(len(pending.episode_ids), 'episode')})"
            )
        else:
            ids = run.choose(src, episode_ids, number, exclude_out_of_scope, result)
            if not ids:
                return run.finish(result)
            _check_replacement(ch, replacement_for)
            staged = run.stage(src, ids, profile)
            pending = PendingBatch(
                url=ch.url,
                channel_id=run.state.channel_id,
                contract_id=ch.contract.contract_id,
                number=number,
                episode_ids=ids,
                dataset_digest=staged.dataset.digest,
                qc_manifest_digest=staged.qc_digest,
                period=period,
                replacement_for=replacement_for,
            )
            outbox.save_pending(pending)
        run.upload(pending, staged, result)
        return run.finish(result)
