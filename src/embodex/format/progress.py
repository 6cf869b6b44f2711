"""Progress of a long job over episodes (packaging, QC), for a CLI or a notebook to show.

The SDK calls ``on_progress(Progress)`` once per episode finished (or failed), in the order
the results are committed; on a Ray cluster ``where`` names the node and worker process
that did the work, so a failure can be traced to a machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Progress", "ProgressCallback", "ProgressTracker"]


@dataclass(frozen=True)
class Progress:
    """Where a job stands after one more episode.

    ``done`` of ``total`` episodes finished (failed and reused ones included);
    ``episode``: the one just finished; ``where``: the node/worker that did it ("" in this
    process); ``failed``: its one-line reason when it was bad (skipped or failing the job);
    ``reused``: taken from an earlier run's staging area instead of being done again."""

    done: int
    total: int
    elapsed_s: float
    episode: str
    where: str = ""
    failed: str | None = None
    reused: bool = False

    @property
    def per_s(self) -> float:
        """Episodes per second so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before the first episode)."""
        rate = self.per_s
        return (self.total - self.done) / rate if rate > 0 else None


ProgressCallback = Callable[[Progress], None]


class ProgressTracker:
    """Counts finished episodes and calls ``callback`` (if any) with a :class:`Progress`."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total = total
        self.callback = callback
        self.done = 0
        self._t0 = time.perf_counter()

    def tick(
        self, episode: str, where: str = "", failed: str | None = None, reused: bool = False
    ) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(
                Progress(
                    done=self.done,
                    total=self.total,
                    elapsed_s=time.perf_counter() - self._t0,
                    episode=episode,
                    where=where,
                    failed=failed,
                    reused=reused,
                )
            )
