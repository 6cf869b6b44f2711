"""Installing a checked batch into the buyer's store, and marking revoked episodes.

Both change ``DIR/dataset`` through a new generation (:mod:`.generations`): accepted
episodes are appended (``copy_episodes``: frames copied as stored, never re-encoded) and
the dataset's QC manifest is rebuilt from the per-batch QC results
(:func:`embodex.qc.merge.combine_qc`, no rule runs again) in the new generation, and one
rename makes both current together — the dataset and its QC manifest never disagree, so
``embodex.train.load`` works at every moment, also after a pull killed half-way. Rejected
episodes go to ``DIR/quarantine/<n>/`` (built aside, then renamed into place) with the
buyer's QC, to be looked at, argued over, or deleted. Every step is idempotent: a pull
killed half-way redoes only what is missing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ..errors import DeliveryError, SchemaError
from ..format import DatasetWriter, copy_episodes, open_dataset
from ..format.revocation import REVOKED_KEY
from ..fsutil import fsync_dir
from ..qc import QCManifest, load_qc_manifest
from ..qc.manifest import ReviewRecord
from ..qc.merge import combine_qc
from .buyer_store import BuyerStore
from .generations import current_generation, new_generation

__all__ = ["REVOKED_KEY", "install_batch", "mark_revoked"]


def _has_dataset(path: Path) -> bool:
    return (path / "embodex.json").exists()


def _has_qc(path: Path) -> bool:
    return (path / "qc" / "manifest.json").exists()


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
    current = current_generation(store.dataset)
    present = set(open_dataset(current).episode_ids) if current is not None else set()
    todo = [e for e in accepted if e not in present]
    if todo:
        with new_generation(store.dataset) as gen:
            had = _has_dataset(gen)
            try:
                copy_episodes(batch_dataset, gen, todo, append=had)
            except SchemaError as exc:
                raise DeliveryError(
                    f"batch {number} cannot join {store.dataset}: {exc.message}",
                    hint="The centre changed the frame schema (see its schema_change notice): "
                    "pull from this batch on into a new directory.",
                    batch=number,
                ) from None
            parts: list[tuple[str | Path, QCManifest]] = []
            if had and _has_qc(gen):
                parts.append((gen, load_qc_manifest(gen)))
            parts.append((batch_dataset, batch_qc))
            combine_qc(gen, parts)
    if rejected:
        _quarantine(store.quarantine(number), batch_dataset, batch_qc, rejected)


def _quarantine(
    dest: Path, batch_dataset: Path, batch_qc: QCManifest, rejected: Sequence[str]
) -> None:
    """Build the quarantine dataset aside and rename it into place (complete or absent)."""
    if _has_dataset(dest):
        return
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    copy_episodes(batch_dataset, work, rejected)
    combine_qc(work, [(batch_dataset, batch_qc)])
    shutil.rmtree(dest, ignore_errors=True)
    work.rename(dest)
    fsync_dir(dest.parent)


def _marked(dataset: Path, ids: Sequence[str], mark: dict[str, object]) -> bool:
    """Whether every one of ``ids`` already carries ``mark`` (a redone step is a no-op)."""
    table = open_dataset(dataset).episodes.select(["episode_id", "extra"]).to_pylist()
    extra = {r["episode_id"]: json.loads(r["extra"] or "{}") for r in table}
    return all(extra.get(eid, {}).get(REVOKED_KEY) == mark for eid in ids)


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
    ``DatasetWriter.update_episodes``) and, in the dataset's QC manifest, a reject review by
    the buyer with reason ``revoked`` — both in one new generation, so
    ``load(..., qc="pass")`` leaves them out from the switch on.
    """
    current = current_generation(store.dataset)
    if current is None:
        return []
    present = set(open_dataset(current).episode_ids)
    ids = [e for e in episode_ids if e in present]
    if not ids:
        return []
    mark: dict[str, object] = {"batch": batch, "notice": notice, "reason": reason}
    if _marked(current, ids, mark):
        return ids
    with new_generation(store.dataset) as gen:
        with DatasetWriter(gen, append=True) as writer:
            writer.update_episodes({eid: {"extra": {REVOKED_KEY: mark}} for eid in ids})
        if _has_qc(gen):
            review = ReviewRecord(
                verdict="reject",
                reason="revoked",
                note=f"revoked by the centre (batch {batch}, notice {notice}): {reason}",
                reviewer=reviewer,
                at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
            old = load_qc_manifest(gen)
            reviews = {e.episode_id: e.review for e in old.episodes if e.review is not None}
            reviews.update({eid: review for eid in ids})
            combine_qc(gen, [(gen, old)], reviews=reviews)
    return ids
