"""Output helpers shared by commands: JSON for scripts, tables and progress for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

__all__ = ["echo_json", "fmt_bytes", "fmt_hours", "progress", "table"]


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def fmt_hours(hours: float) -> str:
    return f"{hours:,.2f} h" if hours >= 0.1 else f"{hours * 60:,.1f} min"


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
    s = str(v).replace(",", "").replace(" h", "").replace(" min", "").replace("%", "")
    try:
        float(s)
    except ValueError:
        return False
    return True


class _Progress:
    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)


@contextmanager
def progress(label: str, length: int | None, *, enabled: bool = True) -> Iterator[_Progress]:
    """A progress bar on stderr (hidden with --json or when stderr is not a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield _Progress(None)
        return
    bar: Any
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield _Progress(bar)
