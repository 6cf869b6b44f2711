"""Progress for people: a ``rich`` bar with the count, rate and time left on a terminal, one
summary line otherwise (stderr not a terminal: logs, CI, cron), nothing with ``--json``.

Work counted in items (episodes, files) shows ``N/M`` and ``items/s``; transfers count bytes
and show sizes and a transfer rate. ``rich`` is imported only when a bar is drawn, so no
command pays for it at start-up.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Literal

import click

from .render import fmt_bytes

__all__ = ["Display", "Mode", "Unit", "clock", "display_mode"]

Mode = Literal["bar", "summary", "off"]
Unit = Literal["items", "bytes"]


def display_mode(hidden: bool) -> Mode:
    """``off`` when ``hidden`` (--json: the result holds the facts), ``bar`` when stderr is a
    terminal, else ``summary``."""
    if hidden:
        return "off"
    return "bar" if sys.stderr.isatty() else "summary"


class Display:
    """One piece of work: ``set_total(n)`` once its size is known, ``advance(n)``, ``close()``.

    Safe to advance from worker threads (uploads run in parallel)."""

    def __init__(self, label: str, total: int | None, *, unit: Unit, mode: Mode) -> None:
        self.label, self.unit, self.mode = label, unit, mode
        self.total = total
        self.done = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._progress: Any = None
        self._task: Any = None
        if mode == "bar":
            self._progress, self._task = _start_bar(label, total, unit)

    def set_total(self, total: int) -> None:
        with self._lock:
            if self.total is None:
                self.total = total
                if self._progress is not None:
                    self._progress.update(self._task, total=total)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self, *, completed: bool = True) -> None:
        """Stop the bar, or print the summary line — not for work that failed half-way
        (its error is the one line the user sees)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        elif self.mode == "summary" and completed and (self.done or self.total):
            click.echo(self.summary(), err=True)
        self.mode = "off"

    def summary(self) -> str:
        """``packaging: 200/200 in 3.2 s (62.5/s)``; ``uploading 9 files: 1.2 MiB in 0.3 s
        (4.0 MiB/s)``."""
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.done / elapsed
        if self.unit == "bytes":
            amount, speed = fmt_bytes(self.done), f"{fmt_bytes(rate)}/s"
        else:
            amount = f"{self.done:,}" + (f"/{self.total:,}" if self.total else " done")
            speed = f"{rate:,.1f}/s"
        return f"{self.label}: {amount} in {_seconds(elapsed)} ({speed})"


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    minutes, seconds = divmod(int(s), 60)
    return (
        f"{minutes} min {seconds:02d} s"
        if minutes < 60
        else f"{minutes // 60} h {minutes % 60:02d} min"
    )


def _start_bar(label: str, total: int | None, unit: Unit) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TransferSpeedColumn,
    )
    from rich.text import Text

    class Count(ProgressColumn):
        def render(self, task: Any) -> Text:
            done = int(task.completed)
            total = f"/{int(task.total):,}" if task.total is not None else " done"
            return Text(f"{done:,}{total}")

    class Rate(ProgressColumn):
        """Items per second since the start (steadier than rich's recent-window speed when
        items finish in bursts)."""

        def render(self, task: Any) -> Text:
            elapsed = task.elapsed or 0.0
            return Text(f"{task.completed / elapsed:,.1f}/s" if elapsed >= 0.5 else "")

    class Time(ProgressColumn):
        """Time left while it is known, else time spent."""

        def render(self, task: Any) -> Text:
            left = task.time_remaining
            if task.total is not None and left is not None and not task.finished:
                return Text(f"ETA {clock(left)}")
            return Text(clock(task.finished_time or task.elapsed or 0))

    amount: list[ProgressColumn] = (
        [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [Count(), Rate()]
    )
    # stderr was found to be a terminal (display_mode): draw on it even where rich would
    # guess otherwise; rich itself drops the colour when NO_COLOR is set
    console = Console(file=sys.stderr, force_terminal=True)
    progress = Progress(
        TextColumn("{task.description}:"),
        BarColumn(),
        *amount,
        Time(),
        console=console,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    progress.start()
    return progress, progress.add_task(label, total=total)


def clock(seconds: float) -> str:
    """``0:00:09``, ``1:15:03``: the bar's time left or spent, and ``progress_text``'s ETA."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
