"""Keeping the centre's own records in step with its channel, whatever a crash interrupted.

A publish stores the batch (files, manifest, then the head naming it) and only then records
it: a copy of the manifest in the outbox (``published/N.json``) and a ``batch-published``
entry in the centre's ledger. A notice is stored, then recorded (``notice-sent``). A process
killed between the two leaves the channel ahead of the records. :func:`reconcile`, run under
the outbox lock at the start of every publish and notice, makes up what is missing:

* a pending batch the channel's head already names (same staged dataset): its manifest is
  copied into the outbox and the pending record cleared;
* every batch the outbox holds a copy of gets its ``qc-signed`` (the centre's QC manifest
  of the batch) and ``batch-published`` entries;
* every notice the outbox kept (written before the notice was stored) that the channel
  holds, byte for byte, gets its ``notice-sent`` entry.

Entries already in the ledger are not repeated (:meth:`Ledger.append_missing`).
"""

from __future__ import annotations

from typing import Any

from ..errors import ObjectNotFoundError
from ..trust import Ledger, Signer, ledger_path
from ..units import count, duration
from .channel import Channel
from .documents import ChannelHead, notice_key
from .outbox import Outbox, envelope_digest, payload_of

__all__ = ["notice_note", "published_events", "reconcile"]


def published_events(
    channel_id: str, manifest: dict[str, Any], digest: str
) -> list[tuple[str, str, str | None]]:
    """The ledger events of a published batch (its manifest as JSON, and its digest): the
    QC manifest the centre signed for it (``qc-signed``), then ``batch-published``."""
    n = manifest.get("number")
    out: list[tuple[str, str, str | None]] = []
    qc = manifest.get("qc_manifest_digest")
    if isinstance(qc, str) and qc:
        out.append(("qc-signed", qc, f"{channel_id} batch {n}: the centre's QC of the batch"))
    # the note is a signed record: its unit is picked from the figure (``auto``), never from
    # the reader's EMBODEX_UNITS, so the same batch always reads the same
    episodes = count(len(manifest.get("episodes", [])), "episode")
    hours = manifest.get("hours")
    held = duration(hours, "auto") if hours is not None else "? h"
    out.append(("batch-published", digest, f"{channel_id} batch {n}: {episodes}, {held}"))
    return out


def notice_note(type: str, reason: str, batch: int | None, period: int | None) -> str:
    """The note of a ``notice-sent`` ledger entry."""
    what = f"batch {batch}" if batch else (f"period {period}" if period else "")
    return f"{type} {what}: {reason.strip()}"[:500]


def reconcile(
    ch: Channel, outbox: Outbox, signer: Signer, head: ChannelHead | None, *, record: bool
) -> list[str]:
    """Record what this machine put on the channel and a crash kept from being recorded
    (see the module docstring). Returns what it did, for the user."""
    done: list[str] = []
    if head is None:
        return done
    pending = outbox.pending()
    if (
        pending is not None
        and pending.url == ch.url
        and pending.channel_id == head.channel_id
        and pending.number <= head.batch
    ):
        manifest, _, data = ch.read_manifest(pending.number, head.channel_id)
        if manifest.dataset_digest == pending.dataset_digest:
            outbox.record_published(pending.number, data)
            outbox.clear_pending()
            done.append(
                f"recorded batch {pending.number}, which an interrupted publish stored but "
                "did not record"
            )
    if not record:
        return done
    ledger = Ledger(ledger_path(signer.name))
    have = ledger.events()
    events: list[tuple[str, str, str | None]] = []
    for number, data in outbox.published().items():
        digest = envelope_digest(data)
        if number <= head.batch and digest:
            doc = payload_of(data)
            events += published_events(str(doc.get("channel_id")), doc, digest)
    for number, data in outbox.notices().items():
        digest = envelope_digest(data)
        if not digest or number > head.notice or ("notice-sent", digest) in have:
            continue
        try:
            stored = ch.store.get_document(notice_key(number)) == data
        except ObjectNotFoundError:
            stored = False
        if stored:
            doc = payload_of(data)
            note = notice_note(
                str(doc.get("type")), str(doc.get("reason", "")), doc.get("batch"),
                doc.get("period"),
            )  # fmt: skip
            events.append(("notice-sent", digest, note))
    added = ledger.append_missing(signer, events)
    if added:
        done.append(f"recorded {len(added)} ledger entr{'y' if len(added) == 1 else 'ies'} "
                    "an interrupted run left out")  # fmt: skip
    return done
