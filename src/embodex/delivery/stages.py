"""The stages of a pull and of a publish, and the only transitions between them.

Both are resumable state machines whose state is saved before every step that leaves a trace
outside it, so a run killed at any moment resumes where it stopped:

Pull, per batch (``BatchProgress.stage`` in ``DIR/.pull/state.json``)::

    downloading ──► decided ──► installed ──► (done: state.current cleared)
    files fetched     receipt signed    the new generation     receipt posted, the
    and checked       and stored        switched in            signed manifest kept

A resumed pull in ``downloading`` fetches what is missing and decides again; in ``decided``
it installs from the stored receipt; in ``installed`` it only posts the receipt.

Publish, per batch (``PendingBatch.stage`` in the centre's outbox ``pending.json``)::

    staged ──► uploading ──► (done: pending.json cleared once the head names the batch)
    dataset + signed QC     objects stored; the manifest and head go last

A resumed publish in ``staged`` rebuilds the staged files if they are gone; in ``uploading``
it lists the store and sends what the store lacks, then the manifest and the head.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

__all__ = ["PUBLISH", "PULL", "Machine", "PublishStage", "PullStage"]

PullStage = Literal["downloading", "decided", "installed"]
PublishStage = Literal["staged", "uploading"]

S = TypeVar("S", bound=str)


class Machine(Generic[S]):
    """A named table of allowed transitions; :meth:`step` refuses any other."""

    def __init__(self, name: str, transitions: dict[S, tuple[S, ...]]) -> None:
        self.name = name
        self.transitions = transitions

    def step(self, current: S, to: S) -> S:
        """``to`` when the table allows ``current → to``; a bug in the caller otherwise."""
        if to not in self.transitions.get(current, ()):
            raise RuntimeError(f"{self.name}: no transition from {current!r} to {to!r}")
        return to


PULL: Machine[PullStage] = Machine(
    "pull", {"downloading": ("decided",), "decided": ("installed",), "installed": ()}
)
PUBLISH: Machine[PublishStage] = Machine("publish", {"staged": ("uploading",), "uploading": ()})
