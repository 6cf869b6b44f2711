"""Text helpers shared by the renderers: numbers, units, tables, a running count."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import click

from embodex.units import count, duration

__all__ = ["Counter", "fmt_bytes", "fmt_hours", "hours_header", "plural", "table"]


def fmt_hours(hours: Any, unit: str | None = None) -> str:
    """A duration given in hours, in the unit the user chose (``EMBODEX_UNITS``) or, in
    ``auto``, the one it reads best in (``embodex.units.duration``; the unit is always
    printed)."""
    return duration(hours, unit)


def hours_header(unit: str) -> str:
    """The heading of a column of durations all in ``unit``: ``hours``, ``minutes``,
    ``seconds`` (so a column headed hours never holds seconds)."""
    return {"h": "hours", "min": "minutes", "s": "seconds"}[unit]


def plural(n: int, word: str) -> str:
    """``1 episode``, ``2,542 frames``: the count with the noun agreeing
    (``embodex.units.count``)."""
    return count(n, word)


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
