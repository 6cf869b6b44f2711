"""The buyer's local store: the dataset training reads, quarantine, receipts, pull state.

``DIR`` (``embodex pull --into DIR``) holds::

    DIR/dataset               the accepted episodes of every batch: an embodex dataset with
                              the buyer's QC manifest (what embodex.train.load reads); a
                              link to the current generation
    DIR/generations/000007/   the dataset's generations: each change builds a new one
    DIR/quarantine/000003/    the rejected episodes of batch 3 (a dataset, with the buyer's QC)
    DIR/receipts/000003.json  the signed receipt of batch 3 (the buyer's copy)
    DIR/receipts/deletions/000002.json  the buyer's signed deletion receipt for notice 2
    DIR/notices/000001.json   the verified notices of the channel
    DIR/.pull/state.json      what the pulls saw and did (rollback checks, resume points)
    DIR/.pull/lock            held by a running pull
    DIR/.pull/incoming/000004/  batch 4 while it downloads and is checked

Every file is written atomically; the dataset only ever changes by switching the link to a
complete new generation (:mod:`.generations`), so it is loadable — episodes and QC manifest
in agreement — at every moment, also while a pull runs or after one was killed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import DeliveryError, PullLockedError
from ..fsutil import FileLock, atomic_write_bytes
from ..parsing import parse_document
from .stages import PULL, PullStage

__all__ = ["BatchProgress", "BatchSeen", "BuyerStore", "PullState"]


class BatchProgress(BaseModel):
    """The batch a pull is working on, and how far it got."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1)
    manifest_digest: str
    stage: PullStage = "downloading"
    receipt_digest: str | None = None
    receipt_stored: bool = False

    def advance(self, to: PullStage) -> None:
        """Move to the next stage (:data:`.stages.PULL`); the caller saves the state."""
        self.stage = PULL.step(self.stage, to)


class BatchSeen(BaseModel):
    """When the buyer first saw a batch, and what shows it was not there before."""

    model_config = ConfigDict(extra="forbid")

    first_seen: datetime = Field(description="This buyer's clock at the pull that first saw it.")
    head_before: datetime | None = Field(
        default=None,
        description="issued_at of the newest head seen before, which did not name the batch.",
    )
    pulled_before: datetime | None = Field(
        default=None,
        description="This buyer's clock at the last pull before, whose head did not name it.",
    )


class PullState(BaseModel):
    """``.pull/state.json``: the newest channel state seen and the pull's resume point."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["embodex.pull-state"] = "embodex.pull-state"
    channel_id: str | None = None
    contract_id: str | None = None
    head_sequence: int = 0
    head_digest: str | None = None
    head_batch: int = Field(default=0, description="Highest batch number a head named.")
    head_notice: int = 0
    head_issued_at: datetime | None = None
    checked_at: datetime | None = Field(
        default=None, description="This buyer's clock when the last pull checked the head."
    )
    last_batch: int = Field(default=0, description="Batches 1..last_batch are done.")
    last_manifest_digest: str | None = None
    last_notice: int = 0
    last_notice_digest: str | None = None
    current: BatchProgress | None = None
    revoked: dict[int, int] = Field(
        default_factory=dict, description="Batch -> notice number that revoked it."
    )
    marked: list[int] = Field(
        default_factory=list,
        description="Before per-episode revocations: revoked batches marked in the local "
        "dataset (carried over into marked_notices by the next pull, then empty).",
    )
    revocations: dict[int, list[int]] = Field(
        default_factory=dict,
        description="Batch -> every revocation notice naming it (whole or per episode).",
    )
    marked_notices: list[int] = Field(
        default_factory=list,
        description="Revocation notices applied to the local dataset (deletion receipt kept).",
    )
    seen: dict[int, BatchSeen] = Field(
        default_factory=dict, description="Batch -> when it was first seen (deadlines)."
    )
    region: str | None = Field(
        default=None,
        description="The region this store processes data in, fixed by the first pull "
        "(specs/privacy.md §4e): a later pull declaring another is refused.",
    )
    receipts_unposted: list[int] = Field(
        default_factory=list,
        description="Batches done whose receipt the channel refused to take (this account may "
        "only read it): kept in DIR/receipts/, posted by a later pull or `embodex receipt post`.",
    )


class BuyerStore:
    """The folders of a buyer's store (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.dataset = self.root / "dataset"
        self.control = self.root / ".pull"
        self.state_path = self.control / "state.json"

    def quarantine(self, number: int) -> Path:
        return self.root / "quarantine" / f"{number:06d}"

    def receipt(self, number: int) -> Path:
        return self.root / "receipts" / f"{number:06d}.json"

    def notice(self, number: int) -> Path:
        return self.root / "notices" / f"{number:06d}.json"

    def deletion(self, notice: int) -> Path:
        """The buyer's signed deletion receipt for revocation notice ``notice``."""
        return self.root / "receipts" / "deletions" / f"{notice:06d}.json"

    def manifest_copy(self, number: int) -> Path:
        """The signed manifest of batch ``number`` as this store installed it: the buyer's
        evidence should the channel later serve another one (a forked history)."""
        return self.control / "manifests" / f"{number:06d}.json"

    def evidence(self, name: str) -> Path:
        """Where a refusal keeps what it saw (both versions of a rewritten document)."""
        return self.control / "evidence" / name

    def incoming(self, number: int) -> Path:
        return self.control / "incoming" / f"{number:06d}"

    @contextlib.contextmanager
    def locked(self, *, wait: bool = False) -> Iterator[None]:
        """Hold the store's pull lock; :class:`PullLockedError` when another pull has it."""
        lock = FileLock(self.control / "lock")
        if not lock.acquire(blocking=wait):
            raise PullLockedError(self.root)
        try:
            yield
        finally:
            lock.release()

    def load_state(self) -> PullState:
        try:
            return parse_document(
                self.state_path, PullState, DeliveryError, name=f"pull state {self.state_path}",
                follow_symlinks=False,
                hint="Restore it from a backup; without it rollbacks of the channel cannot be "
                "detected.",
            )  # fmt: skip
        except FileNotFoundError:
            return PullState()

    def save_state(self, state: PullState) -> None:
        atomic_write_bytes(self.state_path, state.model_dump_json(indent=2).encode())
