"""Text helpers shared by the renderers: numbers, units, tables (``rich``), colour."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = [
    "STYLES",
    "colour_enabled",
    "fmt_bytes",
    "hours_header",
    "paint",
    "table",
]


def hours_header(unit: str) -> str:
    """The heading of a column of durations all in ``unit``: ``hours``, ``minutes``,
    ``seconds`` (so a column headed hours never holds seconds)."""
    return {"h": "hours", "min": "minutes", "s": "seconds"}[unit]


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


#: Colours of QC verdicts and delivery periods' states (``PeriodStatus``) on a terminal: good
#: green, open yellow, bad red; any other cell stays plain.
STYLES: dict[str, str] = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "red",
    "ok": "green",
    "on time": "green",
    "delivered": "green",
    "accepted": "green",
    "open": "yellow",
    "pending": "yellow",
    "short": "red",
    "late": "red",
    "missing": "red",
    "rejected": "red",
    "revoked": "red",
}
_VERDICT = re.compile(r"\b(PASS|WARN|FAIL)\b")
_ANSI = {"green": "32", "yellow": "33", "red": "31"}


def colour_enabled(stream: TextIO | None = None) -> bool:
    """Colour only for a person at a terminal: ``stream`` (default stdout) is a tty and
    ``NO_COLOR`` (https://no-color.org) is unset or empty."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(line: str) -> str:
    """``line`` with its PASS / WARN / FAIL verdicts in colour (ANSI); lines already coloured
    (a table) are left alone."""
    if "\x1b[" in line:
        return line
    return _VERDICT.sub(lambda m: f"\x1b[{_ANSI[STYLES[m.group(1)]]}m{m.group(1)}\x1b[0m", line)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned text table (``rich``), numbers right-aligned; on a colour terminal the
    verdict and state cells (:data:`STYLES`) are coloured."""
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    colour = colour_enabled()
    numeric = [all(_is_number(r[i]) for r in rows) and bool(rows) for i in range(len(headers))]
    grid = Table(
        # no frame, no column lines: a dashed rule under the header (plain ASCII)
        box=box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True),
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold" if colour else "",
        highlight=False,
    )
    for i, header in enumerate(headers):
        grid.add_column(str(header), justify="right" if numeric[i] else "left", no_wrap=True)
    for row in rows:
        cells = [str(c) for c in row]
        grid.add_row(*(Text(c, style=STYLES.get(c, "") if colour else "") for c in cells))
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=100_000,  # never wrap: a long path stays on its row
        force_terminal=colour,
        color_system="standard" if colour else None,
        no_color=not colour,
        highlight=False,
    )
    console.print(grid)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").split("\n"))


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
