"""Manual review: which episodes people look at, and recording their decisions.

The queue holds every automatic WARN not yet reviewed, then a sample of each operator's
PASS episodes (the sampling plan in specs/qc.md), round-robin over operators so every
operator is covered early. Decisions go to the append-only log (:mod:`.reviewlog`) and the
QC manifest is rewritten with the new final verdicts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import QCManifestError, ReviewError
from .aggregates import UNKNOWN
from .manifest import (
    MANIFEST_FILE,
    EpisodeQC,
    QCManifest,
    apply_reviews,
    describe_episode,
    load_qc_manifest,
    load_qc_profile,
    stale_reason,
)
from .reviewlog import ReviewEntry, SignFn, append_review, latest_reviews, read_log

__all__ = [
    "QueueItem",
    "ReviewNext",
    "ReviewRecorded",
    "Reviews",
    "list_reviews",
    "next_review",
    "record_review",
    "review_queue",
    "review_status",
    "reviews",
    "sampled_passes",
    "set_review",
]


@dataclass(frozen=True)
class QueueItem:
    """An episode waiting for a reviewer, and why it was chosen."""

    episode_id: str
    why: Literal["warn", "sample"]
    operator_id: str | None
    auto_verdict: str


def _rank(salt: str, episode_id: str) -> str:
    return hashlib.sha256(f"{salt}\n{episode_id}".encode()).hexdigest()


def sampled_passes(
    manifest: QCManifest,
    rate: float,
    minimum: int,
    rejected_operators: set[str] | frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Per operator, the PASS episodes the sampling plan sends to review, in review order.

    Each operator with n PASS episodes gets max(minimum, ceil(rate x n)) of them (all when
    fewer), doubled (tightened) for an operator with a manual reject on record. The choice
    ranks episodes by sha256(dataset digest, episode id): fixed for a dataset, not
    predictable before it is packaged.
    """
    by_op: dict[str, list[str]] = {}
    for ep in manifest.episodes:
        if ep.auto_verdict == "PASS":
            by_op.setdefault(ep.operator_id or UNKNOWN, []).append(ep.episode_id)
    out = {}
    for op, ids in sorted(by_op.items()):
        r = min(1.0, rate * (2 if op in rejected_operators else 1))
        k = min(len(ids), max(minimum, math.ceil(r * len(ids))))
        out[op] = sorted(ids, key=lambda e: _rank(manifest.dataset_digest, e))[:k]
    return out


def review_queue(dataset: str | Path) -> list[QueueItem]:
    """Episodes still to review, in order: WARNs first, then sampled PASSes."""
    manifest = load_qc_manifest(dataset)
    profile = load_qc_profile(dataset, manifest)
    done = latest_reviews(dataset, expect=manifest.review_log)
    ops = {e.episode_id: e.operator_id for e in manifest.episodes}
    rejected = {ops.get(eid) or UNKNOWN for eid, r in done.items() if r.verdict == "reject"}
    queue = [
        QueueItem(e.episode_id, "warn", e.operator_id, e.auto_verdict)
        for e in manifest.episodes
        if e.auto_verdict == "WARN" and e.episode_id not in done
    ]
    samples = sampled_passes(
        manifest, profile.review.pass_sample_rate, profile.review.min_pass_per_operator, rejected
    )
    pending = {op: [e for e in ids if e not in done] for op, ids in samples.items()}
    while any(pending.values()):
        for op in sorted(pending):
            if pending[op]:
                eid = pending[op].pop(0)
                queue.append(QueueItem(eid, "sample", ops.get(eid), "PASS"))
    return queue


def record_review(
    dataset: str | Path,
    episode_id: str,
    *,
    verdict: Literal["accept", "reject", "flag"],
    reason: str,
    reviewer: str,
    note: str | None = None,
    sign: SignFn | None = None,
) -> tuple[ReviewEntry, QCManifest]:
    """Append a decision to the review log and update the QC manifest's verdicts.

    ``flag`` (reason ``second_look``) asks for a second look: it is logged but changes no
    verdict, and the episode stays in the queue. ``sign`` signs the entry with the
    reviewer's key (``embodex.trust.record_signed_review`` passes it).

    Raises ``ReviewError`` for an unknown episode or reason code, a reason that does not go
    with the verdict, a bad reviewer id, or an accept of an automatic FAIL (those stand:
    change the profile instead); ``QCManifestError`` when QC has not run or its manifest is
    stale (the dataset changed since).

    Example::

        record_review("datasets/week01", "centre:0042", verdict="reject",
                      reason="operator_error", reviewer="rev-007", note="regrasps twice")
    """
    manifest = load_qc_manifest(dataset)
    stale = stale_reason(dataset, manifest)
    if stale is not None:
        # a decision is about what QC saw; on changed data it would judge the wrong thing
        raise QCManifestError(stale, hint="Run `run_qc(dataset)` first, then review.", path=dataset)
    known = {e.episode_id: e for e in manifest.episodes}
    ep = known.get(episode_id)
    if ep is None:
        raise ReviewError(
            f"episode {episode_id} is not in the QC manifest of {dataset}",
            hint="Pick one from `review_queue(dataset)` or `list_reviews(dataset)`.",
            path=dataset,
            episode_id=episode_id,
        )
    if verdict == "accept" and ep.auto_verdict == "FAIL":
        raise ReviewError(
            f"episode {episode_id} FAILs automatic QC ({', '.join(ep.rules)}); a review cannot "
            "accept it",
            hint="Fix or replace the episode, or change the threshold in the QC profile "
            "(the contract references its digest).",
            episode_id=episode_id,
        )
    entry = append_review(
        dataset,
        episode_id=episode_id,
        verdict=verdict,
        reason=reason,
        reviewer=reviewer,
        note=note,
        dataset_digest=manifest.dataset_digest,
        auto_verdict=ep.auto_verdict,
        expect=manifest.review_log,
        sign=sign,
    )
    return entry, apply_reviews(dataset)


def review_status(dataset: str | Path) -> dict[str, int]:
    """How many episodes are reviewed, accepted, rejected, and still waiting in the queue."""
    done = latest_reviews(dataset, expect=load_qc_manifest(dataset).review_log)
    return {
        "reviewed": len(done),
        "accepted": sum(1 for r in done.values() if r.verdict == "accept"),
        "rejected": sum(1 for r in done.values() if r.verdict == "reject"),
        "waiting": len(review_queue(dataset)),
    }


def list_reviews(dataset: str | Path) -> list[ReviewEntry]:
    """Every decision in the log, oldest first (later ones supersede earlier ones).

    Checked against the head the QC manifest recorded, when there is a QC manifest."""
    path = Path(dataset) / MANIFEST_FILE
    head = load_qc_manifest(dataset).review_log if path.exists() else None
    return read_log(dataset, expect=head)


@dataclass(frozen=True)
class ReviewNext:
    """The next episode to review (``embodex review next``): why it waits, its QC outcome,
    the page written for it, and how many wait. ``item`` is None when the queue is empty."""

    dataset: str
    item: QueueItem | None
    episode: EpisodeQC | None
    page: Path | None
    waiting: int
    stale: str | None

    @property
    def why_text(self) -> str:
        """``automatic WARN`` or ``sampled PASS``."""
        return "automatic WARN" if self.item and self.item.why == "warn" else "sampled PASS"

    def to_json(self) -> dict[str, Any]:
        if self.item is None or self.episode is None:
            return {"next": None, "waiting": 0, "stale": self.stale}
        return {
            "next": self.item.episode_id,
            "why": self.item.why,
            "operator_id": self.item.operator_id,
            "auto_verdict": self.item.auto_verdict,
            "page": str(self.page),
            "waiting": self.waiting,
            "findings": self.episode.findings,
            "stale": self.stale,
        }


def next_review(dataset: str | Path, pages: str | Path | None = None) -> ReviewNext:
    """The head of the review queue, with its review page written (frames, joint plots,
    findings) to ``pages`` (default ``DATASET/reviews/pages``).

    Raises ``QCManifestError`` when QC has not run. Example::

        nxt = next_review("datasets/week01")
        if nxt.item is not None:
            print(nxt.item.episode_id, nxt.page)
    """
    from ..reports.review_page import write_review_page

    queue = review_queue(dataset)
    stale = stale_reason(dataset)
    if not queue:
        return ReviewNext(str(dataset), None, None, None, 0, stale)
    item = queue[0]
    page = write_review_page(dataset, item.episode_id, pages or Path(dataset) / "reviews" / "pages")
    episode = describe_episode(dataset, item.episode_id)
    return ReviewNext(str(dataset), item, episode, page, len(queue), stale)


@dataclass(frozen=True)
class ReviewRecorded:
    """A decision just recorded, and the episode's final verdict after it."""

    episode_id: str
    entry: ReviewEntry
    verdict: str

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry.model_dump(mode="json"), "verdict": self.verdict}


def set_review(
    dataset: str | Path,
    episode_id: str,
    *,
    verdict: Literal["accept", "reject", "flag"],
    reason: str,
    reviewer: str,
    note: str | None = None,
    sign: SignFn | None = None,
) -> ReviewRecorded:
    """:func:`record_review` as a typed result (what ``embodex review set`` shows); a signed
    decision comes from ``embodex.trust.set_signed_review``."""
    entry, manifest = record_review(
        dataset,
        episode_id,
        verdict=verdict,
        reason=reason,
        reviewer=reviewer,
        note=note,
        sign=sign,
    )
    return ReviewRecorded(episode_id, entry, manifest.episode(episode_id).verdict)


@dataclass(frozen=True)
class Reviews:
    """Review decisions (the latest per episode, or every entry) and the queue's status."""

    entries: list[ReviewEntry]
    status: dict[str, int]
    stale: str | None

    def to_json(self) -> dict[str, Any]:
        reviews = [e.model_dump(mode="json") for e in self.entries]
        return {"status": self.status, "reviews": reviews, "stale": self.stale}


def reviews(dataset: str | Path, *, superseded: bool = False) -> Reviews:
    """The decisions of the review log (``superseded=True``: every entry, not only the latest
    per episode), how many are reviewed, accepted, rejected and waiting, and staleness."""
    entries = list_reviews(dataset)
    stale = stale_reason(dataset)
    if not superseded:
        latest = {e.episode_id: e for e in entries}
        entries = [e for e in entries if latest[e.episode_id] is e]
    return Reviews(entries, review_status(dataset), stale)
