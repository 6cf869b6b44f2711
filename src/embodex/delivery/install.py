"""Installing a checked batch into the buyer's store, and marking revoked episodes.

Accepted episodes are appended to ``DIR/dataset`` in one atomic commit (``copy_episodes``:
frames copied as stored, never re-encoded), then the dataset's QC manifest is rebuilt from
the per-batch QC results (:func:`embodex.qc.merge.combine_qc`, no rule runs again).
Rejected episodes go to ``DIR/quarantine/<n>/`` with the buyer's QC, to be looked at,
argued over, or deleted. Every step is idempotent: a pull killed half-way redoes only what
is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ..errors import DeliveryError, SchemaError
from ..format import DatasetWriter, copy_episodes, open_dataset
from ..qc import QCManifest, load_qc_manifest
from ..qc.manifest import ReviewRecord
from ..qc.merge import combine_qc
from .buyer_store import BuyerStore

__all__ = ["REVOKED_KEY", "install_batch", "mark_revoked"]

#: ``extra`` key set on the episodes of a revoked batch in the buyer's dataset.
REVOKED_KEY = "embodex_revoked"


def _has_dataset(path: Path) -> bool:
    return (path / "embodex.json").exists()


def install_batch(
    store: BuyerStore,
    number: int,
    batch_dataset: Path,
    batch_qc: QCManifest,
    accepted: Sequence[str],
    rejected: Sequence[str],
) -> None:
    """Put ``accepted`` into the store's dataset and ``rejected`` into quarantine.

    Raises :class:`DeliveryError` when the batch's frame schema differs from the dataset's
    (after a schema change the batch needs a new store).
    """
    local = store.dataset
    present = set(open_dataset(local).episode_ids) if _has_dataset(local) else set()
    todo = [e for e in accepted if e not in present]
    if todo:
        try:
            copy_episodes(batch_dataset, local, todo, append=_has_dataset(local))
        except SchemaError as exc:
            raise DeliveryError(
                f"batch {number} cannot join {local}: {exc.message}",
                hint="The centre changed the frame schema (see its schema_change notice): "
                "pull from this batch on into a new directory.",
            ) from None
    if accepted or _has_dataset(local):
        parts: list[tuple[str | Path, QCManifest]] = []
        if _has_qc(local):
            parts.append((local, load_qc_manifest(local)))
        parts.append((batch_dataset, batch_qc))
        combine_qc(local, parts)
    quarantine = store.quarantine(number)
    if rejected and not _has_dataset(quarantine):
        copy_episodes(batch_dataset, quarantine, rejected)
        combine_qc(quarantine, [(batch_dataset, batch_qc)])


def _has_qc(path: Path) -> bool:
    return (path / "qc" / "manifest.json").exists()


def mark_revoked(
    store: BuyerStore,
    batch: int,
    episode_ids: Sequence[str],
    *,
    notice: int,
    reason: str,
    reviewer: str,
    at: datetime,
) -> list[str]:
    """Mark the revoked episodes present in the store's dataset; return the ids marked.

    Each gets ``extra.embodex_revoked = {batch, notice, reason}`` (through
    ``DatasetWriter.update_episodes``, one atomic commit) and, in the dataset's QC manifest,
    a reject review by the buyer with reason ``revoked`` — so ``load(..., qc="pass")``
    leaves them out from now on.
    """
    local = store.dataset
    if not _has_dataset(local):
        return []
    present = set(open_dataset(local).episode_ids)
    ids = [e for e in episode_ids if e in present]
    if not ids:
        return []
    mark = {"batch": batch, "notice": notice, "reason": reason}
    with DatasetWriter(local, append=True, wait_for_lock=True) as writer:
        writer.update_episodes({eid: {"extra": {REVOKED_KEY: mark}} for eid in ids})
    if _has_qc(local):
        review = ReviewRecord(
            verdict="reject",
            reason="revoked",
            note=f"batch {batch} revoked by the centre (notice {notice}): {reason}",
            reviewer=reviewer,
            at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        old = load_qc_manifest(local)
        reviews = {e.episode_id: e.review for e in old.episodes if e.review is not None}
        reviews.update({eid: review for eid in ids})
        combine_qc(local, [(local, old)], reviews=reviews)
    return ids
