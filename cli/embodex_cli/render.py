"""Text helpers shared by the renderers: numbers, units, tables, a running count."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["Counter", "fmt_bytes", "fmt_hours", "plural", "table"]


def fmt_hours(hours: float) -> str:
    """A duration given in hours, in the unit people read best: h, min or s (the unit is
    always printed, so columns of mixed sizes stay unambiguous)."""
    if hours >= 0.1:
        return f"{hours:,.2f} h"
    if hours * 60 >= 1:
        return f"{hours * 60:,.1f} min"
    return f"{hours * 3600:,.1f} s"


def plural(n: int, word: str) -> str:
    """``1 episode``, ``2 episodes``: the count with the noun agreeing."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in rows) and bool(rows) for i in range(len(headers))]
    lines = []
    for j, row in enumerate(cells):
        parts = [
            c.rjust(widths[i]) if numeric[i] and j > 0 else c.ljust(widths[i])
            for i, c in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(v: Any) -> bool:
    if isinstance(v, int | float):
        return True
    s = str(v).replace(",", "")
    for unit in (" h", " min", " s", "%"):
        s = s.removesuffix(unit)
    try:
        float(s)
    except ValueError:
        return False
    return True


class Counter:
    """For work whose size is not known up front: ``label: N done (R/s)`` on one line."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._done = 0
        self._start = time.monotonic()
        self._shown = 0.0

    def update(self, n: int = 1) -> None:
        self._done += n
        now = time.monotonic()
        if now - self._shown >= 0.1:  # redraw at most 10 times a second
            self._shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self._done / max(now - self._start, 1e-9)
        click.echo(f"\r{self._label}: {self._done:,} done ({rate:,.1f}/s)", err=True, nl=False)

    def finish(self) -> None:
        self._draw(time.monotonic())
        click.echo("", err=True)
