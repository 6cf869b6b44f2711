"""The centre's side of a channel: a lock, the batch being published, copies of what was.

``$EMBODEX_HOME/outbox/<sha256(url)[:16]>/`` holds

* ``lock`` — held by every publish, notice and refresh to this channel from this machine;
* ``pending.json`` — the batch being published (its number, episodes and which files are
  already stored), so a re-run after a crash finishes it instead of starting over;
* ``<n>/`` — the staged batch (its dataset with the centre's QC, the signed QC manifest);
* ``published/<n>.json`` — the manifest envelope of every batch published, the local record
  (named by the ledger's ``batch-published`` entries) of which episodes were delivered;
* ``notices/<n>.json`` — the envelope of every notice sent (kept before it is stored, so a
  crash before its ledger entry is made up for by the next run).

The episodes delivered under one contract are those of every outbox on this machine whose
published (or pending) batches name that contract (:func:`delivered_under`): publishing the
same dataset to a second channel of the contract sends only what the first did not carry.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import outbox_dir
from ..errors import DeliveryError
from ..fsutil import FileLock, atomic_write_bytes
from ..parsing import parse_document
from .documents import CHANNEL_ID_PATTERN
from .stages import PUBLISH, PublishStage

__all__ = ["Outbox", "PendingBatch", "delivered_under", "envelope_digest", "payload_of"]


class PendingBatch(BaseModel):
    """A batch whose publication started and has not finished."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["embodex.pending-batch"] = "embodex.pending-batch"
    url: str
    channel_id: str = Field(pattern=CHANNEL_ID_PATTERN)
    contract_id: str | None = None
    number: int = Field(ge=1)
    episode_ids: list[str]
    dataset_digest: str | None = None
    qc_manifest_digest: str | None = None
    period: int | None = Field(default=None, ge=1, description="As asked when it was staged.")
    replacement_for: int | None = Field(
        default=None, ge=1, description="As asked when it was staged."
    )
    uploaded: list[str] = Field(default_factory=list, description="Keys already stored.")
    stage: PublishStage = Field(default="staged", description="See embodex.delivery.stages.")

    def advance(self, to: PublishStage) -> None:
        """Move to the next stage (:data:`.stages.PUBLISH`); the caller saves the record."""
        self.stage = PUBLISH.step(self.stage, to)


class Outbox:
    """The outbox folder of one channel URL (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.root = outbox_dir() / hashlib.sha256(url.encode()).hexdigest()[:16]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the channel's publish lock; raise :class:`DeliveryError` when taken."""
        lock = FileLock(self.root / "lock")
        if not lock.acquire(blocking=False):
            raise DeliveryError(
                f"another publish, notice or refresh for {self.url} is running on this machine",
                hint="Wait for it to finish, then run again.",
                url=self.url,
            )
        try:
            atomic_write_bytes(self.root / "url", self.url.encode())
            yield
        finally:
            lock.release()

    # -- the pending batch -------------------------------------------------------------------

    @property
    def _pending_path(self) -> Path:
        return self.root / "pending.json"

    def pending(self) -> PendingBatch | None:
        try:
            return parse_document(self._pending_path, PendingBatch, DeliveryError)
        except FileNotFoundError:
            return None
        except DeliveryError:
            # A damaged record is dropped: the staged files are rebuilt and any objects it
            # stored are cleaned from the channel before the batch number is used again.
            return None

    def save_pending(self, pending: PendingBatch) -> None:
        atomic_write_bytes(self._pending_path, pending.model_dump_json(indent=2).encode())

    def clear_pending(self) -> None:
        pending = self.pending()
        self._pending_path.unlink(missing_ok=True)
        if pending is not None:
            shutil.rmtree(self.stage_dir(pending.number), ignore_errors=True)

    def stage_dir(self, number: int) -> Path:
        return self.root / f"{number:06d}"

    # -- what was published ------------------------------------------------------------------

    def record_published(self, number: int, manifest_envelope: bytes) -> None:
        atomic_write_bytes(self.root / "published" / f"{number:06d}.json", manifest_envelope)

    def published(self) -> dict[int, bytes]:
        """Number -> manifest envelope of every batch this machine published here."""
        return _numbered(self.root / "published")

    def record_notice(self, number: int, notice_envelope: bytes) -> None:
        atomic_write_bytes(self.root / "notices" / f"{number:06d}.json", notice_envelope)

    def notices(self) -> dict[int, bytes]:
        """Number -> envelope of every notice this machine sent (or was about to) here."""
        return _numbered(self.root / "notices")

    def check_ahead(self, channel_batch: int) -> None:
        """Refuse when this machine published batches the channel no longer shows."""
        mine = max(self.published(), default=0)
        if mine > channel_batch:
            raise DeliveryError(
                f"you published batch {mine} to {self.url}, but its head names batch "
                f"{channel_batch}: the channel was rolled back or replaced",
                hint=f"Restore the channel (your copies are in {self.root / 'published'}) "
                "before publishing again.",
                url=self.url,
            )


def _numbered(folder: Path) -> dict[int, bytes]:
    if not folder.is_dir():
        return {}
    out = {}
    for p in sorted(folder.glob("*.json")):
        try:
            out[int(p.stem)] = p.read_bytes()
        except ValueError:
            continue
    return out


def payload_of(envelope: bytes) -> dict[str, Any]:
    """The payload of an envelope this machine wrote itself, decoded without verification
    (outbox copies are the centre's own records, like its ledger). ``{}`` when unreadable."""
    try:
        doc = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    except (ValueError, KeyError, TypeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def envelope_digest(envelope: bytes) -> str:
    """``sha256:`` of an envelope's payload bytes — the document's digest, since payloads are
    canonical JSON (signing.md §2). ``""`` when unreadable."""
    try:
        payload = base64.b64decode(json.loads(envelope)["payload"])
    except (ValueError, KeyError, TypeError):
        return ""
    return "sha256:" + hashlib.sha256(payload).hexdigest() if payload else ""


def delivered_under(contract_id: str, *, besides: str) -> dict[str, tuple[str, int]]:
    """Episode id -> (channel URL, batch) of every episode published, or reserved by a
    pending batch, under ``contract_id`` from this machine to channels other than
    ``besides`` (their outboxes under ``$EMBODEX_HOME/outbox``)."""
    out: dict[str, tuple[str, int]] = {}
    root = outbox_dir()
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        try:
            url = (folder / "url").read_text(encoding="utf-8")
        except OSError:
            continue
        if url == besides:
            continue
        box = Outbox(url)
        for number, data in box.published().items():
            doc = payload_of(data)
            if doc.get("contract_id") == contract_id:
                for ep in doc.get("episodes", []):
                    out.setdefault(str(ep.get("episode_id")), (url, number))
        pending = box.pending()
        if pending is not None and pending.contract_id == contract_id:
            for eid in pending.episode_ids:
                out.setdefault(eid, (url, pending.number))
    return out
